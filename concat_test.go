package tus_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestPostFinalUpload(t *testing.T) {
	complete := func(id string, size int64) tus.FileInfo {
		return tus.FileInfo{ID: id, Size: size, Offset: size, IsPartial: true}
	}
	tests := []struct {
		name     string
		opts     []envOpt
		concat   string
		hdr      hdr
		body     string
		partials []tus.FileInfo // registered in the store
		missing  []string       // IDs the store does not know
		status   int
		code     string
		size     int64 // final size the store must see
		concated bool  // ConcatUploads + FinishUpload expected
	}{
		{
			name:     "complete partials, relative and absolute URLs",
			concat:   "final;/files/p1 http://" + testHost + "/files/p2",
			partials: []tus.FileInfo{complete("p1", 3), complete("p2", 4)},
			status:   201, size: 7, concated: true,
		},
		{
			name:     "extra spaces between URLs",
			concat:   "final; /files/p1   /files/p2 ",
			partials: []tus.FileInfo{complete("p1", 3), complete("p2", 0)},
			status:   201, size: 3, concated: true,
		},
		{
			name:     "unfinished partial: created, not concatenated",
			concat:   "final;/files/p1 /files/p2",
			partials: []tus.FileInfo{complete("p1", 3), {ID: "p2", Size: 4, Offset: 1, IsPartial: true}},
			status:   201, size: 7,
		},
		{
			name:     "a non-partial upload",
			concat:   "final;/files/p1 /files/p2",
			partials: []tus.FileInfo{complete("p1", 3), {ID: "p2", Size: 4, Offset: 4}},
			status:   400, code: "ERR_INVALID_CONCAT",
		},
		{
			name:     "an unknown upload",
			concat:   "final;/files/p1 /files/nope",
			partials: []tus.FileInfo{complete("p1", 3)},
			missing:  []string{"nope"},
			status:   400, code: "ERR_INVALID_CONCAT",
		},
		{
			name:     "a partial with deferred length",
			concat:   "final;/files/p1 /files/p2",
			partials: []tus.FileInfo{complete("p1", 3), {ID: "p2", SizeIsDeferred: true, IsPartial: true}},
			status:   400, code: "ERR_INVALID_CONCAT",
		},
		{name: "no URLs", concat: "final;", status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "only spaces", concat: "final;   ", status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "invalid ID in URL", concat: "final;/files/a.b", status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "dot-dot segment", concat: "final;/files/..", status: 400, code: "ERR_INVALID_CONCAT"},
		{name: "no semicolon", concat: "final /files/p1", status: 400, code: "ERR_INVALID_CONCAT"},
		{
			name:   "with Upload-Length",
			concat: "final;/files/p1", hdr: hdr{"Upload-Length": "3"},
			status: 400, code: "ERR_INVALID_UPLOAD_LENGTH",
		},
		{
			name:     "with a body",
			concat:   "final;/files/p1",
			hdr:      hdr{"Content-Type": octet},
			body:     "abc",
			partials: []tus.FileInfo{complete("p1", 3)},
			status:   403, code: "ERR_MODIFY_FINAL",
		},
		{
			name:     "sum above max size",
			opts:     []envOpt{withConfig(func(c *tus.Config) { c.MaxSize = 6 })},
			concat:   "final;/files/p1 /files/p2",
			partials: []tus.FileInfo{complete("p1", 3), complete("p2", 4)},
			status:   413, code: "ERR_MAX_SIZE_EXCEEDED",
		},
		{
			name:     "sum overflows int64",
			concat:   "final;/files/p1 /files/p2",
			partials: []tus.FileInfo{complete("p1", 1<<62), complete("p2", 1<<62)},
			status:   413, code: "ERR_MAX_SIZE_EXCEEDED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMockEnv(t, append([]envOpt{withConcater}, tt.opts...)...)
			var ups []tus.Upload
			for _, p := range tt.partials {
				ups = append(ups, e.upload(p))
			}
			for _, id := range tt.missing {
				e.missing(id)
			}
			var seen *tus.FileInfo
			if tt.status == 201 {
				var fin *MockUpload
				fin, seen = e.expectNew()
				if tt.concated {
					cu := NewMockConcatableUpload(e.ctrl)
					e.concat.EXPECT().AsConcatableUpload(fin).Return(cu)
					gomock.InOrder(
						cu.EXPECT().ConcatUploads(gomock.Any(), ups).Return(nil).Times(1),
						fin.EXPECT().FinishUpload(gomock.Any()).Return(nil).Times(1),
					)
				}
			}
			h := hdr{"Upload-Concat": tt.concat}
			for k, v := range tt.hdr {
				h[k] = v
			}
			w := e.serve(newReq(http.MethodPost, "/", strings.NewReader(tt.body), h))
			eq(t, "status", w.Code, tt.status)
			if tt.code != "" {
				wantError(t, w, tt.status, tt.code)
				absent(t, w.Header(), "Location")
				return
			}
			eq(t, "Location", w.Header().Get("Location"), "http://"+testHost+"/files/"+seen.ID)
			var ids []string
			for _, p := range tt.partials {
				ids = append(ids, p.ID)
			}
			want := FileInfo{ID: seen.ID, Size: tt.size, IsFinal: true, PartialUploads: ids}
			if got := fileInfo(*seen); !reflect.DeepEqual(got, want) {
				t.Errorf("NewUpload info = %+v, want %+v", got, want)
			}
			if tt.concated {
				eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), fmt.Sprint(tt.size))
			} else {
				absent(t, w.Header(), "Upload-Offset")
			}
		})
	}
}

// An upload URL whose last segment holds encoded slashes names an invalid
// ID; it must not be taken for the upload named after the last slash.
func TestConcatURLWithEncodedSlashes(t *testing.T) {
	for _, u := range []string{"/files/..%2F..%2Fetc", "/files/a%2Fp1", "http://" + testHost + "/files/x%2F..%2Fp1"} {
		t.Run(u, func(t *testing.T) {
			e := newMockEnv(t, withConcater) // gomock fails the test on any store call
			w := e.serve(newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;" + u}))
			wantError(t, w, http.StatusBadRequest, "ERR_INVALID_CONCAT")
		})
	}
}

// The whole concatenation-unfinished flow on the in-memory store: a final
// upload is created from partials still being uploaded; HEAD shows no offset
// until the partials are done, then concatenates; GET serves the result.
func TestConcatenationUnfinishedFlow(t *testing.T) {
	h, store, _ := newMemHandler(t, tus.Config{})
	create := func(length string) string {
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": length, "Upload-Concat": "partial"}))
		mustEq(t, "create partial", w.Code, http.StatusCreated)
		return idFromLocation(t, w.Header().Get("Location"))
	}
	patch := func(id, offset, body string) {
		w := serve(t, h, newReq(http.MethodPatch, "/"+id, strings.NewReader(body), hdr{"Content-Type": octet, "Upload-Offset": offset}))
		mustEq(t, "PATCH status", w.Code, http.StatusNoContent)
	}
	p1, p2 := create("5"), create("6")
	patch(p1, "0", "hello")

	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;/files/" + p1 + " /files/" + p2}))
	mustEq(t, "create final", w.Code, http.StatusCreated)
	fin := idFromLocation(t, w.Header().Get("Location"))
	absent(t, w.Header(), "Upload-Offset")

	w = serve(t, h, newReq(http.MethodHead, "/"+fin, nil, nil))
	eq(t, "HEAD status", w.Code, http.StatusOK)
	absent(t, w.Header(), "Upload-Offset")
	eq(t, "Upload-Length", w.Header().Get("Upload-Length"), "11")

	w = serve(t, h, newReq(http.MethodGet, "/"+fin, nil, nil))
	eq(t, "GET unfinished final", w.Code, http.StatusConflict)

	w = serve(t, h, newReq(http.MethodPatch, "/"+fin, strings.NewReader("x"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
	eq(t, "PATCH final", w.Code, http.StatusForbidden)

	patch(p2, "0", " world")
	w = serve(t, h, newReq(http.MethodHead, "/"+fin, nil, nil))
	eq(t, "HEAD status", w.Code, http.StatusOK)
	eq(t, "Upload-Offset after concatenation", w.Header().Get("Upload-Offset"), "11")
	data, finishes, _ := store.state(fin)
	eq(t, "final content", data, "hello world")
	eq(t, "final FinishUpload calls", finishes, 1)

	w = serve(t, h, newReq(http.MethodGet, "/"+fin, nil, nil))
	eq(t, "GET status", w.Code, http.StatusOK)
	eq(t, "GET body", w.Body.String(), "hello world")
}

// tus 1.0, Concatenation: "The same partial upload MAY be present multiple
// times in the Upload-Concat header in one upload creation request or MAY be
// used in multiple upload creation requests." Each occurrence is copied, in
// order, and the partials stay as they were.
func TestConcatenationRepeatedPartial(t *testing.T) {
	h, store, locker := newMemHandler(t, tus.Config{})
	create := func(length string) string {
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": length, "Upload-Concat": "partial"}))
		mustEq(t, "create partial", w.Code, http.StatusCreated)
		return idFromLocation(t, w.Header().Get("Location"))
	}
	patch := func(id, offset, body string) {
		w := serve(t, h, newReq(http.MethodPatch, "/"+id, strings.NewReader(body), hdr{"Content-Type": octet, "Upload-Offset": offset}))
		mustEq(t, "PATCH status", w.Code, http.StatusNoContent)
	}
	// final creates a final upload of the partials ids and checks its
	// content, its length and the partials its HEAD names.
	final := func(want string, ids ...string) string {
		t.Helper()
		urls := make([]string, len(ids))
		for i, id := range ids {
			urls[i] = "/files/" + id
		}
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;" + strings.Join(urls, " ")}))
		mustEq(t, "create final", w.Code, http.StatusCreated)
		eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), fmt.Sprint(len(want)))
		fin := idFromLocation(t, w.Header().Get("Location"))
		data, finishes, _ := store.state(fin)
		eq(t, "final content", data, want)
		eq(t, "final FinishUpload calls", finishes, 1)

		w = serve(t, h, newReq(http.MethodHead, "/"+fin, nil, nil))
		eq(t, "Upload-Length", w.Header().Get("Upload-Length"), fmt.Sprint(len(want)))
		abs := make([]string, len(ids))
		for i, id := range ids {
			abs[i] = "http://" + testHost + "/files/" + id
		}
		eq(t, "Upload-Concat", w.Header().Get("Upload-Concat"), "final;"+strings.Join(abs, " "))
		w = serve(t, h, newReq(http.MethodGet, "/"+fin, nil, nil))
		eq(t, "GET body", w.Body.String(), want)
		return fin
	}
	a, b := create("5"), create("3")
	patch(a, "0", "AAAAa")
	patch(b, "0", "bbB")

	final("AAAAabbBAAAAa", a, b, a)
	final("AAAAabbB", a, b)
	final("bbBAAAAaAAAAa", b, a, a)
	for id, want := range map[string]string{a: "AAAAa", b: "bbB"} {
		data, finishes, _ := store.state(id)
		eq(t, "partial content", data, want)
		eq(t, "partial FinishUpload calls", finishes, 1)
	}
	eq(t, "locks held", locker.Len(), 0)
	store.checkInvariants(t, 0)
}

// A final upload naming a partial twice, created before that partial is
// complete, is filled once it is.
func TestConcatenationRepeatedPartialUnfinished(t *testing.T) {
	h, store, locker := newMemHandler(t, tus.Config{})
	create := func(length string) string {
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": length, "Upload-Concat": "partial"}))
		mustEq(t, "create partial", w.Code, http.StatusCreated)
		return idFromLocation(t, w.Header().Get("Location"))
	}
	patch := func(id, offset, body string) {
		w := serve(t, h, newReq(http.MethodPatch, "/"+id, strings.NewReader(body), hdr{"Content-Type": octet, "Upload-Offset": offset}))
		mustEq(t, "PATCH status", w.Code, http.StatusNoContent)
	}
	a, b := create("4"), create("2")
	patch(b, "0", "bb")
	patch(a, "0", "AA")
	w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;/files/" + a + " /files/" + b + " /files/" + a}))
	mustEq(t, "create final", w.Code, http.StatusCreated)
	absent(t, w.Header(), "Upload-Offset")
	fin := idFromLocation(t, w.Header().Get("Location"))

	w = serve(t, h, newReq(http.MethodHead, "/"+fin, nil, nil))
	absent(t, w.Header(), "Upload-Offset")
	eq(t, "Upload-Length", w.Header().Get("Upload-Length"), "10")

	patch(a, "2", "Aa")
	w = serve(t, h, newReq(http.MethodHead, "/"+fin, nil, nil))
	eq(t, "Upload-Offset after the partial finished", w.Header().Get("Upload-Offset"), "10")
	data, finishes, _ := store.state(fin)
	eq(t, "final content", data, "AAAabbAAAa")
	eq(t, "final FinishUpload calls", finishes, 1)
	w = serve(t, h, newReq(http.MethodGet, "/"+fin, nil, nil))
	eq(t, "GET body", w.Body.String(), "AAAabbAAAa")
	eq(t, "locks held", locker.Len(), 0)
	store.checkInvariants(t, 0)
}
