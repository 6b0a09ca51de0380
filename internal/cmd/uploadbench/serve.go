package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/internal/benchkit"
)

// Server kinds, in the order they are reported.
const (
	kindBaseline  = "baseline"
	kindTus       = "tus"
	kindTusNoSync = "tus-nosync"
)

// serverKinds lists every server kind.
var serverKinds = []string{kindBaseline, kindTus, kindTusNoSync}

// basePath is where every server is mounted.
const basePath = "/files/"

// serve is the child mode: it serves one kind of server on o.addr, prints
// the listening address on stdout and serves until stdin is closed or
// SIGINT/SIGTERM arrives (benchkit.ServeChild).
func serve(o serveOptions, stderr io.Writer) error {
	if o.dir == "" {
		return errors.New("-serve needs -dir")
	}
	if o.cleanup {
		// The parent removes the directory too, but cannot if it was killed.
		defer func() {
			if err := os.RemoveAll(o.dir); err != nil {
				fmt.Fprintln(stderr, "uploadbench:", err)
			}
		}()
	}
	logger := benchkit.ChildLogger(stderr, o.kind)
	h, err := newHandler(o.kind, o.dir, logger)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(basePath, http.StripPrefix(basePath, h))

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				logger.Error("writing CPU profile", "error", err)
			}
		}()
	}

	return benchkit.ServeChild(o.addr, mux, logger)
}

// newHandler assembles the handler of a server kind storing into dir.
func newHandler(kind, dir string, logger *slog.Logger) (http.Handler, error) {
	switch kind {
	case kindBaseline:
		return &baselineHandler{dir: dir, log: logger}, nil
	case kindTus, kindTusNoSync:
		return newTusHandler(dir, kind == kindTusNoSync, logger)
	}
	return nil, fmt.Errorf("unknown server kind %q", kind)
}

// newTusHandler assembles the tus handler as cmd/tusd does: a filestore and
// the filestore locker on the same directory.
func newTusHandler(dir string, noSync bool, logger *slog.Logger) (http.Handler, error) {
	var store *filestore.FileStore
	var err error
	if noSync {
		store, err = filestore.NewWithOptions(dir, filestore.Options{NoSync: true})
	} else {
		store, err = filestore.New(dir)
	}
	if err != nil {
		return nil, err
	}
	locker, err := filestore.NewLocker(dir)
	if err != nil {
		return nil, err
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)
	return tus.NewHandler(tus.Config{
		StoreComposer: composer,
		BasePath:      basePath,
		Logger:        logger,
	})
}
