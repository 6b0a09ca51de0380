package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest/memstore"
)

// recorder stands in for a *testing.T: it records what a check reports,
// so that the suite's own tests can see how it fails a broken store.
type recorder struct {
	name string

	mu       sync.Mutex
	failed   bool
	skipped  string // the reason given to Skipf
	msgs     []string
	cleanups []func()
	subs     []*recorder
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// run runs fn as a sub-check on a goroutine of its own, as t.Run does, so
// that Fatalf and Skipf end only it, and waits for it and its cleanups.
func (r *recorder) run(name string, fn func(t tester)) bool {
	sub := &recorder{name: r.name + "/" + name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(sub.cleanups) - 1; i >= 0; i-- {
				sub.cleanups[i]()
			}
		}()
		fn(sub)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, sub)
	if sub.failed {
		r.failed = true
	}
	return !sub.failed
}

// sub returns the recorded sub-check name, or nil.
func (r *recorder) sub(name string) *recorder {
	for _, s := range r.subs {
		if s.name == r.name+"/"+name {
			return s
		}
	}
	return nil
}

// memHarness composes one memstore, wrapped by wrap if it is not nil, and
// shows what the store holds plus what extra reports.
type memHarness struct {
	store *memstore.Store
	wrap  func(c *tus.StoreComposer)
	extra func() []string
	core  bool // register only the core store
}

func (h memHarness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	c := tus.NewStoreComposer()
	if h.core {
		c.UseCore(h.store)
	} else {
		h.store.UseIn(c)
	}
	if h.wrap != nil {
		h.wrap(c)
	}
	memorylocker.New().UseIn(c)
	return c, nil
}

func (h memHarness) Contents(context.Context) ([]string, error) {
	names := h.store.IDs()
	if h.extra != nil {
		names = append(names, h.extra()...)
	}
	return names, nil
}

func (h memHarness) Close(context.Context) error { return nil }

// runOn runs the conformance suite on harnesses made by mk and returns the
// recording.
func runOn(mk func() Harness) *recorder {
	r := &recorder{name: "suite"}
	runConformance(r, func(context.Context, tester) (Harness, error) { return mk(), nil })
	return r
}

// TestSuitePassesMemstore: the suite, run by the recorder, passes a
// correct store in every check and skips none; so the failures of the
// broken stores below are theirs.
func TestSuitePassesMemstore(t *testing.T) {
	r := runOn(func() Harness { return memHarness{store: memstore.New()} })
	if len(r.subs) != len(checks) {
		t.Fatalf("%d checks ran, want %d", len(r.subs), len(checks))
	}
	for _, s := range r.subs {
		if s.failed || s.skipped != "" {
			t.Errorf("%s: failed %v %q, skipped %q", s.name, s.failed, s.msgs, s.skipped)
		}
	}
}

// TestSuiteSkipsMissingParts: a store with only its core part has every
// check of an optional part skipped, with the part named.
func TestSuiteSkipsMissingParts(t *testing.T) {
	r := runOn(func() Harness { return memHarness{store: memstore.New(), core: true} })
	for _, ck := range checks {
		s := r.sub(ck.name)
		if s == nil {
			t.Fatalf("check %s did not run", ck.name)
		}
		if len(ck.needs) == 0 {
			if s.failed || s.skipped != "" {
				t.Errorf("%s on a core store: failed %v %q, skipped %q", ck.name, s.failed, s.msgs, s.skipped)
			}
			continue
		}
		want := "does not register a " + ck.needs[0].name
		if !strings.Contains(s.skipped, want) || s.failed {
			t.Errorf("%s on a core store: skipped %q (failed %v %q); want a skip saying %q", ck.name, s.skipped, s.failed, s.msgs, want)
		}
	}
}

// brokenStore wraps a memstore and breaks one promise of the contract.
type brokenStore struct {
	tus.StoreWrapper
	breakage string

	mu      sync.Mutex
	records map[string]bool // a record of each upload, kept beside the store's
}

type brokenUpload struct {
	tus.Upload
	s *brokenStore
}

func (s *brokenStore) NewUpload(ctx context.Context, info tus.FileInfo) (tus.Upload, error) {
	up, err := s.StoreWrapper.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.records[info.ID] = true
	s.mu.Unlock()
	return brokenUpload{up, s}, nil
}

func (s *brokenStore) GetUpload(ctx context.Context, id string) (tus.Upload, error) {
	up, err := s.StoreWrapper.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return brokenUpload{up, s}, nil
}

func (u brokenUpload) GetInfo(ctx context.Context) (tus.FileInfo, error) {
	info, err := u.Upload.GetInfo(ctx)
	if u.s.breakage == "offset-too-large" && info.Offset > 0 {
		info.Offset++ // claims a byte it does not hold
	}
	return info, err
}

func (u brokenUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	switch u.s.breakage {
	case "drops-byte":
		b, err := io.ReadAll(src)
		if len(b) > 0 {
			if _, werr := u.Upload.WriteChunk(ctx, offset, bytes.NewReader(b[:len(b)-1])); werr != nil {
				return 0, werr
			}
		}
		return int64(len(b)), err // counts the byte it dropped
	case "keeps-discarded":
		b, err := io.ReadAll(src)
		if _, werr := u.Upload.WriteChunk(ctx, offset, bytes.NewReader(b)); werr != nil {
			return 0, werr
		}
		if err != nil {
			return 0, err // says it kept nothing
		}
		return int64(len(b)), nil
	}
	return u.Upload.WriteChunk(ctx, offset, src)
}

// AsTerminatableUpload terminates in the wrapped store, and forgets the
// record unless the store is the one that leaves it.
func (s *brokenStore) AsTerminatableUpload(up tus.Upload) tus.TerminatableUpload {
	return terminator{up: up, s: s}
}

type terminator struct {
	up tus.Upload
	s  *brokenStore
}

func (t terminator) Terminate(ctx context.Context) error {
	info, err := t.up.GetInfo(ctx)
	if err != nil {
		return err
	}
	if err := t.s.StoreWrapper.AsTerminatableUpload(t.up).Terminate(ctx); err != nil {
		return err
	}
	if t.s.breakage != "leaves-record" {
		t.s.mu.Lock()
		delete(t.s.records, info.ID)
		t.s.mu.Unlock()
	}
	return nil
}

// recordNames returns the names of the records s keeps, as a harness
// shows them.
func (s *brokenStore) recordNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for id := range s.records {
		names = append(names, "record/"+id)
	}
	slices.Sort(names)
	return names
}

// brokenHarness composes a memstore wrapped by a brokenStore.
func brokenHarness(breakage string) Harness {
	mem := memstore.New()
	var bs *brokenStore
	return memHarness{
		store: mem,
		wrap: func(c *tus.StoreComposer) {
			next := &brokenStore{breakage: breakage, records: map[string]bool{}}
			if bs != nil {
				next.records = bs.records // the records outlive a restart
			}
			bs = next
			bs.StoreWrapper = tus.NewStoreWrapper(c, func(up tus.Upload) tus.Upload {
				if b, ok := up.(brokenUpload); ok {
					return b.Upload
				}
				return up
			})
			tus.UseWrapper(c, bs)
		},
		extra: func() []string { return bs.recordNames() },
	}
}

// TestSuiteFailsBrokenStores runs the suite against stores that each break
// one promise and checks that it fails them in the check for that promise,
// with a message that names it.
func TestSuiteFailsBrokenStores(t *testing.T) {
	type failure struct{ check, promise string }
	for _, tc := range []struct {
		breakage string
		fails    []failure
	}{
		{"drops-byte", []failure{{"WriteChunkAppends", "WriteChunk must store every byte it counts"}}},
		{"offset-too-large", []failure{{"WriteChunkAppends", "the offset must count only the bytes the store holds"}}},
		{"keeps-discarded", []failure{{"WriteChunkDiscardedChunk", "the store kept bytes of a chunk discarded with tus.ErrDiscardChunk"}}},
		{"leaves-record", []failure{
			{"Termination", "Terminate must remove every byte and every record of the upload"},
			{"SweepExpired", "terminating an expired upload must remove every byte and every record of it"},
		}},
		{"none", nil}, // the wrapper itself breaks nothing
	} {
		t.Run(tc.breakage, func(t *testing.T) {
			r := runOn(func() Harness { return brokenHarness(tc.breakage) })
			if tc.fails == nil {
				for _, s := range r.subs {
					if s.failed || s.skipped != "" {
						t.Errorf("%s: failed %v %q, skipped %q", s.name, s.failed, s.msgs, s.skipped)
					}
				}
				return
			}
			if !r.failed {
				t.Fatalf("the suite passed a store whose breakage is %s", tc.breakage)
			}
			for _, f := range tc.fails {
				s := r.sub(f.check)
				if s == nil {
					t.Fatalf("check %s did not run", f.check)
				}
				if !s.failed {
					t.Fatalf("check %s passed a store whose breakage is %s", f.check, tc.breakage)
				}
				if !slices.ContainsFunc(s.msgs, func(m string) bool { return strings.Contains(m, f.promise) }) {
					t.Fatalf("check %s failed with %q, which does not name the broken promise %q", f.check, s.msgs, f.promise)
				}
				t.Logf("%s fails %s with: %s", tc.breakage, f.check, s.msgs[0])
			}
		})
	}
}
