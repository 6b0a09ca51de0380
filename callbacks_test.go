package tus_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/golang/mock/gomock"

	"github.com/tusgo/tus"
)

func TestPreUploadCreateCallbackRejects(t *testing.T) {
	tests := []struct {
		name    string
		resp    tus.HTTPResponse
		err     error
		status  int
		body    string // exact body; "" to check code instead
		code    string
		headers map[string]string
	}{
		{
			name:    "own response",
			resp:    tus.HTTPResponse{StatusCode: 422, Body: "quota exceeded", Header: map[string]string{"X-Quota-Left": "0", "Content-Type": "text/x-custom"}},
			err:     errors.New("user 42 over quota"),
			status:  422,
			body:    "quota exceeded",
			headers: map[string]string{"X-Quota-Left": "0", "Content-Type": "text/x-custom", "Content-Length": "14"},
		},
		{
			name:    "own status, body from the *Error",
			resp:    tus.HTTPResponse{StatusCode: 429},
			err:     tus.NewError(429, "ERR_RATE_LIMITED", "slow down"),
			status:  429,
			code:    "ERR_RATE_LIMITED",
			headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		},
		{
			name:   "status from a wrapped *Error",
			err:    errors.Join(errors.New("ctx"), tus.NewError(402, "ERR_PAYMENT_REQUIRED", "payment required")),
			status: 402,
			code:   "ERR_PAYMENT_REQUIRED",
		},
		{
			name:   "plain error is a 500",
			err:    errors.New("ldap://10.0.0.5 unreachable"),
			status: 500,
			code:   "ERR_INTERNAL_SERVER_ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			e := newMockEnv(t, withConfig(func(c *tus.Config) {
				c.PreUploadCreateCallback = func(tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
					calls++
					return tt.resp, tus.FileInfoChanges{ID: "ignored"}, tt.err
				}
			})) // NewUpload is not expected
			w := e.serveRaw(newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10"}))
			eq(t, "callback calls", calls, 1)
			eq(t, "status", w.Code, tt.status)
			if tt.body != "" {
				eq(t, "body", w.Body.String(), tt.body)
			} else {
				wantError(t, w, tt.status, tt.code)
				oneLine(t, w.Body.String())
			}
			notContains(t, "body", w.Body.String(), "10.0.0.5")
			headers(t, w.Header(), tt.headers)
			absent(t, w.Header(), "Location")
		})
	}
}

func oneLine(t testing.TB, body string) {
	t.Helper()
	if body == "" || strings.Contains(strings.TrimSuffix(body, "\n"), "\n") {
		t.Errorf("body %q is not one line", body)
	}
}

func TestPreUploadCreateCallbackChanges(t *testing.T) {
	var ev tus.HookEvent
	e := newMockEnv(t, withConfig(func(c *tus.Config) {
		c.PreUploadCreateCallback = func(event tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
			ev = event
			return tus.HTTPResponse{Header: map[string]string{"X-Owner": "42"}},
				tus.FileInfoChanges{ID: "user-42_upload-7", MetaData: tus.MetaData{"owner": "42"}}, nil
		}
	}))
	up, seen := e.expectNew()
	c := expectWrite(up)
	r := newReq(http.MethodPost, "/", strings.NewReader("abc"), hdr{
		"Upload-Length": "10", "Upload-Metadata": "filename YS50eHQ=", "Content-Type": octet,
	})
	w := e.serve(r)
	eq(t, "status", w.Code, http.StatusCreated)
	eq(t, "Location", w.Header().Get("Location"), "http://"+testHost+"/files/user-42_upload-7")
	eq(t, "Upload-Offset", w.Header().Get("Upload-Offset"), "3")
	eq(t, "callback's header", w.Header().Get("X-Owner"), "42")
	eq(t, "store ID", seen.ID, "user-42_upload-7")
	if !reflect.DeepEqual(seen.MetaData, tus.MetaData{"owner": "42"}) {
		t.Errorf("store metadata = %v, want the callback's", seen.MetaData)
	}
	eq(t, "store size", seen.Size, int64(10))
	_, _, data, _ := c.get()
	eq(t, "written", data, "abc")

	// What the callback saw: the request and the upload as asked.
	if !tus.ValidID(ev.Upload.ID) || ev.Upload.ID == "user-42_upload-7" {
		t.Errorf("callback saw ID %q, want the generated one", ev.Upload.ID)
	}
	if !reflect.DeepEqual(ev.Upload.MetaData, tus.MetaData{"filename": "a.txt"}) {
		t.Errorf("callback saw metadata %v", ev.Upload.MetaData)
	}
	eq(t, "callback Size", ev.Upload.Size, int64(10))
	eq(t, "callback method", ev.HTTPRequest.Method, http.MethodPost)
	eq(t, "callback URI", ev.HTTPRequest.URI, "http://"+testHost+"/")
	eq(t, "callback RemoteAddr", ev.HTTPRequest.RemoteAddr, "192.0.2.1:1234")
	eq(t, "callback header", ev.HTTPRequest.Header.Get("Upload-Length"), "10")
	if ev.Context == nil {
		t.Error("callback event has no context")
	}
}

func TestPreUploadCreateCallbackBadChanges(t *testing.T) {
	for _, id := range []string{"../../etc/passwd", "a.b", strings.Repeat("x", 129), "sp ace"} {
		t.Run(id[:min(len(id), 20)], func(t *testing.T) {
			e := newMockEnv(t, withConfig(func(c *tus.Config) {
				c.PreUploadCreateCallback = func(tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
					return tus.HTTPResponse{}, tus.FileInfoChanges{ID: id}, nil
				}
			})) // NewUpload is not expected
			w := e.serve(newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10"}))
			wantError(t, w, http.StatusInternalServerError, "ERR_INTERNAL_SERVER_ERROR")
			notContains(t, "body", w.Body.String(), id)
		})
	}
	t.Run("taken ID", func(t *testing.T) {
		h, store, _ := newMemHandler(t, tus.Config{
			PreUploadCreateCallback: func(tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
				return tus.HTTPResponse{}, tus.FileInfoChanges{ID: "fixed"}, nil
			},
		})
		store.put(tus.FileInfo{ID: "fixed", Size: 3}, "abc")
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "10"}))
		wantError(t, w, http.StatusConflict, "ERR_UPLOAD_EXISTS")
		data, _, _ := store.state("fixed")
		eq(t, "existing upload untouched", data, "abc")
	})
}

func TestPreFinishResponseCallback(t *testing.T) {
	type call struct {
		id     string
		offset int64
		size   int64
	}
	var mu sync.Mutex
	var calls []call
	var resp tus.HTTPResponse
	var cbErr error
	cfg := tus.Config{PreFinishResponseCallback: func(ev tus.HookEvent) (tus.HTTPResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{ev.Upload.ID, ev.Upload.Offset, ev.Upload.Size})
		return resp, cbErr
	}}
	reset := func(r tus.HTTPResponse, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls, resp, cbErr = nil, r, err
	}
	got := func() []call {
		mu.Lock()
		defer mu.Unlock()
		return append([]call(nil), calls...)
	}
	h, store, _ := newMemHandler(t, cfg)

	t.Run("not called before the last byte", func(t *testing.T) {
		reset(tus.HTTPResponse{StatusCode: 200, Body: "x"}, nil)
		store.put(tus.FileInfo{ID: "a", Size: 10}, "")
		w := serve(t, h, newReq(http.MethodPatch, "/a", strings.NewReader("abc"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
		eq(t, "status", w.Code, http.StatusNoContent)
		eq(t, "callback calls", len(got()), 0)
	})
	t.Run("response merged into the last PATCH", func(t *testing.T) {
		reset(tus.HTTPResponse{StatusCode: 200, Body: "thanks", Header: map[string]string{"X-Scan": "clean"}}, nil)
		store.put(tus.FileInfo{ID: "b", Size: 5}, "ab")
		w := serve(t, h, newReq(http.MethodPatch, "/b", strings.NewReader("cde"), hdr{"Content-Type": octet, "Upload-Offset": "2"}))
		eq(t, "status", w.Code, http.StatusOK)
		eq(t, "body", w.Body.String(), "thanks")
		headers(t, w.Header(), map[string]string{"X-Scan": "clean", "Upload-Offset": "5", "Content-Length": "6"})
		if c := got(); len(c) != 1 || c[0] != (call{"b", 5, 5}) {
			t.Errorf("callback calls = %+v, want one for b at 5/5", c)
		}
		_, finishes, _ := store.state("b")
		eq(t, "FinishUpload calls", finishes, 1)
	})
	t.Run("headers only keep the status", func(t *testing.T) {
		reset(tus.HTTPResponse{Header: map[string]string{"X-Finished": "1"}}, nil)
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "0"}))
		eq(t, "status", w.Code, http.StatusCreated)
		eq(t, "X-Finished", w.Header().Get("X-Finished"), "1")
		eq(t, "body", w.Body.String(), "")
		id := idFromLocation(t, w.Header().Get("Location"))
		if c := got(); len(c) != 1 || c[0] != (call{id, 0, 0}) {
			t.Errorf("callback calls = %+v, want one for the zero-length upload", c)
		}
	})
	t.Run("rejection with its own response", func(t *testing.T) {
		reset(tus.HTTPResponse{StatusCode: 422, Body: "virus found", Header: map[string]string{"X-Scan": "infected"}}, errors.New("EICAR"))
		store.put(tus.FileInfo{ID: "c", Size: 3}, "")
		r := newReq(http.MethodPatch, "/c", strings.NewReader("abc"), hdr{"Content-Type": octet, "Upload-Offset": "0"})
		w := httptestServe(h, r)
		eq(t, "status", w.Code, 422)
		eq(t, "body", w.Body.String(), "virus found")
		eq(t, "X-Scan", w.Header().Get("X-Scan"), "infected")
		eq(t, "Tus-Resumable", w.Header().Get("Tus-Resumable"), tusVersion)
	})
	t.Run("rejection with an *Error", func(t *testing.T) {
		reset(tus.HTTPResponse{}, tus.ErrAccessDenied)
		store.put(tus.FileInfo{ID: "d", Size: 3}, "")
		w := serve(t, h, newReq(http.MethodPatch, "/d", strings.NewReader("abc"), hdr{"Content-Type": octet, "Upload-Offset": "0"}))
		wantError(t, w, http.StatusForbidden, "ERR_ACCESS_DENIED")
	})
	t.Run("called for a final upload concatenated at creation", func(t *testing.T) {
		reset(tus.HTTPResponse{Header: map[string]string{"X-Final": "yes"}}, nil)
		store.put(tus.FileInfo{ID: "p1", Size: 2, IsPartial: true}, "ab")
		store.put(tus.FileInfo{ID: "p2", Size: 1, IsPartial: true}, "c")
		w := serve(t, h, newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;/files/p1 /files/p2"}))
		eq(t, "status", w.Code, http.StatusCreated)
		eq(t, "X-Final", w.Header().Get("X-Final"), "yes")
		id := idFromLocation(t, w.Header().Get("Location"))
		if c := got(); len(c) != 1 || c[0] != (call{id, 3, 3}) {
			t.Errorf("callback calls = %+v, want one for the final upload at 3/3", c)
		}
	})
}

func httptestServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPreUploadTerminateCallback(t *testing.T) {
	t.Run("rejects with its own response", func(t *testing.T) {
		var seen tus.HookEvent
		e := newMockEnv(t, withTerminater, withConfig(func(c *tus.Config) {
			c.PreUploadTerminateCallback = func(ev tus.HookEvent) (tus.HTTPResponse, error) {
				seen = ev
				return tus.HTTPResponse{StatusCode: 423, Body: "legal hold", Header: map[string]string{"X-Hold": "case-7"}}, errors.New("hold")
			}
		}))
		e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 4, MetaData: tus.MetaData{"k": "v"}})
		// Terminate is not expected.
		w := e.serveRaw(newReq(http.MethodDelete, "/up1", nil, nil))
		eq(t, "status", w.Code, http.StatusLocked)
		eq(t, "body", w.Body.String(), "legal hold")
		eq(t, "X-Hold", w.Header().Get("X-Hold"), "case-7")
		eq(t, "event upload", seen.Upload.ID, "up1")
		eq(t, "event offset", seen.Upload.Offset, int64(4))
		eq(t, "event metadata", seen.Upload.MetaData["k"], "v")
		eq(t, "event method", seen.HTTPRequest.Method, http.MethodDelete)
	})
	t.Run("rejects with an *Error", func(t *testing.T) {
		e := newMockEnv(t, withTerminater, withConfig(func(c *tus.Config) {
			c.PreUploadTerminateCallback = func(tus.HookEvent) (tus.HTTPResponse, error) {
				return tus.HTTPResponse{}, tus.ErrAccessDenied.WithMessage("only the owner may delete")
			}
		}))
		e.upload(tus.FileInfo{ID: "up1", Size: 10})
		w := e.serve(newReq(http.MethodDelete, "/up1", nil, nil))
		wantError(t, w, http.StatusForbidden, "ERR_ACCESS_DENIED")
		contains(t, "body", w.Body.String(), "only the owner may delete")
	})
	t.Run("accepts and adds headers", func(t *testing.T) {
		e := newMockEnv(t, withTerminater, withConfig(func(c *tus.Config) {
			c.PreUploadTerminateCallback = func(tus.HookEvent) (tus.HTTPResponse, error) {
				return tus.HTTPResponse{Header: map[string]string{"X-Deleted-By": "alice"}}, nil
			}
		}))
		up := e.upload(tus.FileInfo{ID: "up1", Size: 10})
		tu := NewMockTerminatableUpload(e.ctrl)
		e.term.EXPECT().AsTerminatableUpload(up).Return(tu)
		tu.EXPECT().Terminate(gomock.Any()).Return(nil).Times(1)
		w := e.serve(newReq(http.MethodDelete, "/up1", nil, nil))
		eq(t, "status", w.Code, http.StatusNoContent)
		eq(t, "X-Deleted-By", w.Header().Get("X-Deleted-By"), "alice")
	})
}

func TestAccessCallback(t *testing.T) {
	type access struct {
		action string
		id     string
		method string
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		want   []access // "" id: the generated one
		status int      // when allowed
		check  func(t *testing.T, s *memStore)
	}{
		{"create", func() *http.Request {
			return newReq(http.MethodPost, "/", nil, hdr{"Upload-Length": "3"})
		}, []access{{tus.ActionCreate, "", http.MethodPost}}, 201, nil},
		{"create final", func() *http.Request {
			return newReq(http.MethodPost, "/", nil, hdr{"Upload-Concat": "final;/files/part1 /files/part2"})
		}, []access{{tus.ActionConcatenate, "part1", http.MethodPost}, {tus.ActionConcatenate, "part2", http.MethodPost}, {tus.ActionCreate, "", http.MethodPost}}, 201, nil},
		{"head", func() *http.Request {
			return newReq(http.MethodHead, "/up1", nil, nil)
		}, []access{{tus.ActionReadOffset, "up1", http.MethodHead}}, 200, nil},
		{"patch", func() *http.Request {
			return newReq(http.MethodPatch, "/up1", strings.NewReader("d"), hdr{"Content-Type": octet, "Upload-Offset": "3"})
		}, []access{{tus.ActionWrite, "up1", http.MethodPatch}}, 204, func(t *testing.T, s *memStore) {
			data, _, _ := s.state("up1")
			eq(t, "content", data, "abcd")
		}},
		{"get", func() *http.Request {
			return newReq(http.MethodGet, "/done", nil, nil)
		}, []access{{tus.ActionDownload, "done", http.MethodGet}}, 200, nil},
		{"delete", func() *http.Request {
			return newReq(http.MethodDelete, "/up1", nil, nil)
		}, []access{{tus.ActionTerminate, "up1", http.MethodDelete}}, 204, func(t *testing.T, s *memStore) {
			_, _, ok := s.state("up1")
			eq(t, "upload exists", ok, false)
		}},
	}
	refusals := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"plain error", errors.New("token expired"), 403, "ERR_ACCESS_DENIED"},
		{"ErrAccessDenied", tus.ErrAccessDenied, 403, "ERR_ACCESS_DENIED"},
		{"custom *Error", tus.NewError(401, "ERR_UNAUTHENTICATED", "log in first"), 401, "ERR_UNAUTHENTICATED"},
	}
	setup := func(s *memStore) {
		s.put(tus.FileInfo{ID: "up1", Size: 10}, "abc")
		s.put(tus.FileInfo{ID: "done", Size: 2}, "ok")
		s.put(tus.FileInfo{ID: "part1", Size: 1, IsPartial: true}, "a")
		s.put(tus.FileInfo{ID: "part2", Size: 1, IsPartial: true}, "b")
	}
	for _, tt := range tests {
		run := func(t *testing.T, refuse error) ([]access, *httptest.ResponseRecorder, *memStore) {
			var mu sync.Mutex
			var got []access
			h, s, _ := newMemHandler(t, tus.Config{AccessCallback: func(ev tus.AccessEvent) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, access{ev.Action, ev.Upload.ID, ev.HTTPRequest.Method})
				return refuse
			}})
			setup(s)
			w := httptestServe(h, tt.req())
			mu.Lock()
			defer mu.Unlock()
			return got, w, s
		}
		t.Run(tt.name+" allowed", func(t *testing.T) {
			got, w, s := run(t, nil)
			eq(t, "status", w.Code, tt.status)
			if len(got) != len(tt.want) {
				t.Fatalf("access checks = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				want := tt.want[i]
				if want.id == "" {
					want.id = idFromLocation(t, w.Header().Get("Location"))
				}
				eq(t, "access check", got[i], want)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
		for _, ref := range refusals {
			t.Run(tt.name+" refused with "+ref.name, func(t *testing.T) {
				got, w, s := run(t, ref.err)
				if len(got) != 1 {
					t.Errorf("access checks = %+v, want the first one only", got)
				}
				checkCommon(t, tt.req().Method, w.Code, w.Header(), w.Body.String())
				eq(t, "status", w.Code, ref.status)
				if tt.req().Method != http.MethodHead {
					contains(t, "body", w.Body.String(), ref.code+": ")
					notContains(t, "body", w.Body.String(), "token expired")
				}
				absent(t, w.Header(), "Location", "Upload-Offset", "Content-Disposition")
				// Nothing changed.
				data, _, ok := s.state("up1")
				eq(t, "up1 still exists", ok, true)
				eq(t, "up1 content", data, "abc")
				s.mu.Lock()
				n := len(s.uploads)
				s.mu.Unlock()
				eq(t, "uploads in the store", n, 4)
			})
		}
	}
}

// TestAccessCallbackRejectWith refuses with a response of the callback's:
// its status and headers, the error's code.
func TestAccessCallbackRejectWith(t *testing.T) {
	var codes []string
	h, store, _ := newMemHandler(t, tus.Config{
		AccessCallback: func(ev tus.AccessEvent) error {
			if ev.HTTPRequest.Header.Get("Authorization") == "" {
				return tus.RejectWith(tus.HTTPResponse{StatusCode: http.StatusUnauthorized,
					Header: map[string]string{"WWW-Authenticate": `Bearer realm="uploads"`}}, tus.ErrAccessDenied)
			}
			return nil
		},
		ErrorObserver: func(_ *http.Request, status int, code string) { codes = append(codes, itoa(int64(status))+" "+code) },
	})
	store.put(tus.FileInfo{ID: "up1", Size: 3}, "")
	w := serve(t, h, newReq(http.MethodHead, "/up1", nil, nil))
	eq(t, "status", w.Code, http.StatusUnauthorized)
	eq(t, "WWW-Authenticate", w.Header().Get("WWW-Authenticate"), `Bearer realm="uploads"`)
	w = serve(t, h, newReq(http.MethodHead, "/up1", nil, hdr{"Authorization": "Bearer x"}))
	eq(t, "authorised status", w.Code, http.StatusOK)
	eq(t, "observed", strings.Join(codes, ","), "401 ERR_ACCESS_DENIED")
}
