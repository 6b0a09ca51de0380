package tus_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

// sweepEnv is a handler over a filestore and a memorylocker, with its
// terminated events.
type sweepEnv struct {
	h        *tus.Handler
	store    *filestore.FileStore
	composer *tus.StoreComposer
	locker   *memorylocker.MemoryLocker
	dir      string
	events   *tus.Subscription
}

func newSweepEnv(t *testing.T, cfg tus.Config) *sweepEnv {
	t.Helper()
	e := &sweepEnv{dir: t.TempDir(), composer: tus.NewStoreComposer(), locker: memorylocker.New()}
	var err error
	e.store, err = filestore.New(e.dir)
	noErr(t, err)
	e.store.UseIn(e.composer)
	e.locker.UseIn(e.composer)
	cfg.StoreComposer = e.composer
	e.h, err = tus.NewHandler(cfg)
	noErr(t, err)
	e.events = e.h.Subscribe(64, tus.EventTerminated)
	t.Cleanup(e.events.Close)
	return e
}

// create makes an upload directly in the store, expiring at exp (zero:
// never), holding data.
func (e *sweepEnv) create(t *testing.T, id string, size int64, exp time.Time, data string, extra ...func(*tus.FileInfo)) {
	t.Helper()
	info := tus.FileInfo{ID: id, Size: size, ExpiresAt: exp, MetaData: tus.MetaData{}}
	for _, f := range extra {
		f(&info)
	}
	up, err := e.composer.Core.NewUpload(context.Background(), info)
	noErr(t, err)
	if data != "" {
		n, err := up.WriteChunk(context.Background(), 0, strings.NewReader(data))
		noErr(t, err)
		mustEq(t, "bytes written", n, int64(len(data)))
	}
	if int64(len(data)) == size {
		noErr(t, up.FinishUpload(context.Background()))
	}
}

func (e *sweepEnv) exists(id string) bool {
	_, err := e.composer.Core.GetUpload(context.Background(), id)
	return err == nil
}

// files lists the names in the store's directory.
func (e *sweepEnv) files(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(e.dir)
	noErr(t, err)
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	return names
}

// terminated returns the IDs of the terminated events delivered so far and
// whether each was marked expired.
func (e *sweepEnv) terminated() map[string]bool {
	got := map[string]bool{}
	for {
		select {
		case ev := <-e.events.C:
			got[ev.Upload.ID] = ev.Expired
		default:
			return got
		}
	}
}

func TestSweepRemovesExpiredUnfinishedOnly(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	e.create(t, "expired", 10, past, "abc")
	e.create(t, "expiredempty", 10, past, "")
	e.create(t, "alive", 10, future, "abc")
	e.create(t, "finished", 3, past, "abc") // complete: never expires
	e.create(t, "forever", 10, time.Time{}, "abc")

	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "listed", res.Listed, 5)
	eq(t, "expired", res.Expired, 2)
	eq(t, "busy", res.Busy, 0)
	eq(t, "failed", res.Failed, 0)
	for id, want := range map[string]bool{"expired": false, "expiredempty": false, "alive": true, "finished": true, "forever": true} {
		eq(t, id+" exists", e.exists(id), want)
	}
	for _, name := range e.files(t) {
		if strings.HasPrefix(name, "expired") {
			t.Errorf("file %q of an expired upload is left", name)
		}
	}
	ev := e.terminated()
	eq(t, "terminated events", len(ev), 2)
	eq(t, "expired event for expired", ev["expired"], true)
	eq(t, "expired event for expiredempty", ev["expiredempty"], true)

	// A second sweep finds nothing more.
	res, err = e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "listed again", res.Listed, 3)
	eq(t, "expired again", res.Expired, 0)
}

func TestSweepSkipsUploadInUse(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	e.create(t, "busy", 10, time.Now().Add(-time.Minute), "abc")

	// The upload expired, so a PATCH would be refused: hold the lock as a
	// request does, through the locker, with a release callback that
	// records being asked.
	lock, err := e.locker.NewLock("busy")
	noErr(t, err)
	asked := make(chan struct{}, 1)
	noErr(t, lock.Lock(context.Background(), func() { asked <- struct{}{} }))

	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "busy", res.Busy, 1)
	eq(t, "expired", res.Expired, 0)
	eq(t, "still there", e.exists("busy"), true)
	select {
	case <-asked:
		t.Fatal("the sweep asked the lock's holder to let go")
	default:
	}
	noErr(t, lock.Unlock())

	res, err = e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "expired once free", res.Expired, 1)
	eq(t, "gone", e.exists("busy"), false)
}

func TestSweepLeavesRunningPatchAlone(t *testing.T) {
	// An upload whose PATCH is in progress when it expires: the sweep
	// skips it and the PATCH completes its bytes.
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	e.create(t, "moving", 6, time.Now().Add(time.Hour), "")
	pr, pw := io.Pipe()
	req := newReq(http.MethodPatch, "/files/moving", pr, hdr{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
	req.ContentLength = 6
	done := make(chan int, 1)
	go func() { done <- serve(t, e.h, req).Code }()
	_, err := pw.Write([]byte("abc"))
	noErr(t, err)
	// The body is being read: move the expiry into the past behind the
	// request's back, as time would.
	info := readInfoFile(t, e.dir, "moving")
	rewriteExpiry(t, e.dir, "moving", info, time.Now().Add(-time.Minute))

	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "busy", res.Busy, 1)
	_, err = pw.Write([]byte("def"))
	noErr(t, err)
	noErr(t, pw.Close())
	eq(t, "PATCH status", <-done, http.StatusNoContent)
	eq(t, "complete upload kept", e.exists("moving"), true)
}

func TestSweepRemovesLeftovers(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	old := time.Now().Add(-2 * time.Hour)
	// A data file whose info file a crash never wrote, and a temporary
	// info file: both old.
	for _, name := range []string{"orphan", ".orphan2.info.123.tmp"} {
		p := filepath.Join(e.dir, name)
		noErr(t, os.WriteFile(p, []byte("x"), 0o640))
		noErr(t, os.Chtimes(p, old, old))
	}
	// A young one (a creation in progress) and a foreign file stay.
	noErr(t, os.WriteFile(filepath.Join(e.dir, "young"), []byte("x"), 0o640))
	foreign := filepath.Join(e.dir, "notes.txt")
	noErr(t, os.WriteFile(foreign, []byte("x"), 0o640))
	noErr(t, os.Chtimes(foreign, old, old))
	e.create(t, "kept", 10, time.Time{}, "abc")
	noErr(t, os.Chtimes(filepath.Join(e.dir, "kept"), old, old))

	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "leftovers", res.Leftovers, 2)
	got := strings.Join(e.files(t), " ")
	for _, name := range []string{"young", "notes.txt", "kept", "kept.info"} {
		contains(t, "files", got, name)
	}
	notContains(t, "files", got, "orphan")
}

func TestSweepFinalExpiresWithPartials(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	partial := func(fi *tus.FileInfo) { fi.IsPartial = true }
	// Final A: one partial expired (and will be removed with it).
	e.create(t, "pa", 4, past, "ab", partial)
	e.create(t, "pb", 4, future, "abcd", partial)
	e.create(t, "finala", 8, past, "", func(fi *tus.FileInfo) { fi.IsFinal, fi.PartialUploads = true, []string{"pa", "pb"} })
	// Final B: its only unfinished partial was renewed (sliding): it is
	// renewed too, to that partial's expiry.
	renewed := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	e.create(t, "pc", 4, renewed, "ab", partial)
	e.create(t, "finalb", 8, past, "", func(fi *tus.FileInfo) { fi.IsFinal, fi.PartialUploads = true, []string{"pb", "pc"} })
	// Final C: every partial complete, but nobody asked for the final
	// before it expired: it goes, the partials stay.
	e.create(t, "finalc", 8, past, "", func(fi *tus.FileInfo) { fi.IsFinal, fi.PartialUploads = true, []string{"pb", "pb"} })

	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "expired (pa, finala, finalc)", res.Expired, 3)
	eq(t, "renewed", res.Renewed, 1)
	for id, want := range map[string]bool{"pa": false, "finala": false, "pb": true, "pc": true, "finalb": true, "finalc": false} {
		eq(t, id+" exists", e.exists(id), want)
	}
	up, err := e.composer.Core.GetUpload(context.Background(), "finalb")
	noErr(t, err)
	info, err := up.GetInfo(context.Background())
	noErr(t, err)
	eq(t, "finalb's new expiry", info.ExpiresAt.Equal(renewed), true)
}

func TestSweepOneAtATime(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	e.create(t, "expired", 10, time.Now().Add(-time.Minute), "abc")
	// Another server sharing the locker is sweeping.
	lock, err := e.locker.NewLock("~expiry-sweep")
	noErr(t, err)
	noErr(t, lock.Lock(context.Background(), nil))
	res, err := e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "skipped", res.Skipped, true)
	eq(t, "listed", res.Listed, 0)
	eq(t, "still there", e.exists("expired"), true)
	noErr(t, lock.Unlock())
	res, err = e.h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "skipped once free", res.Skipped, false)
	eq(t, "expired once free", res.Expired, 1)
}

// noTryLocker is a locker whose locks cannot be tried.
type noTryLocker struct{ tus.Locker }

func (l noTryLocker) NewLock(id string) (tus.Lock, error) {
	k, err := l.Locker.NewLock(id)
	return plainLock{k}, err
}

// plainLock hides every method of a lock but those of tus.Lock.
type plainLock struct{ inner tus.Lock }

func (p plainLock) Lock(ctx context.Context, release func()) error { return p.inner.Lock(ctx, release) }
func (p plainLock) Unlock() error                                  { return p.inner.Unlock() }

func TestSweepUnsupported(t *testing.T) {
	dir := t.TempDir()
	store, err := filestore.New(dir)
	noErr(t, err)
	c := tus.NewStoreComposer()
	store.UseIn(c)
	c.UseLocker(noTryLocker{memorylocker.New()})
	h, err := tus.NewHandler(tus.Config{StoreComposer: c})
	noErr(t, err)
	if _, err := h.SweepExpired(context.Background()); !errors.Is(err, tus.ErrSweepUnsupported) {
		t.Errorf("SweepExpired with a locker that cannot try = %v, want ErrSweepUnsupported", err)
	}
	if err := h.RunCleaner(context.Background(), 0); !errors.Is(err, tus.ErrSweepUnsupported) {
		t.Errorf("RunCleaner = %v, want ErrSweepUnsupported", err)
	}
	c2 := tus.NewStoreComposer()
	store.UseIn(c2)
	c2.Lister = nil
	memorylocker.New().UseIn(c2)
	h2, err := tus.NewHandler(tus.Config{StoreComposer: c2})
	noErr(t, err)
	if _, err := h2.SweepExpired(context.Background()); !errors.Is(err, tus.ErrSweepUnsupported) {
		t.Errorf("SweepExpired without a lister = %v, want ErrSweepUnsupported", err)
	}
}

func TestRunCleanerSweepsUntilCancelled(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	e.create(t, "expired", 10, time.Now().Add(-time.Minute), "abc")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.h.RunCleaner(ctx, 10*time.Millisecond) }()
	// The first sweep runs at once.
	select {
	case ev := <-e.events.C:
		eq(t, "terminated", ev.Upload.ID, "expired")
		eq(t, "marked expired", ev.Expired, true)
	case <-time.After(30 * time.Second):
		t.Fatal("no upload expired")
	}
	// And later ones too.
	e.create(t, "later", 10, time.Now().Add(-time.Minute), "abc")
	select {
	case ev := <-e.events.C:
		eq(t, "terminated", ev.Upload.ID, "later")
	case <-time.After(30 * time.Second):
		t.Fatal("no later sweep")
	}
	cancel()
	noErr(t, <-done)
	if err := e.h.RunCleaner(context.Background(), -time.Second); err == nil {
		t.Error("RunCleaner accepted a negative interval")
	}
}

func TestRunCleanerOneServerSweeps(t *testing.T) {
	// Two servers share a store and a locker: the first cleaner keeps the
	// sweep lock, the second stands by until the first ends.
	a := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	b := &sweepEnv{dir: a.dir, composer: a.composer, locker: a.locker, store: a.store}
	var err error
	b.h, err = tus.NewHandler(tus.Config{StoreComposer: a.composer, Expiration: time.Hour})
	noErr(t, err)
	b.events = b.h.Subscribe(64, tus.EventTerminated)
	t.Cleanup(b.events.Close)

	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- a.h.RunCleaner(actx, 5*time.Millisecond) }()
	a.create(t, "first", 10, time.Now().Add(-time.Minute), "")
	waitTerminated(t, a, "first")
	bctx, stopB := context.WithCancel(context.Background())
	bDone := make(chan error, 1)
	go func() { bDone <- b.h.RunCleaner(bctx, 5*time.Millisecond) }()
	for i := range 5 {
		id := "more" + string(rune('a'+i))
		a.create(t, id, 10, time.Now().Add(-time.Minute), "")
		waitTerminated(t, a, id)
	}
	if got := b.terminated(); len(got) != 0 {
		t.Errorf("the standby server swept too: %v", got)
	}
	stopA()
	noErr(t, <-aDone)
	a.create(t, "afterwards", 10, time.Now().Add(-time.Minute), "")
	waitTerminated(t, b, "afterwards")
	stopB()
	noErr(t, <-bDone)
}

// waitTerminated waits for e's handler to remove upload id.
func waitTerminated(t *testing.T, e *sweepEnv, id string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-e.events.C:
			if ev.Upload.ID == id {
				eq(t, "marked expired", ev.Expired, true)
				return
			}
		case <-deadline:
			t.Fatalf("upload %q was not removed", id)
		}
	}
}

func TestDefaultCleanupInterval(t *testing.T) {
	for _, c := range []struct{ exp, want time.Duration }{
		{0, time.Hour}, {time.Second, time.Second}, {time.Minute, 6 * time.Second},
		{24 * time.Hour, time.Hour}, {2 * time.Hour, 12 * time.Minute},
	} {
		eq(t, "interval for "+c.exp.String(), tus.DefaultCleanupInterval(c.exp), c.want)
	}
}

func TestSlidingExpiration(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour, ExpirationSliding: true})
	w := serve(t, e.h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Length": "10"}))
	mustEq(t, "POST", w.Code, http.StatusCreated)
	loc := w.Header().Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	// Move the expiry back as if the upload were created 10 minutes ago.
	info := readInfoFile(t, e.dir, id)
	old := time.Now().Add(50 * time.Minute).UTC().Truncate(time.Second)
	rewriteExpiry(t, e.dir, id, info, old)

	w = serve(t, e.h, newReq(http.MethodPatch, "/files/"+id, strings.NewReader("abc"),
		hdr{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
	mustEq(t, "PATCH", w.Code, http.StatusNoContent)
	exp, err := http.ParseTime(w.Header().Get("Upload-Expires"))
	noErr(t, err)
	if !exp.After(old.Add(5 * time.Minute)) {
		t.Errorf("Upload-Expires after PATCH = %v, want renewed to about an hour from now (was %v)", exp, old)
	}
	eq(t, "stored expiry", readInfoFile(t, e.dir, id).ExpiresAt.Equal(exp), true)
	w = serve(t, e.h, newReq(http.MethodHead, "/files/"+id, nil, nil))
	eq(t, "HEAD Upload-Expires", w.Header().Get("Upload-Expires"), exp.UTC().Format(http.TimeFormat))

	// Without sliding, a PATCH leaves the expiry alone.
	f := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	f.create(t, "fixed", 10, old, "")
	w = serve(t, f.h, newReq(http.MethodPatch, "/files/fixed", strings.NewReader("abc"),
		hdr{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
	mustEq(t, "PATCH fixed", w.Code, http.StatusNoContent)
	eq(t, "fixed Upload-Expires", w.Header().Get("Upload-Expires"), old.Format(http.TimeFormat))

	// Sliding needs an expiration and a store that can move it.
	c := tus.NewStoreComposer()
	c.UseCore(e.store)
	memorylocker.New().UseIn(c)
	if _, err := tus.NewHandler(tus.Config{StoreComposer: c, Expiration: time.Hour, ExpirationSliding: true}); err == nil {
		t.Error("NewHandler accepted sliding expiration without an Extender")
	}
	if _, err := tus.NewHandler(tus.Config{StoreComposer: e.composer, ExpirationSliding: true}); err == nil {
		t.Error("NewHandler accepted sliding expiration without Expiration")
	}
}

func TestFinalUploadExpiresWithPartials(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour})
	soon := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	e.create(t, "p1", 4, soon, "ab", func(fi *tus.FileInfo) { fi.IsPartial = true })
	e.create(t, "p2", 4, time.Time{}, "abcd", func(fi *tus.FileInfo) { fi.IsPartial = true })
	w := serve(t, e.h, newReq(http.MethodPost, "/files/", nil, hdr{"Upload-Concat": "final;/files/p1 /files/p2"}))
	mustEq(t, "POST final", w.Code, http.StatusCreated)
	eq(t, "final's Upload-Expires", w.Header().Get("Upload-Expires"), soon.Format(http.TimeFormat))
}

func readInfoFile(t *testing.T, dir, id string) tus.FileInfo {
	t.Helper()
	store, err := filestore.New(dir)
	noErr(t, err)
	up, err := store.GetUpload(context.Background(), id)
	noErr(t, err)
	info, err := up.GetInfo(context.Background())
	noErr(t, err)
	return info
}

// rewriteExpiry sets the stored expiry of upload id, as the store would.
func rewriteExpiry(t *testing.T, dir, id string, _ tus.FileInfo, exp time.Time) {
	t.Helper()
	store, err := filestore.New(dir)
	noErr(t, err)
	up, err := store.GetUpload(context.Background(), id)
	noErr(t, err)
	noErr(t, store.AsExtendableUpload(up).ExtendExpiry(context.Background(), exp))
}

func TestSweepWithFileLocker(t *testing.T) {
	// The filestore locker, as servers sharing a directory use it: a lock
	// held through another FileLocker (another process) makes the sweep
	// skip the upload, and a sweep of the other one skip its turn.
	dir := t.TempDir()
	store, err := filestore.New(dir)
	noErr(t, err)
	c := tus.NewStoreComposer()
	store.UseIn(c)
	locker, err := filestore.NewLocker(dir)
	noErr(t, err)
	t.Cleanup(func() { _ = locker.Close() })
	locker.UseIn(c)
	h, err := tus.NewHandler(tus.Config{StoreComposer: c, Expiration: time.Hour})
	noErr(t, err)
	e := &sweepEnv{h: h, store: store, composer: c, dir: dir}
	e.create(t, "held", 10, time.Now().Add(-time.Minute), "a")
	e.create(t, "free", 10, time.Now().Add(-time.Minute), "a")

	other, err := filestore.NewLocker(dir)
	noErr(t, err)
	t.Cleanup(func() { _ = other.Close() })
	held, err := other.NewLock("held")
	noErr(t, err)
	noErr(t, held.Lock(context.Background(), nil))
	res, err := h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "expired", res.Expired, 1)
	eq(t, "busy", res.Busy, 1)
	eq(t, "held still there", e.exists("held"), true)
	eq(t, "free gone", e.exists("free"), false)
	noErr(t, held.Unlock())

	sweeping, err := other.NewLock("~expiry-sweep")
	noErr(t, err)
	noErr(t, sweeping.Lock(context.Background(), nil))
	res, err = h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "skipped while the other sweeps", res.Skipped, true)
	noErr(t, sweeping.Unlock())
	res, err = h.SweepExpired(context.Background())
	noErr(t, err)
	eq(t, "expired at last", res.Expired, 1)
}

func TestSlidingExpirationIETF(t *testing.T) {
	e := newSweepEnv(t, tus.Config{Expiration: time.Hour, ExpirationSliding: true})
	old := time.Now().Add(50 * time.Minute).UTC().Truncate(time.Second)
	e.create(t, "ietf", 10, old, "")
	for _, c := range []struct{ name, body, offset string }{{"append", "abc", "0"}, {"empty append", "", "3"}} {
		rewriteExpiry(t, e.dir, "ietf", tus.FileInfo{}, old)
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, newReq(http.MethodPatch, "/files/ietf", body, hdr{"Tus-Resumable": "", "Upload-Draft-Interop-Version": "6",
			"Upload-Offset": c.offset, "Upload-Complete": "?0", "Content-Type": "application/partial-upload"}))
		mustEq(t, c.name+" status (201 in interop version 6)", w.Code, http.StatusCreated)
		if got := readInfoFile(t, e.dir, "ietf").ExpiresAt; !got.After(old.Add(5 * time.Minute)) {
			t.Errorf("%s: stored expiry %v, want renewed to about an hour from now", c.name, got)
		}
	}
}
