package hooks_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/hooks"
)

// allReplies has an empty reply for every hook type.
func allReplies() map[hooks.Type]string {
	m := make(map[hooks.Type]string)
	for _, typ := range hooks.AllTypes() {
		m[typ] = ""
	}
	return m
}

// TestEveryEventFires runs an upload's whole life with every hook enabled
// and checks that each hook fires with the right payload, through both
// backends.
func TestEveryEventFires(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			backend, log := newBackend(t, kind, allReplies())
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: hooks.AllTypes()}, nil)

			id := e.create("5", map[string]string{
				"Upload-Metadata": "filename aGVsbG8udHh0", // hello.txt
				"X-Custom":        "custom-value",
			})
			if res := e.patch(id, "hello"); res.status != http.StatusNoContent {
				t.Fatalf("PATCH: status %d, body %q", res.status, res.body)
			}
			if res := e.do(http.MethodHead, id, nil, nil); res.status != http.StatusOK {
				t.Fatalf("HEAD: status %d", res.status)
			}
			if res := e.do(http.MethodGet, id, nil, nil); res.status != http.StatusOK || res.body != "hello" {
				t.Fatalf("GET: status %d, body %q", res.status, res.body)
			}
			if res := e.do(http.MethodDelete, id, nil, nil); res.status != http.StatusNoContent {
				t.Fatalf("DELETE: status %d, body %q", res.status, res.body)
			}
			waitFor(t, "the post hooks", func() bool {
				reqs := log()
				return len(ofType(reqs, hooks.PostCreate)) > 0 && len(ofType(reqs, hooks.PostReceive)) > 0 &&
					len(ofType(reqs, hooks.PostFinish)) > 0 && len(ofType(reqs, hooks.PostTerminate)) > 0
			})
			reqs := log()

			one := func(typ hooks.Type) hooks.Request {
				t.Helper()
				got := ofType(reqs, typ)
				if len(got) != 1 {
					t.Fatalf("%s fired %d times, want once", typ, len(got))
				}
				return got[0]
			}
			wantMeta := tus.MetaData{"filename": "hello.txt"}

			pc := one(hooks.PreCreate)
			check(t, "pre-create size", pc.Event.Upload.Size, int64(5))
			check(t, "pre-create offset", pc.Event.Upload.Offset, int64(0))
			check(t, "pre-create metadata", reflect.DeepEqual(pc.Event.Upload.MetaData, wantMeta), true)
			check(t, "pre-create method", pc.Event.HTTPRequest.Method, http.MethodPost)
			check(t, "pre-create URI", pc.Event.HTTPRequest.URI, "/files/")
			check(t, "pre-create header", pc.Event.HTTPRequest.Header.Get("X-Custom"), "custom-value")
			check(t, "pre-create remote address", pc.Event.HTTPRequest.RemoteAddr != "", true)
			check(t, "pre-create access", pc.Event.Access == nil, true)

			for _, typ := range []hooks.Type{hooks.PostCreate, hooks.PostFinish, hooks.PreFinish, hooks.PreTerminate, hooks.PostTerminate} {
				r := one(typ)
				check(t, string(typ)+" ID", r.Event.Upload.ID, id)
				check(t, string(typ)+" metadata", reflect.DeepEqual(r.Event.Upload.MetaData, wantMeta), true)
			}
			check(t, "post-create method", one(hooks.PostCreate).Event.HTTPRequest.Method, http.MethodPost)
			check(t, "pre-finish method", one(hooks.PreFinish).Event.HTTPRequest.Method, http.MethodPatch)
			check(t, "pre-finish offset", one(hooks.PreFinish).Event.Upload.Offset, int64(5))
			check(t, "post-finish offset", one(hooks.PostFinish).Event.Upload.Offset, int64(5))
			check(t, "pre-terminate method", one(hooks.PreTerminate).Event.HTTPRequest.Method, http.MethodDelete)
			check(t, "post-terminate URI", one(hooks.PostTerminate).Event.HTTPRequest.URI, "/files/"+id)

			receives := ofType(reqs, hooks.PostReceive)
			last := receives[0]
			for _, r := range receives {
				check(t, "post-receive ID", r.Event.Upload.ID, id)
				if r.Event.Upload.Offset > last.Event.Upload.Offset {
					last = r
				}
			}
			check(t, "last post-receive offset", last.Event.Upload.Offset, int64(5))

			wantAccess := map[string]string{ // action → mode
				tus.ActionCreate:     hooks.ModeWrite,
				tus.ActionWrite:      hooks.ModeWrite,
				tus.ActionReadOffset: hooks.ModeRead,
				tus.ActionDownload:   hooks.ModeRead,
				tus.ActionTerminate:  hooks.ModeWrite,
			}
			accesses := ofType(reqs, hooks.PreAccess)
			gotActions := make(map[string]bool)
			for _, r := range accesses {
				a := r.Event.Access
				if a == nil || len(a.Files) != 1 {
					t.Fatalf("pre-access without Access or one file: %+v", r.Event)
				}
				gotActions[a.Action] = true
				check(t, "mode of "+a.Action, a.Mode, wantAccess[a.Action])
				check(t, "file of "+a.Action, a.Files[0].ID, r.Event.Upload.ID)
				if a.Action != tus.ActionCreate {
					check(t, "ID of "+a.Action, a.Files[0].ID, id)
				}
			}
			for action := range wantAccess {
				check(t, "pre-access for "+action, gotActions[action], true)
			}

			for _, inv := range e.invocations() {
				if inv.err != nil {
					t.Errorf("%s failed: %v", inv.typ, inv.err)
				}
			}
		})
	}
}

// TestWireFormat checks the JSON names a hook receives, which existing
// tusd hooks depend on.
func TestWireFormat(t *testing.T) {
	raw, err := json.Marshal(hooks.Request{
		Type: hooks.PreAccess,
		Event: hooks.Event{
			Upload:      tus.FileInfo{ID: "a", Size: 3, MetaData: tus.MetaData{"k": "v"}, Storage: map[string]string{"Path": "/x"}},
			HTTPRequest: tus.HTTPRequest{Method: "HEAD", URI: "/files/a", RemoteAddr: "1.2.3.4:5", Header: http.Header{"X-A": {"b"}}},
			Access:      &hooks.Access{Mode: hooks.ModeRead, Action: tus.ActionReadOffset, Files: []tus.FileInfo{{ID: "a"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"Type":"pre-access"`, `"Event":{"Upload":{"ID":"a","Size":3,"SizeIsDeferred":false,"Offset":0,"MetaData":{"k":"v"},"IsPartial":false,"IsFinal":false`,
		`"Storage":{"Path":"/x"}`,
		`"HTTPRequest":{"Method":"HEAD","URI":"/files/a","RemoteAddr":"1.2.3.4:5","Header":{"X-A":["b"]}}`,
		`"Access":{"Mode":"read","Action":"read-offset","Files":[{"ID":"a"`,
	} {
		contains(t, "request JSON", string(raw), want)
	}
	raw, err = json.Marshal(hooks.Request{Type: hooks.PostCreate})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "Access") {
		t.Errorf("Access sent to a post-create hook: %s", raw)
	}

	var resp hooks.Response
	err = json.Unmarshal([]byte(`{"HTTPResponse":{"StatusCode":418,"Body":"b","Header":{"K":"V"}},"RejectUpload":true,
		"ChangeFileInfo":{"ID":"x","MetaData":{"m":"n"},"Storage":{"s":"t"}},"StopUpload":true,"RejectTermination":true,"RejectAccess":true}`), &resp)
	if err != nil {
		t.Fatal(err)
	}
	want := hooks.Response{
		HTTPResponse:      tus.HTTPResponse{StatusCode: 418, Body: "b", Header: map[string]string{"K": "V"}},
		RejectUpload:      true,
		ChangeFileInfo:    hooks.FileInfoChanges{ID: "x", MetaData: tus.MetaData{"m": "n"}, Storage: map[string]string{"s": "t"}},
		StopUpload:        true,
		RejectTermination: true,
		RejectAccess:      true,
	}
	check(t, "decoded response", reflect.DeepEqual(resp, want), true)
}

// TestDisabledEventsDoNotFire enables only post-finish: no other hook
// runs, and no callback is installed.
func TestDisabledEventsDoNotFire(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			backend, log := newBackend(t, kind, allReplies())
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PostFinish}}, nil)
			id := e.create("2", nil)
			if res := e.patch(id, "hi"); res.status != http.StatusNoContent {
				t.Fatalf("PATCH: status %d", res.status)
			}
			e.do(http.MethodHead, id, nil, nil)
			e.do(http.MethodDelete, id, nil, nil)
			waitFor(t, "post-finish", func() bool { return len(ofType(log(), hooks.PostFinish)) == 1 })
			e.srv.Close()
			if err := e.d.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, r := range log() {
				if r.Type != hooks.PostFinish {
					t.Errorf("disabled hook %s fired", r.Type)
				}
			}
			for _, inv := range e.invocations() {
				if inv.typ != hooks.PostFinish {
					t.Errorf("disabled hook %s counted", inv.typ)
				}
			}
		})
	}
}

// TestConfigureInstallsOnlyEnabled checks which callbacks Configure sets.
func TestConfigureInstallsOnlyEnabled(t *testing.T) {
	d, err := hooks.New(hooks.Config{Backend: &hooks.HTTPBackend{URL: "http://127.0.0.1:1"}, Enabled: []hooks.Type{hooks.PreFinish, hooks.PostCreate}})
	if err != nil {
		t.Fatal(err)
	}
	var c tus.Config
	d.Configure(&c)
	check(t, "pre-create installed", c.PreUploadCreateCallback != nil, false)
	check(t, "pre-finish installed", c.PreFinishResponseCallback != nil, true)
	check(t, "pre-terminate installed", c.PreUploadTerminateCallback != nil, false)
	check(t, "pre-access installed", c.AccessCallback != nil, false)
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
