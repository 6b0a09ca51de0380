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
	"sync"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/hooks"
	"github.com/tusgo/tus/memorylocker"
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
// answers pre-create with rejectUnnamed or idFromName, notes the IDs of
// post-create hooks in created, and accepts every other event with an
// empty answer.
type hookEndpoint struct {
	mu      sync.Mutex
	created []string
}

func (e *hookEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req hooks.Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad hook request", http.StatusBadRequest)
		return
	}
	var resp hooks.Response
	switch req.Type {
	case hooks.PreCreate:
		rejectUnnamed(req, &resp)
		if !resp.RejectUpload {
			idFromName(req, &resp)
		}
	case hooks.PostCreate:
		e.mu.Lock()
		e.created = append(e.created, req.Event.Upload.ID)
		e.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// Example runs a tus handler over filestore and memorylocker whose hooks
// go to an HTTP endpoint, hookEndpoint: the blocking pre-create hook
// rejects an upload without a name and gives one with a name an ID made
// from it; the post-create hook runs after the upload is created.
func Example() {
	endpoint := &hookEndpoint{}
	hookSrv := httptest.NewServer(endpoint)
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
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)

	d, err := hooks.New(hooks.Config{
		Backend: &hooks.HTTPBackend{URL: hookSrv.URL, Retry: 2},
		Enabled: []hooks.Type{hooks.PreCreate, hooks.PostCreate},
		// Logger: slog.Default(), to see failures and dropped hooks.
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := tus.Config{StoreComposer: composer, BasePath: "/files/"}
	d.Configure(&cfg) // the blocking hooks: before NewHandler
	h, err := tus.NewHandler(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := d.Start(h); err != nil { // the post hooks
		log.Fatal(err)
	}
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

	// Shut down: the HTTP server first, then the post hooks. Close runs
	// the post hooks still queued before it returns.
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		log.Fatal(err)
	}
	endpoint.mu.Lock()
	fmt.Println("post-create:", endpoint.created)
	endpoint.mu.Unlock()
	// Output:
	// 422 every upload needs a name
	// 201 doc-report
	// post-create: [doc-report]
}
