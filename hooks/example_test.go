package hooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/hooks"
)

// rejectUnnamed is the part of a pre-create hook that refuses uploads
// without a "name" in their metadata, with its own status and message.
func rejectUnnamed(req hooks.Request, resp *hooks.Response) {
	if req.Event.Upload.MetaData["name"] == "" {
		resp.RejectUpload = true
		resp.HTTPResponse = tus.HTTPResponse{
			StatusCode: http.StatusUnprocessableEntity,
			Body:       "every upload needs a name\n",
		}
	}
}

// idFromName is the part of a pre-create hook that chooses the upload's ID
// from its name (a real hook would check that the ID is free and valid:
// letters, digits, '-' and '_').
func idFromName(req hooks.Request, resp *hooks.Response) {
	if name := req.Event.Upload.MetaData["name"]; name != "" {
		resp.ChangeFileInfo.ID = "doc-" + name
	}
}

// hookEndpoint is an HTTP hook endpoint in Go: it decodes the Request,
// answers pre-create with rejectUnnamed or idFromName, and accepts every
// other event with an empty answer.
func hookEndpoint(w http.ResponseWriter, r *http.Request) {
	var req hooks.Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad hook request", http.StatusBadRequest)
		return
	}
	var resp hooks.Response
	if req.Type == hooks.PreCreate {
		rejectUnnamed(req, &resp)
		if !resp.RejectUpload {
			idFromName(req, &resp)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// Example runs a tus server whose pre-create hook is the HTTP endpoint
// hookEndpoint: an upload without a name is rejected, one with a name gets
// an ID made from it.
func Example() {
	hookSrv := httptest.NewServer(http.HandlerFunc(hookEndpoint))
	defer hookSrv.Close()

	dir, err := os.MkdirTemp("", "hooks-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := filestore.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	locker, err := filestore.NewLocker(dir)
	if err != nil {
		log.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)

	d, err := hooks.New(hooks.Config{
		Backend: &hooks.HTTPBackend{URL: hookSrv.URL, Retry: 2},
		Enabled: hooks.DefaultEnabled(),
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := tus.Config{StoreComposer: composer, BasePath: "/files/"}
	d.Configure(&cfg) // before NewHandler
	h, err := tus.NewHandler(cfg)
	if err != nil {
		log.Fatal(err)
	}
	d.Start(h) // post hooks
	srv := httptest.NewServer(http.StripPrefix("/files/", h))

	create := func(name string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/files/", nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "10")
		if name != "" {
			req.Header.Set("Upload-Metadata", "name "+base64.StdEncoding.EncodeToString([]byte(name)))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusCreated {
			fmt.Println(res.StatusCode, path.Base(res.Header.Get("Location")))
		} else {
			fmt.Printf("%d %s", res.StatusCode, body)
		}
	}
	create("")
	create("report")

	// Shut down: the HTTP server first, then the post hooks.
	srv.Close()
	if err := d.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 422 every upload needs a name
	// 201 doc-report
}
