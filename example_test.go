package tus_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/memorylocker"
)

// This is how a web service embeds the handler: a store and a locker go into
// a composer, the handler is mounted below /files/. The rest of the example
// uploads "hello" the way a tus client does.
func ExampleNewHandler() {
	dir, err := os.MkdirTemp("", "uploads")
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

	handler, err := tus.NewHandler(tus.Config{
		StoreComposer: composer,
		BasePath:      "/files/",
		MaxSize:       1 << 30,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", handler))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Create an upload of 5 bytes, then send them.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/files/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "5")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("POST:", res.StatusCode)

	req, _ = http.NewRequest(http.MethodPatch, res.Header.Get("Location"), strings.NewReader("hello"))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("PATCH:", res.StatusCode, "Upload-Offset:", res.Header.Get("Upload-Offset"))
	// Output:
	// POST: 201
	// PATCH: 204 Upload-Offset: 5
}

// Subscribe to completed uploads to process them, for example to move the
// file elsewhere. Requests never wait for a subscriber that keeps up.
func ExampleHandler_Subscribe() {
	dir, err := os.MkdirTemp("", "uploads")
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
	handler, err := tus.NewHandler(tus.Config{StoreComposer: composer})
	if err != nil {
		log.Fatal(err)
	}
	sub := handler.Subscribe(16, tus.EventCompleted)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.C {
			log.Printf("upload %s finished: %d bytes", ev.Upload.ID, ev.Upload.Size)
		}
	}()
	// ... serve handler; at shutdown:
	sub.Close()
	<-done
	fmt.Println("subscriber stopped")
	// Output: subscriber stopped
}
