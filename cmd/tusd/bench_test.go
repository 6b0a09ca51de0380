package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
)

// BenchmarkSmallUpload measures one 1 KiB upload (POST, then PATCH) over
// loopback HTTP on the directory store without fsync (so that the disk
// does not drown the difference), through the library's handler as
// an application mounts it ("library") and through everything tusd puts
// around it ("tusd": request log, metrics, in-flight tracking, with the
// text log going to io.Discard). The ratio of the two is tusd's own cost
// per request.
func BenchmarkSmallUpload(b *testing.B) {
	for _, variant := range []string{"library", "tusd"} {
		b.Run(variant, func(b *testing.B) {
			dir := b.TempDir()
			store, err := filestore.NewWithOptions(dir, filestore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			locker, err := filestore.NewLocker(dir)
			if err != nil {
				b.Fatal(err)
			}
			composer := tus.NewStoreComposer()
			store.UseIn(composer)
			locker.UseIn(composer)
			o, err := parseFlags(nil, noEnv, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			m := newMetrics()
			logger := newLogger(io.Discard, "text", false)
			h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: o.basePath, Logger: logger, ErrorObserver: m.observeError})
			if err != nil {
				b.Fatal(err)
			}
			var handler http.Handler
			if variant == "library" {
				mux := http.NewServeMux()
				mux.Handle(o.basePath, http.StripPrefix(o.basePath, h))
				handler = mux
			} else {
				stop := m.countUploads(h)
				defer stop()
				handler = (&inflight{}).wrap(routes(o, h, m, logger, true))
			}
			srv := httptest.NewServer(handler)
			defer srv.Close()
			client := srv.Client()
			body := bytes.Repeat([]byte("x"), 1024)
			send := func(method, u string, data []byte, hdr ...string) *http.Response {
				req, _ := http.NewRequest(method, u, bytes.NewReader(data))
				req.Header.Set("Tus-Resumable", "1.0.0")
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res := send(http.MethodPost, srv.URL+"/files/", nil, "Upload-Length", strconv.Itoa(len(body)))
				if res.StatusCode != http.StatusCreated {
					b.Fatalf("POST: %s", res.Status)
				}
				res = send(http.MethodPatch, res.Header.Get("Location"), body,
					"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
				if res.StatusCode != http.StatusNoContent {
					b.Fatalf("PATCH: %s", res.Status)
				}
			}
		})
	}
}
