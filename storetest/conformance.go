package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

// RunConformanceTests checks, directly through the interfaces of package
// tus, that the store newHarness's harness composes keeps the promises of
// the store contract (datastore.go): unknown and taken IDs, what WriteChunk
// keeps of a chunk whose reader fails or that is discarded, offsets across
// a restart, deferred lengths, concatenation, termination that leaves
// nothing behind, metadata, content serving with ranges, many uploads at
// once, enumeration and expiry. Each check runs as a sub-test of t with a
// stable name, on a harness of its own, and skips, with its reason, when
// the store does not register the part of the composition it needs. A
// failure names the promise that was broken.
func RunConformanceTests(t *testing.T, newHarness NewHarness) {
	runConformance(stdTester{t}, func(ctx context.Context, t tester) (Harness, error) {
		return newHarness(ctx, t.(stdTester).T)
	})
}

// check is one conformance check.
type check struct {
	name  string
	needs []capability
	fn    func(ctx context.Context, t tester, e *env)
}

// checks are the conformance checks, in the order they run. Their names
// are stable: a store's test may select them with -run.
var checks = []check{
	{"GetUnknownID", nil, checkGetUnknownID},
	{"NewUploadTakenID", nil, checkNewUploadTakenID},
	{"NewUploadInfo", nil, checkNewUploadInfo},
	{"WriteChunkAppends", nil, checkWriteChunkAppends},
	{"WriteChunkKeepsBytesBeforeReadError", nil, checkWriteChunkKeepsBytesBeforeReadError},
	{"WriteChunkDiscardedChunk", nil, checkWriteChunkDiscardedChunk},
	{"OffsetAfterReopen", nil, checkOffsetAfterReopen},
	{"UnicodeMetadata", nil, checkUnicodeMetadata},
	{"DeferredLength", []capability{needLengthDeferrer}, checkDeferredLength},
	{"Concatenation", []capability{needConcater}, checkConcatenation},
	{"Termination", []capability{needTerminater}, checkTermination},
	{"ServeContentRanges", []capability{needContentServer}, checkServeContentRanges},
	{"ParallelUploads", nil, checkParallelUploads},
	{"ListUploads", []capability{needLister}, checkListUploads},
	{"ExtendExpiry", []capability{needExtender}, checkExtendExpiry},
	{"SweepExpired", []capability{needLister, needTerminater, needTryLocker}, checkSweepExpired},
}

// runConformance runs every check as a sub-test of t.
func runConformance(t runner, newHarness func(ctx context.Context, t tester) (Harness, error)) {
	for _, ck := range checks {
		t.run(ck.name, func(t tester) {
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			h := makeHarness(ctx, t, newHarness)
			e := &env{h: h, c: compose(ctx, t, h)}
			if reason := skipReason(e.c, ck.needs); reason != "" {
				t.Skipf("%s", reason)
			}
			ck.fn(ctx, t, e)
		})
	}
}

// env is the harness of one check and its current composition.
type env struct {
	h Harness
	c *tus.StoreComposer
}

// reopen replaces the composition with a new one over the same storage, as
// after a restart of the server.
func (e *env) reopen(ctx context.Context, t tester) {
	t.Helper()
	e.c = compose(ctx, t, e.h)
}

// newID returns a fresh upload ID that tells which check made it.
func newID(label string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return label + "-" + hex.EncodeToString(b[:])
}

// payload returns n reproducible bytes that differ for each seed.
func payload(n int, seed int64) []byte {
	return data(n, seed)
}

// create makes an upload with info (ID set by the caller) and fails t
// unless it is created.
func (e *env) create(ctx context.Context, t tester, info tus.FileInfo) tus.Upload {
	t.Helper()
	up, err := e.c.Core.NewUpload(ctx, info)
	if err != nil {
		t.Fatalf("NewUpload(%s): %v", info.ID, err)
	}
	if up == nil {
		t.Fatalf("NewUpload(%s) returned no upload and no error", info.ID)
	}
	return up
}

// get finds upload id and fails t unless it is found.
func (e *env) get(ctx context.Context, t tester, id string) tus.Upload {
	t.Helper()
	up, err := e.c.Core.GetUpload(ctx, id)
	if err != nil {
		t.Fatalf("GetUpload(%s) of an upload the store created: %v", id, err)
	}
	return up
}

// info returns the GetInfo of upload id, found anew.
func (e *env) info(ctx context.Context, t tester, id string) tus.FileInfo {
	t.Helper()
	return getInfo(ctx, t, e.c, id)
}

// write appends b to upload id at offset, through a fresh GetUpload as
// the handler does for each request, and checks that WriteChunk stored
// and counted every byte.
func (e *env) write(ctx context.Context, t tester, id string, offset int64, b []byte) {
	t.Helper()
	n, err := e.get(ctx, t, id).WriteChunk(ctx, offset, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("WriteChunk of %d bytes at %d into upload %s: %v", len(b), offset, id, err)
	}
	if n != int64(len(b)) {
		t.Fatalf("WriteChunk of %d bytes at %d into upload %s returned %d: it must store and count every byte it reads", len(b), offset, id, n)
	}
	checkGrowth(t, id, offset, n, e.info(ctx, t, id).Offset)
}

// checkGrowth fails t unless upload id's offset, got after WriteChunk
// returned n at offset, is offset+n, and names the promise broken.
func checkGrowth(t tester, id string, offset, n, got int64) {
	t.Helper()
	if msg := growthError(id, offset, n, got); msg != "" {
		t.Fatalf("%s", msg)
	}
}

// growthError describes what is wrong when upload id's offset is got after
// WriteChunk returned n at offset, or returns "".
func growthError(id string, offset, n, got int64) string {
	switch {
	case got > offset+n:
		return fmt.Sprintf("upload %s: offset %d after WriteChunk stored %d bytes at %d, %d more than written: the offset must count only the bytes the store holds",
			id, got, n, offset, got-offset-n)
	case got < offset+n:
		return fmt.Sprintf("upload %s: offset %d after WriteChunk returned %d for bytes at %d, %d short: WriteChunk must store every byte it counts",
			id, got, n, offset, offset+n-got)
	}
	return ""
}

// finish calls FinishUpload on the complete upload id.
func (e *env) finish(ctx context.Context, t tester, id string) {
	t.Helper()
	if err := e.get(ctx, t, id).FinishUpload(ctx); err != nil {
		t.Fatalf("FinishUpload of the complete upload %s: %v", id, err)
	}
}

// upload makes a complete, finished upload of b with extra fields from
// info (ID set by the caller).
func (e *env) upload(ctx context.Context, t tester, info tus.FileInfo, b []byte, chunks int) {
	t.Helper()
	info.Size = int64(len(b))
	e.create(ctx, t, info)
	step := max(1, (len(b)+chunks-1)/max(chunks, 1))
	for off := 0; off < len(b); off += step {
		e.write(ctx, t, info.ID, int64(off), b[off:min(off+step, len(b))])
	}
	e.finish(ctx, t, info.ID)
}

// checkBytes checks that the complete upload id holds exactly want: its
// offset, its content as the store serves it (if it does) and the
// harness's own look (UploadChecker).
func (e *env) checkBytes(ctx context.Context, t tester, id string, want []byte) {
	t.Helper()
	info := e.info(ctx, t, id)
	if info.Offset != int64(len(want)) {
		t.Fatalf("upload %s: offset %d after %d bytes were written: the offset must be the number of bytes the store holds", id, info.Offset, len(want))
	}
	if e.c.UsesContentServer() {
		res, got := e.serve(ctx, t, id, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("ServeContent of upload %s: status %d, want 200", id, res.StatusCode)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("upload %s serves %d bytes that differ from the %d written (first difference at byte %d): the store must hold exactly the bytes it counted",
				id, len(got), len(want), firstDiff(got, want))
		}
	}
	checkUpload(ctx, t, e.h, e.c, id, want)
}

// serve asks the store to serve upload id to a GET request with the given
// headers (pairs of name and value) and returns the response and its body.
func (e *env) serve(ctx context.Context, t tester, id string, headers []string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/files/"+id, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	if err := e.c.ContentServer.AsServableUpload(e.get(ctx, t, id)).ServeContent(ctx, rec, req); err != nil {
		t.Fatalf("ServeContent of upload %s: %v", id, err)
	}
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// errReader returns the bytes of b, then err.
type errReader struct {
	b   []byte
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// errBrokenBody is the read error of a request body that broke off.
var errBrokenBody = errors.New("storetest: the request body broke off")

func checkGetUnknownID(ctx context.Context, t tester, e *env) {
	id := newID("unknown")
	if _, err := e.c.Core.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
		t.Fatalf("GetUpload of an ID never created returned error %v: it must wrap tus.ErrNotFound", err)
	}
	e.create(ctx, t, tus.FileInfo{ID: newID("other"), Size: 10})
	if _, err := e.c.Core.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
		t.Fatalf("GetUpload of an ID never created, with another upload in the store, returned error %v: it must wrap tus.ErrNotFound", err)
	}
	// A prefix of an existing ID is another ID.
	long := newID("prefix")
	e.create(ctx, t, tus.FileInfo{ID: long + "x", Size: 10})
	if _, err := e.c.Core.GetUpload(ctx, long); !errors.Is(err, tus.ErrNotFound) {
		t.Fatalf("GetUpload of a prefix of an existing ID returned error %v: it must wrap tus.ErrNotFound", err)
	}
}

func checkNewUploadTakenID(ctx context.Context, t tester, e *env) {
	id := newID("taken")
	e.create(ctx, t, tus.FileInfo{ID: id, Size: 100, MetaData: tus.MetaData{"filename": "first"}})
	e.write(ctx, t, id, 0, payload(10, 1))
	_, err := e.c.Core.NewUpload(ctx, tus.FileInfo{ID: id, Size: 5, MetaData: tus.MetaData{"filename": "second"}})
	if !errors.Is(err, tus.ErrUploadExists) {
		t.Fatalf("NewUpload of a taken ID returned error %v: it must wrap tus.ErrUploadExists", err)
	}
	e.reopen(ctx, t)
	_, err = e.c.Core.NewUpload(ctx, tus.FileInfo{ID: id, Size: 5})
	if !errors.Is(err, tus.ErrUploadExists) {
		t.Fatalf("NewUpload, after reopening the store, of a taken ID returned error %v: it must wrap tus.ErrUploadExists", err)
	}
	info := e.info(ctx, t, id)
	if info.Size != 100 || info.Offset != 10 || info.MetaData["filename"] != "first" {
		t.Fatalf("the upload whose ID a refused NewUpload asked for changed: Size %d, Offset %d, filename %q; want 100, 10, \"first\"",
			info.Size, info.Offset, info.MetaData["filename"])
	}
}

func checkNewUploadInfo(ctx context.Context, t tester, e *env) {
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	want := tus.FileInfo{ID: newID("info"), Size: 1234, MetaData: tus.MetaData{"filename": "a.txt", "filetype": "text/plain"}, ExpiresAt: expires}
	up := e.create(ctx, t, want)
	got, err := up.GetInfo(ctx)
	if err != nil {
		t.Fatalf("GetInfo of the upload NewUpload returned: %v", err)
	}
	checkInfo(t, "the upload NewUpload returned", got, want)
	checkInfo(t, "the upload GetUpload found", e.info(ctx, t, want.ID), want)
	e.reopen(ctx, t)
	checkInfo(t, "the upload after reopening the store", e.info(ctx, t, want.ID), want)

	partial := tus.FileInfo{ID: newID("partial"), Size: 3, IsPartial: true}
	e.create(ctx, t, partial)
	checkInfo(t, "a partial upload", e.info(ctx, t, partial.ID), partial)
	empty := tus.FileInfo{ID: newID("empty")}
	e.create(ctx, t, empty)
	checkInfo(t, "an upload of length 0", e.info(ctx, t, empty.ID), empty)
	if got := e.info(ctx, t, empty.ID); !got.IsComplete() {
		t.Errorf("an upload of length 0 is not complete: Size %d, Offset %d, SizeIsDeferred %v", got.Size, got.Offset, got.SizeIsDeferred)
	}
}

// checkInfo compares the fields of got a store keeps with want; what
// names the upload in messages.
func checkInfo(t tester, what string, got, want tus.FileInfo) {
	t.Helper()
	if got.ID != want.ID || got.Size != want.Size || got.SizeIsDeferred != want.SizeIsDeferred || got.AnnouncedSize != want.AnnouncedSize ||
		got.Offset != want.Offset || got.IsPartial != want.IsPartial || got.IsFinal != want.IsFinal {
		t.Fatalf("%s: GetInfo reports ID %q Size %d SizeIsDeferred %v AnnouncedSize %d Offset %d IsPartial %v IsFinal %v; "+
			"want %q %d %v %d %d %v %v: GetInfo must report what NewUpload was given and the bytes held",
			what, got.ID, got.Size, got.SizeIsDeferred, got.AnnouncedSize, got.Offset, got.IsPartial, got.IsFinal,
			want.ID, want.Size, want.SizeIsDeferred, want.AnnouncedSize, want.Offset, want.IsPartial, want.IsFinal)
	}
	if !slices.Equal(got.PartialUploads, want.PartialUploads) {
		t.Fatalf("%s: GetInfo reports PartialUploads %q, want %q in that order", what, got.PartialUploads, want.PartialUploads)
	}
	if len(got.MetaData) != len(want.MetaData) || !maps.Equal(got.MetaData, want.MetaData) {
		t.Fatalf("%s: GetInfo reports MetaData %q, want %q: metadata must be kept exactly as given", what, got.MetaData, want.MetaData)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("%s: GetInfo reports ExpiresAt %v, want %v: the expiry must be kept as given", what, got.ExpiresAt, want.ExpiresAt)
	}
}

func checkWriteChunkAppends(ctx context.Context, t tester, e *env) {
	want := payload(300<<10+11, 2)
	id := newID("append")
	e.create(ctx, t, tus.FileInfo{ID: id, Size: int64(len(want))})
	off := 0
	for _, n := range []int{1, 1000, 64<<10 + 3, 7, 100 << 10} {
		e.write(ctx, t, id, int64(off), want[off:off+n])
		off += n
	}
	e.write(ctx, t, id, int64(off), want[off:])
	e.finish(ctx, t, id)
	e.checkBytes(ctx, t, id, want)

	// An empty chunk changes nothing.
	id2 := newID("empty-chunk")
	e.create(ctx, t, tus.FileInfo{ID: id2, Size: 10})
	e.write(ctx, t, id2, 0, nil)
	e.write(ctx, t, id2, 0, want[:4])
	e.write(ctx, t, id2, 4, nil)
	e.write(ctx, t, id2, 4, want[4:10])
	e.finish(ctx, t, id2)
	e.checkBytes(ctx, t, id2, want[:10])
}

func checkWriteChunkKeepsBytesBeforeReadError(ctx context.Context, t tester, e *env) {
	for _, sz := range []struct {
		name    string
		first   int // bytes written before
		partial int // bytes read before the error
	}{{"small", 1000, 700}, {"none-read", 1000, 0}, {"large", 1 << 10, 1<<20 + 7}} {
		want := payload(sz.first+sz.partial+500, 3)
		id := newID("readerr-" + sz.name)
		e.create(ctx, t, tus.FileInfo{ID: id, Size: int64(len(want))})
		e.write(ctx, t, id, 0, want[:sz.first])
		off := int64(sz.first)
		n, err := e.get(ctx, t, id).WriteChunk(ctx, off, &errReader{b: want[off : off+int64(sz.partial)], err: errBrokenBody})
		if !errors.Is(err, errBrokenBody) {
			t.Fatalf("%s: WriteChunk whose reader failed after %d bytes returned error %v: it must return the reader's error (wrapped with %%w)", sz.name, sz.partial, err)
		}
		if n != int64(sz.partial) {
			t.Fatalf("%s: WriteChunk whose reader failed after %d bytes returned %d: the bytes read before a read error must be kept and counted", sz.name, sz.partial, n)
		}
		if got := e.info(ctx, t, id).Offset; got != off+n {
			t.Fatalf("%s: offset %d after a chunk whose reader failed after %d bytes, want %d: the bytes read before a read error must be kept and counted", sz.name, got, sz.partial, off+n)
		}
		e.reopen(ctx, t)
		if got := e.info(ctx, t, id).Offset; got != off+n {
			t.Fatalf("%s: offset %d after reopening the store, want %d: the bytes read before a read error must be kept", sz.name, got, off+n)
		}
		e.write(ctx, t, id, off+n, want[off+n:])
		e.finish(ctx, t, id)
		e.checkBytes(ctx, t, id, want)
	}
}

func checkWriteChunkDiscardedChunk(ctx context.Context, t tester, e *env) {
	for _, sz := range []struct {
		name    string
		first   int
		partial int
	}{{"small", 1000, 500}, {"large", 10, 1<<20 + 9}, {"first-chunk", 0, 4000}} {
		want := payload(sz.first+sz.partial+300, 4)
		id := newID("discard-" + sz.name)
		e.create(ctx, t, tus.FileInfo{ID: id, Size: int64(len(want))})
		if sz.first > 0 {
			e.write(ctx, t, id, 0, want[:sz.first])
		}
		off := int64(sz.first)
		wrong := payload(sz.partial, 99) // bytes that must never be kept
		discard := tus.DiscardChunk(errors.New("storetest: checksum mismatch"))
		n, err := e.get(ctx, t, id).WriteChunk(ctx, off, &errReader{b: wrong, err: discard})
		if !errors.Is(err, tus.ErrDiscardChunk) {
			t.Fatalf("%s: WriteChunk of a chunk whose reader failed with tus.ErrDiscardChunk returned error %v: it must return that error", sz.name, err)
		}
		if n != 0 {
			t.Fatalf("%s: WriteChunk of a discarded chunk (tus.ErrDiscardChunk) returned %d: a discarded chunk must be refused whole, returning 0", sz.name, n)
		}
		if got := e.info(ctx, t, id).Offset; got != off {
			t.Fatalf("%s: offset %d after a discarded chunk of %d bytes, want %d: the store kept bytes of a chunk discarded with tus.ErrDiscardChunk", sz.name, got, sz.partial, off)
		}
		e.reopen(ctx, t)
		if got := e.info(ctx, t, id).Offset; got != off {
			t.Fatalf("%s: offset %d after reopening the store, want %d: the store kept bytes of a chunk discarded with tus.ErrDiscardChunk", sz.name, got, off)
		}
		e.write(ctx, t, id, off, want[off:])
		e.finish(ctx, t, id)
		e.checkBytes(ctx, t, id, want)
	}
}

func checkOffsetAfterReopen(ctx context.Context, t tester, e *env) {
	want := payload(200<<10+17, 5)
	info := tus.FileInfo{ID: newID("reopen"), Size: int64(len(want)), MetaData: tus.MetaData{"filename": "reopen.bin"}}
	e.create(ctx, t, info)
	e.write(ctx, t, info.ID, 0, want[:1])
	e.reopen(ctx, t)
	info.Offset = 1
	checkInfo(t, "after 1 byte and reopening the store", e.info(ctx, t, info.ID), info)
	e.write(ctx, t, info.ID, 1, want[1:70<<10])
	e.reopen(ctx, t)
	info.Offset = 70 << 10
	checkInfo(t, "after 70 KiB and reopening the store", e.info(ctx, t, info.ID), info)
	e.write(ctx, t, info.ID, 70<<10, want[70<<10:])
	e.finish(ctx, t, info.ID)
	e.reopen(ctx, t)
	info.Offset = info.Size
	checkInfo(t, "finished, after reopening the store", e.info(ctx, t, info.ID), info)
	e.checkBytes(ctx, t, info.ID, want)
}

func checkUnicodeMetadata(ctx context.Context, t tester, e *env) {
	meta := tus.MetaData{
		"filename": "résumé 📄 \"final\".txt",
		"note":     "línea uno\nzweite Zeile ✓\x00 and a NUL",
		"empty":    "",
		"cjk":      "日本語のファイル名",
		"spaces":   "  leading and trailing  ",
		"json":     `{"a":[1,2],"b":"c"}`,
		"long":     string(bytes.Repeat([]byte("ü"), 2000)),
	}
	info := tus.FileInfo{ID: newID("unicode"), Size: 5, MetaData: meta}
	e.create(ctx, t, info)
	checkInfo(t, "an upload with Unicode metadata", e.info(ctx, t, info.ID), info)
	e.write(ctx, t, info.ID, 0, []byte("hello"))
	e.finish(ctx, t, info.ID)
	e.reopen(ctx, t)
	info.Offset = 5
	checkInfo(t, "an upload with Unicode metadata, after reopening the store", e.info(ctx, t, info.ID), info)
}

func checkDeferredLength(ctx context.Context, t tester, e *env) {
	want := payload(100<<10+3, 6)
	info := tus.FileInfo{ID: newID("deferred"), SizeIsDeferred: true, AnnouncedSize: int64(len(want))}
	e.create(ctx, t, info)
	checkInfo(t, "a new upload of deferred length", e.info(ctx, t, info.ID), info)
	e.write(ctx, t, info.ID, 0, want[:40<<10])
	e.reopen(ctx, t)
	info.Offset = 40 << 10
	checkInfo(t, "an upload of deferred length, after reopening the store", e.info(ctx, t, info.ID), info)
	if e.info(ctx, t, info.ID).IsComplete() {
		t.Fatalf("an upload of deferred length is complete before its length is declared")
	}
	declare := func(id string, length int64) {
		t.Helper()
		if err := e.c.LengthDeferrer.AsLengthDeclarableUpload(e.get(ctx, t, id)).DeclareLength(ctx, length); err != nil {
			t.Fatalf("DeclareLength(%d) of upload %s: %v", length, id, err)
		}
	}
	declare(info.ID, int64(len(want)))
	info.Size, info.SizeIsDeferred, info.AnnouncedSize = int64(len(want)), false, 0
	checkInfo(t, "after DeclareLength", e.info(ctx, t, info.ID), info)
	e.reopen(ctx, t)
	checkInfo(t, "after DeclareLength and reopening the store", e.info(ctx, t, info.ID), info)
	e.write(ctx, t, info.ID, 40<<10, want[40<<10:])
	e.finish(ctx, t, info.ID)
	e.checkBytes(ctx, t, info.ID, want)

	// The length declared once every byte is there (an empty last PATCH
	// with Upload-Length) completes the upload.
	id := newID("deferred-at-end")
	e.create(ctx, t, tus.FileInfo{ID: id, SizeIsDeferred: true})
	e.write(ctx, t, id, 0, want[:3000])
	declare(id, 3000)
	if got := e.info(ctx, t, id); !got.IsComplete() || got.Size != 3000 {
		t.Fatalf("after declaring the length equal to the offset: Size %d, Offset %d, SizeIsDeferred %v; want a complete upload of 3000 bytes",
			got.Size, got.Offset, got.SizeIsDeferred)
	}
	e.finish(ctx, t, id)
	e.checkBytes(ctx, t, id, want[:3000])
}

func checkConcatenation(ctx context.Context, t tester, e *env) {
	a, b := pattern(3<<10+5, "A"), pattern(5<<10+1, "B")
	ida, idb := newID("partial-a"), newID("partial-b")
	e.upload(ctx, t, tus.FileInfo{ID: ida, IsPartial: true}, a, 2)
	e.upload(ctx, t, tus.FileInfo{ID: idb, IsPartial: true}, b, 1)
	concat := func(ids ...string) (string, []byte) {
		t.Helper()
		var want []byte
		var partials []tus.Upload
		for _, id := range ids {
			want = append(want, map[string][]byte{ida: a, idb: b}[id]...)
			partials = append(partials, e.get(ctx, t, id)) // a separate value for each place
		}
		info := tus.FileInfo{ID: newID("final"), Size: int64(len(want)), IsFinal: true, PartialUploads: ids}
		up := e.create(ctx, t, info)
		if err := e.c.Concater.AsConcatableUpload(up).ConcatUploads(ctx, partials); err != nil {
			t.Fatalf("ConcatUploads of %d partials: %v", len(ids), err)
		}
		got := e.info(ctx, t, info.ID)
		info.Offset = info.Size
		checkInfo(t, "a final upload after ConcatUploads", got, info)
		e.finish(ctx, t, info.ID)
		return info.ID, want
	}
	// A partial named twice in one final upload, and used by several.
	aba, wantABA := concat(ida, idb, ida)
	ba, wantBA := concat(idb, ida)
	e.checkBytes(ctx, t, aba, wantABA)
	e.checkBytes(ctx, t, ba, wantBA)
	e.reopen(ctx, t)
	e.checkBytes(ctx, t, aba, wantABA)
	// ConcatUploads only reads the partials.
	e.checkBytes(ctx, t, ida, a)
	e.checkBytes(ctx, t, idb, b)
	if got := e.info(ctx, t, ida); !got.IsPartial || got.IsFinal {
		t.Fatalf("a partial upload after concatenation: IsPartial %v IsFinal %v", got.IsPartial, got.IsFinal)
	}
}

func checkTermination(ctx context.Context, t tester, e *env) {
	// An upload that stays, to see that terminations touch nothing else.
	keep := payload(20<<10, 7)
	keepID := newID("keep")
	e.upload(ctx, t, tus.FileInfo{ID: keepID, MetaData: tus.MetaData{"filename": "keep"}}, keep, 2)
	before, canLook := contents(ctx, t, e.h)

	var ids []string
	add := func(info tus.FileInfo, b []byte, finish bool) {
		t.Helper()
		e.create(ctx, t, info)
		if len(b) > 0 {
			e.write(ctx, t, info.ID, 0, b)
		}
		if finish {
			e.finish(ctx, t, info.ID)
		}
		ids = append(ids, info.ID)
	}
	add(tus.FileInfo{ID: newID("term-empty"), Size: 1000}, nil, false)
	add(tus.FileInfo{ID: newID("term-part"), Size: 100 << 10, MetaData: tus.MetaData{"filename": "x"}}, payload(30<<10, 8), false)
	add(tus.FileInfo{ID: newID("term-done"), Size: 50<<10 + 1}, payload(50<<10+1, 9), true)
	if e.c.UsesLengthDeferrer() {
		add(tus.FileInfo{ID: newID("term-deferred"), SizeIsDeferred: true}, payload(7000, 10), false)
	}
	if e.c.UsesConcater() {
		p := newID("term-partial")
		add(tus.FileInfo{ID: p, Size: 4000, IsPartial: true}, payload(4000, 11), true)
		final := tus.FileInfo{ID: newID("term-final"), Size: 8000, IsFinal: true, PartialUploads: []string{p, p}}
		up := e.create(ctx, t, final)
		if err := e.c.Concater.AsConcatableUpload(up).ConcatUploads(ctx, []tus.Upload{e.get(ctx, t, p), e.get(ctx, t, p)}); err != nil {
			t.Fatalf("ConcatUploads: %v", err)
		}
		e.finish(ctx, t, final.ID)
		ids = append(ids, final.ID)
	}
	// One of them is terminated after a restart.
	for i, id := range ids {
		if i == len(ids)-1 {
			e.reopen(ctx, t)
		}
		if err := e.c.Terminater.AsTerminatableUpload(e.get(ctx, t, id)).Terminate(ctx); err != nil {
			t.Fatalf("Terminate of upload %s: %v", id, err)
		}
		if _, err := e.c.Core.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
			t.Fatalf("GetUpload of the terminated upload %s returned error %v: after Terminate it must wrap tus.ErrNotFound", id, err)
		}
	}
	e.reopen(ctx, t)
	for _, id := range ids {
		if _, err := e.c.Core.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
			t.Fatalf("GetUpload of the terminated upload %s, after reopening the store, returned error %v: it must wrap tus.ErrNotFound", id, err)
		}
	}
	e.checkBytes(ctx, t, keepID, keep)
	if !canLook {
		t.Logf("the harness cannot list its storage's contents: leftovers of terminated uploads are not looked for")
		return
	}
	after, _ := contents(ctx, t, e.h)
	var left, gone []string
	for n := range after {
		if !before[n] {
			left = append(left, n)
		}
	}
	for n := range before {
		if !after[n] {
			gone = append(gone, n)
		}
	}
	slices.Sort(left)
	slices.Sort(gone)
	if len(left) > 0 {
		t.Errorf("termination left %q in the storage: Terminate must remove every byte and every record of the upload", left)
	}
	if len(gone) > 0 {
		t.Errorf("termination removed %q, which held an upload that was not terminated", gone)
	}
}

func checkServeContentRanges(ctx context.Context, t tester, e *env) {
	want := payload(10000, 12)
	id := newID("serve")
	e.upload(ctx, t, tus.FileInfo{ID: id}, want, 3)
	res, body := e.serve(ctx, t, id, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("ServeContent: status %d, %d bytes; want 200 and the %d bytes written", res.StatusCode, len(body), len(want))
	}
	if cl := res.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(want)) {
		t.Errorf("ServeContent: Content-Length %s, want %d", cl, len(want))
	}
	for _, r := range []struct {
		header     string
		start, end int // of the bytes served
	}{
		{"bytes=100-199", 100, 200},
		{"bytes=0-0", 0, 1},
		{"bytes=9990-", 9990, 10000},
		{"bytes=-25", 9975, 10000},
		{"bytes=5000-20000", 5000, 10000},
	} {
		res, body := e.serve(ctx, t, id, []string{"Range", r.header})
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[r.start:r.end]) {
			t.Fatalf("ServeContent with Range: %s: status %d, %d bytes; want 206 and bytes %d to %d", r.header, res.StatusCode, len(body), r.start, r.end-1)
		}
		if cr, wantCR := res.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", r.start, r.end-1, len(want)); cr != wantCR {
			t.Fatalf("ServeContent with Range: %s: Content-Range %q, want %q", r.header, cr, wantCR)
		}
	}
	if res, _ := e.serve(ctx, t, id, []string{"Range", "bytes=10000-"}); res.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("ServeContent with Range: bytes=10000- (past the end): status %d, want 416", res.StatusCode)
	}
	if etag := res.Header.Get("ETag"); etag != "" {
		if res, _ := e.serve(ctx, t, id, []string{"If-None-Match", etag}); res.StatusCode != http.StatusNotModified {
			t.Fatalf("ServeContent with If-None-Match: %s (its own ETag): status %d, want 304", etag, res.StatusCode)
		}
	}
	empty := newID("serve-empty")
	e.upload(ctx, t, tus.FileInfo{ID: empty}, nil, 1)
	if res, body := e.serve(ctx, t, empty, nil); res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Fatalf("ServeContent of an upload of length 0: status %d, %d bytes; want 200 and none", res.StatusCode, len(body))
	}
}

func checkParallelUploads(ctx context.Context, t tester, e *env) {
	const uploads, chunks = 16, 8
	ids := make([]string, uploads)
	wants := make([][]byte, uploads)
	for i := range ids {
		ids[i] = newID("parallel" + strconv.Itoa(i))
		wants[i] = payload(chunks*(16<<10)+i, int64(200+i))
	}
	errs := make(chan error, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writeWhole(ctx, e.c, ids[i], wants[i], chunks)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("uploads written in parallel: %v", err)
		}
	}
	if t.Failed() {
		return
	}
	for i, id := range ids {
		e.checkBytes(ctx, t, id, wants[i])
	}
}

// writeWhole creates upload id and writes want in chunks, as one client
// does; it returns the first error instead of failing a test, since it
// runs beside others.
func writeWhole(ctx context.Context, c *tus.StoreComposer, id string, want []byte, chunks int) error {
	if _, err := c.Core.NewUpload(ctx, tus.FileInfo{ID: id, Size: int64(len(want))}); err != nil {
		return fmt.Errorf("NewUpload(%s): %w", id, err)
	}
	step := (len(want) + chunks - 1) / chunks
	for off := 0; off < len(want); off += step {
		up, err := c.Core.GetUpload(ctx, id)
		if err != nil {
			return fmt.Errorf("GetUpload(%s): %w", id, err)
		}
		chunk := want[off:min(off+step, len(want))]
		n, err := up.WriteChunk(ctx, int64(off), bytes.NewReader(chunk))
		if err != nil || n != int64(len(chunk)) {
			return fmt.Errorf("WriteChunk of %d bytes at %d into %s: stored %d, %v", len(chunk), off, id, n, err)
		}
		info, err := up.GetInfo(ctx)
		if err != nil {
			return fmt.Errorf("GetInfo(%s): %w", id, err)
		}
		if msg := growthError(id, int64(off), n, info.Offset); msg != "" {
			return errors.New(msg)
		}
	}
	up, err := c.Core.GetUpload(ctx, id)
	if err != nil {
		return fmt.Errorf("GetUpload(%s): %w", id, err)
	}
	if err := up.FinishUpload(ctx); err != nil {
		return fmt.Errorf("FinishUpload(%s): %w", id, err)
	}
	return nil
}

// listed returns what ListUploads reports, by ID, and fails t if an
// upload is reported more than once.
func (e *env) listed(ctx context.Context, t tester) map[string]tus.ListedUpload {
	t.Helper()
	got := map[string]tus.ListedUpload{}
	err := e.c.Lister.ListUploads(ctx, func(u tus.ListedUpload) error {
		if _, dup := got[u.ID]; dup {
			return fmt.Errorf("upload %s reported twice: ListUploads must report each upload exactly once", u.ID)
		}
		got[u.ID] = u
		return nil
	})
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	return got
}

func checkListUploads(ctx context.Context, t tester, e *env) {
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	type want struct {
		finished bool
		expires  time.Time
	}
	wants := map[string]want{}
	unfinished := newID("list-unfinished")
	e.create(ctx, t, tus.FileInfo{ID: unfinished, Size: 100, ExpiresAt: expires})
	e.write(ctx, t, unfinished, 0, payload(10, 13))
	wants[unfinished] = want{false, expires}
	never := newID("list-never")
	e.create(ctx, t, tus.FileInfo{ID: never, Size: 100})
	wants[never] = want{false, time.Time{}}
	done := newID("list-finished")
	e.upload(ctx, t, tus.FileInfo{ID: done, ExpiresAt: expires}, payload(1000, 14), 2)
	wants[done] = want{true, expires}
	if e.c.UsesLengthDeferrer() {
		id := newID("list-deferred")
		e.create(ctx, t, tus.FileInfo{ID: id, SizeIsDeferred: true, ExpiresAt: expires.Add(time.Minute)})
		wants[id] = want{false, expires.Add(time.Minute)}
	}
	for i := range 30 { // more than one page of a listing
		id := newID("list-many" + strconv.Itoa(i))
		e.create(ctx, t, tus.FileInfo{ID: id, Size: 5, ExpiresAt: expires.Add(time.Duration(i) * time.Second)})
		wants[id] = want{false, expires.Add(time.Duration(i) * time.Second)}
	}
	compare := func(when string) {
		t.Helper()
		got := e.listed(ctx, t)
		for id, w := range wants {
			u, ok := got[id]
			switch {
			case !ok:
				t.Fatalf("%s: ListUploads did not report upload %s: it must report each upload the store holds", when, id)
			case u.Finished != w.finished:
				t.Fatalf("%s: ListUploads reports upload %s with Finished %v, want %v: Finished is true exactly for an upload that is complete and finished", when, id, u.Finished, w.finished)
			case !w.finished && !u.ExpiresAt.Equal(w.expires):
				t.Fatalf("%s: ListUploads reports the unfinished upload %s with ExpiresAt %v, want %v (its record's)", when, id, u.ExpiresAt, w.expires)
			}
		}
	}
	compare("listing")
	e.reopen(ctx, t)
	compare("listing after reopening the store")

	// The listing stops at fn's first error and returns it.
	stop := errors.New("storetest: stop listing")
	calls := 0
	err := e.c.Lister.ListUploads(ctx, func(tus.ListedUpload) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("ListUploads whose fn fails at once: error %v after %d calls; want fn's error after 1 call", err, calls)
	}

	if !e.c.UsesTerminater() {
		return
	}
	if err := e.c.Terminater.AsTerminatableUpload(e.get(ctx, t, unfinished)).Terminate(ctx); err != nil {
		t.Fatalf("Terminate(%s): %v", unfinished, err)
	}
	delete(wants, unfinished)
	if _, ok := e.listed(ctx, t)[unfinished]; ok {
		t.Fatalf("ListUploads reports the terminated upload %s", unfinished)
	}
	compare("listing after a termination")
}

func checkExtendExpiry(ctx context.Context, t tester, e *env) {
	first := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	later := first.Add(90 * time.Minute)
	id := newID("extend")
	e.create(ctx, t, tus.FileInfo{ID: id, Size: 100, ExpiresAt: first})
	e.write(ctx, t, id, 0, payload(40, 15))
	extend := func(id string, at time.Time) {
		t.Helper()
		if err := e.c.Extender.AsExtendableUpload(e.get(ctx, t, id)).ExtendExpiry(ctx, at); err != nil {
			t.Fatalf("ExtendExpiry(%v) of upload %s: %v", at, id, err)
		}
	}
	expect := func(when, id string, at time.Time, offset int64) {
		t.Helper()
		info := e.info(ctx, t, id)
		if !info.ExpiresAt.Equal(at) {
			t.Fatalf("%s: GetInfo reports ExpiresAt %v, want %v: ExtendExpiry must record the new expiry", when, info.ExpiresAt, at)
		}
		if info.Offset != offset || info.Size != 100 {
			t.Fatalf("%s: GetInfo reports Size %d, Offset %d; want 100, %d: ExtendExpiry must change nothing else", when, info.Size, info.Offset, offset)
		}
		if e.c.UsesLister() {
			if u, ok := e.listed(ctx, t)[id]; !ok || !u.ExpiresAt.Equal(at) {
				t.Fatalf("%s: ListUploads reports upload %s (found %v) with ExpiresAt %v, want %v", when, id, ok, u.ExpiresAt, at)
			}
		}
	}
	extend(id, later)
	expect("after ExtendExpiry", id, later, 40)
	e.reopen(ctx, t)
	expect("after ExtendExpiry and reopening the store", id, later, 40)
	e.write(ctx, t, id, 40, payload(10, 16))
	expect("after ExtendExpiry and a write", id, later, 50)

	// An upload created without an expiry gets one.
	never := newID("extend-never")
	e.create(ctx, t, tus.FileInfo{ID: never, Size: 100})
	extend(never, first)
	expect("an upload created without an expiry, after ExtendExpiry", never, first, 0)
}

// checkSweepExpired runs the handler's expiry sweep (Handler.SweepExpired)
// over the store: it must remove exactly the unfinished uploads past their
// expiry, every byte and record of them, and leave the rest as they were.
func checkSweepExpired(ctx context.Context, t tester, e *env) {
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	kept := map[string][]byte{} // complete uploads that stay, with their bytes
	done := newID("sweep-finished")
	kept[done] = payload(3000, 17)
	e.upload(ctx, t, tus.FileInfo{ID: done, ExpiresAt: past}, kept[done], 2)
	before, canLook := contents(ctx, t, e.h)

	var expired, alive []string
	add := func(info tus.FileInfo, n int) {
		t.Helper()
		e.create(ctx, t, info)
		if n > 0 {
			e.write(ctx, t, info.ID, 0, payload(n, 18))
		}
	}
	for i := range 3 {
		id := newID("sweep-expired" + strconv.Itoa(i))
		add(tus.FileInfo{ID: id, Size: 10000, ExpiresAt: past}, 1000*i)
		expired = append(expired, id)
	}
	if e.c.UsesLengthDeferrer() {
		id := newID("sweep-expired-deferred")
		add(tus.FileInfo{ID: id, SizeIsDeferred: true, ExpiresAt: past}, 500)
		expired = append(expired, id)
	}
	for _, info := range []tus.FileInfo{
		{ID: newID("sweep-future"), Size: 100, ExpiresAt: future},
		{ID: newID("sweep-never"), Size: 100},
	} {
		add(info, 10)
		alive = append(alive, info.ID)
	}

	h, err := tus.NewHandler(tus.Config{StoreComposer: e.c})
	if err != nil {
		t.Fatalf("NewHandler over the store: %v", err)
	}
	res, err := h.SweepExpired(ctx)
	if err != nil {
		t.Fatalf("Handler.SweepExpired: %v", err)
	}
	if res.Expired != len(expired) || res.Failed != 0 || res.Busy != 0 || res.Skipped {
		t.Fatalf("Handler.SweepExpired: %+v; want %d expired and none failed, busy or skipped", res, len(expired))
	}
	for _, id := range expired {
		if _, err := e.c.Core.GetUpload(ctx, id); !errors.Is(err, tus.ErrNotFound) {
			t.Fatalf("GetUpload of the expired upload %s after the sweep returned error %v: the sweep must remove it (tus.ErrNotFound)", id, err)
		}
	}
	for _, id := range alive {
		if got := e.info(ctx, t, id).Offset; got != 10 {
			t.Fatalf("upload %s, not expired, has offset %d after the sweep, want 10: the sweep must leave it alone", id, got)
		}
	}
	e.checkBytes(ctx, t, done, kept[done])
	if got := e.listed(ctx, t); len(got) != len(alive)+len(kept) {
		t.Fatalf("ListUploads after the sweep reports %d uploads, want %d (the expired ones gone)", len(got), len(alive)+len(kept))
	}
	if !canLook {
		return
	}
	after, _ := contents(ctx, t, e.h)
	var left []string
	for n := range after {
		if !before[n] && !slices.ContainsFunc(alive, func(id string) bool { return strings.Contains(n, id) }) {
			left = append(left, n)
		}
	}
	slices.Sort(left)
	if len(left) > 0 {
		t.Errorf("the expiry sweep left %q in the storage: terminating an expired upload must remove every byte and every record of it", left)
	}
	for n := range before {
		if !after[n] {
			t.Errorf("the expiry sweep removed %q, which held a finished upload", n)
		}
	}
}
