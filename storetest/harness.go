package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

// Harness is what a store's own test gives the suites: compositions of the
// store over one storage (a directory, a bucket, a map in memory) and a
// look at what that storage holds. Each check makes a harness of its own
// with a NewHarness function and closes it at the end, so the storage a
// harness starts with is empty.
type Harness interface {
	// MakeComposer returns a composition of the store under test over the
	// harness's storage, with a Locker. Each call opens the store anew,
	// as a restarted server would, over the same storage: uploads made
	// through an earlier composition are found through the new one, and
	// the suite stops using the earlier one. A store whose storage is its
	// own memory returns a composition of the same store value.
	MakeComposer(ctx context.Context) (*tus.StoreComposer, error)
	// Contents returns the name of every item the storage holds (a file's
	// path under the directory, an object's key, an unfinished S3
	// multipart upload), in any order. The termination checks compare it
	// before and after to find what a termination left behind. A harness
	// that cannot look returns an error wrapping errors.ErrUnsupported, and
	// those comparisons are skipped.
	Contents(ctx context.Context) ([]string, error)
	// Close releases what the harness and its compositions hold: stores
	// with a Close, servers, the storage itself.
	Close(ctx context.Context) error
}

// UploadChecker is an optional hook a Harness may implement to check, in
// the store's own terms, what the suite has just checked through the
// interfaces.
type UploadChecker interface {
	// CheckUpload is called for each complete upload whose bytes the
	// suite knows, with the upload's GetInfo and those bytes, after
	// FinishUpload. It looks at the storage directly (the file's size on
	// disk, the object in the bucket) and returns an error saying what is
	// wrong, which fails the check. For a store that serves no content it
	// is the only way the conformance checks see the bytes.
	CheckUpload(ctx context.Context, info tus.FileInfo, content []byte) error
}

// NewHarness makes a fresh Harness, over empty storage, for one check. t
// is the check's own test: the function may use t.TempDir and t.Cleanup.
// RunConformanceTests and RunProtocolTests call it once for each check.
type NewHarness func(ctx context.Context, t *testing.T) (Harness, error)

// checkTimeout bounds the store calls of one conformance check, and the
// setup and teardown of each harness.
const checkTimeout = 5 * time.Minute

// tester is the part of *testing.T the conformance checks use. The suite's
// own tests give them a recorder instead, to see how the suite fails a
// broken store.
type tester interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

// runner runs a named sub-check the way t.Run does for a *testing.T.
type runner interface {
	tester
	run(name string, fn func(t tester)) bool
}

// stdTester is a *testing.T as a runner.
type stdTester struct{ *testing.T }

func (s stdTester) run(name string, fn func(t tester)) bool {
	return s.T.Run(name, func(t *testing.T) { fn(stdTester{t}) })
}

// makeHarness makes a harness with newHarness and closes it when t ends.
func makeHarness(ctx context.Context, t tester, newHarness func(ctx context.Context, t tester) (Harness, error)) Harness {
	t.Helper()
	h, err := newHarness(ctx, t)
	if err != nil {
		t.Fatalf("making the harness: %v", err)
	}
	if h == nil {
		t.Fatalf("making the harness: NewHarness returned no Harness and no error")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("closing the harness: %v", err)
		}
	})
	return h
}

// compose asks h for a composition and checks it has a core store.
func compose(ctx context.Context, t tester, h Harness) *tus.StoreComposer {
	t.Helper()
	c, err := h.MakeComposer(ctx)
	if err != nil {
		t.Fatalf("Harness.MakeComposer: %v", err)
	}
	if c == nil || c.Core == nil {
		t.Fatalf("Harness.MakeComposer returned a composition without a core store (the store's UseIn must call UseCore)")
	}
	return c
}

// openHarness makes a harness for a check of the protocol suite and
// returns it with its first composition.
func openHarness(t *testing.T, newHarness NewHarness) (Harness, *tus.StoreComposer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	h := makeHarness(ctx, t, func(ctx context.Context, _ tester) (Harness, error) { return newHarness(ctx, t) })
	return h, compose(ctx, t, h)
}

// contents returns the set of what h's storage holds, or nil and false if
// the harness cannot tell.
func contents(ctx context.Context, t tester, h Harness) (map[string]bool, bool) {
	t.Helper()
	names, err := h.Contents(ctx)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("Harness.Contents: %v", err)
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, true
}

// checkUpload calls the harness's UploadChecker, if it has one, on the
// complete upload id whose bytes are want.
func checkUpload(ctx context.Context, t tester, h Harness, c *tus.StoreComposer, id string, want []byte) {
	t.Helper()
	uc, ok := h.(UploadChecker)
	if !ok {
		return
	}
	info := getInfo(ctx, t, c, id)
	if err := uc.CheckUpload(ctx, info, want); err != nil {
		t.Errorf("the harness's CheckUpload of upload %s (%d bytes): %v", id, len(want), err)
	}
}

// getInfo finds upload id in c and returns its GetInfo, failing t on any
// error.
func getInfo(ctx context.Context, t tester, c *tus.StoreComposer, id string) tus.FileInfo {
	t.Helper()
	up, err := c.Core.GetUpload(ctx, id)
	if err != nil {
		t.Fatalf("GetUpload(%s) of an upload the store created: %v", id, err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		t.Fatalf("GetInfo of upload %s: %v", id, err)
	}
	if info.ID != id {
		t.Fatalf("GetInfo of upload %s reports ID %q: an upload must keep the ID it was created with", id, info.ID)
	}
	return info
}

// capability names a part of the composition a check needs, how to tell
// whether the store registers it, and the reason given when it does not.
type capability struct {
	name string
	has  func(c *tus.StoreComposer) bool
	why  string // the reason to skip, if not the default
}

var (
	needTerminater     = capability{"Terminater", (*tus.StoreComposer).UsesTerminater, ""}
	needConcater       = capability{"Concater", (*tus.StoreComposer).UsesConcater, ""}
	needLengthDeferrer = capability{"LengthDeferrer", (*tus.StoreComposer).UsesLengthDeferrer, ""}
	needContentServer  = capability{"ContentServer", (*tus.StoreComposer).UsesContentServer, ""}
	needLister         = capability{"Lister", (*tus.StoreComposer).UsesLister, ""}
	needExtender       = capability{"Extender", (*tus.StoreComposer).UsesExtender, ""}
	needTryLocker      = capability{"TryLocker", tryLocks,
		"the composition's Locker hands out locks that do not implement tus.TryLocker, which the expiry sweep needs"}
)

// tryLocks reports whether c's locker hands out locks that can be tried.
func tryLocks(c *tus.StoreComposer) bool {
	if c.Locker == nil {
		return false
	}
	l, err := c.Locker.NewLock("storetest-try")
	if err != nil {
		return false
	}
	_, ok := l.(tus.TryLocker)
	return ok
}

// skipReason returns why a check that needs caps cannot run on c, or "".
func skipReason(c *tus.StoreComposer, caps []capability) string {
	for _, cp := range caps {
		if !cp.has(c) && cp.why != "" {
			return cp.why
		}
		if !cp.has(c) {
			return fmt.Sprintf("the store does not register a %s in its composition (StoreComposer.Uses%s is false)", cp.name, cp.name)
		}
	}
	return ""
}
