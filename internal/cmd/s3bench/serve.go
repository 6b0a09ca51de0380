package main

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/benchkit"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// basePath is where the tus handler is mounted.
const basePath = "/files/"

// callsPath serves the store's S3 call counts (s3store.Store.CallStats) as
// JSON.
const callsPath = "/debug/calls"

// serve is the child mode: it serves tus on S3 on o.addr, prints the
// listening address on stdout and serves until stdin is closed (the parent
// is done or gone) or SIGINT/SIGTERM arrives (benchkit.ServeChild).
func serve(conn s3Conn, o serveOptions, stderr io.Writer) error {
	logger := benchkit.ChildLogger(stderr, "tus")
	store, err := s3store.New(newS3Client(conn), s3store.Options{
		Bucket:                conn.bucket,
		ObjectPrefix:          o.prefix,
		PartSize:              o.partSize,
		ConcurrentPartUploads: o.concurrency,
		SingleProcess:         o.single,
		DisableContentHashes:  o.noHashes,
		Logger:                logger,
	})
	if err != nil {
		return err
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tus.NewHandler(tus.Config{
		StoreComposer: composer,
		BasePath:      basePath,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(basePath, http.StripPrefix(basePath, h))
	mux.HandleFunc("GET "+callsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(store.CallStats())
	})
	return benchkit.ServeChild(o.addr, mux, logger)
}
