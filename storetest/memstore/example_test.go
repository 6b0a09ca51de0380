package memstore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest/memstore"
)

// A handler on a store in memory, as a unit test of code built on package
// tus would use it: no directory, no bucket, nothing to clean up.
func Example() {
	store := memstore.New()
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	handler, err := tus.NewHandler(tus.Config{StoreComposer: composer})
	if err != nil {
		log.Fatal(err)
	}

	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello"))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "5")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	fmt.Println("POST:", rec.Code, "Upload-Offset:", rec.Header().Get("Upload-Offset"))

	req = httptest.NewRequest(http.MethodGet, loc, nil)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Printf("GET: %d %q\n", rec.Code, rec.Body)

	req = httptest.NewRequest(http.MethodDelete, loc, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	handler.ServeHTTP(httptest.NewRecorder(), req)
	fmt.Println("uploads left:", len(store.IDs()))
	// Output:
	// POST: 201 Upload-Offset: 5
	// GET: 200 "hello"
	// uploads left: 0
}
