package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tusgo/tus/internal/benchkit"
)

// rawHandler is the least an HTTP upload server in Go can do: POST
// creates an empty file with a random name and answers 201 with its
// Location; PATCH appends the body to that file and answers 204; HEAD
// answers the file's size as Upload-Offset. It keeps no metadata, takes no
// locks and never fsyncs. It is mounted below /files/ with
// http.StripPrefix, like the tus handler.
//
// A POST with a body copies the body into the new file, the counterpart of
// tus creation-with-upload.
type rawHandler struct {
	dir string
	log *slog.Logger
}

func (b *rawHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path
	switch {
	case name == "" && r.Method == http.MethodPost:
		b.create(w, r)
	case name != "" && r.Method == http.MethodPatch:
		b.append(w, r, name)
	case name != "" && r.Method == http.MethodHead:
		b.head(w, name)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// create makes a new, empty file and answers with its URL.
func (b *rawHandler) create(w http.ResponseWriter, r *http.Request) {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	name := hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(filepath.Join(b.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		b.fail(w, err)
		return
	}
	if r.ContentLength != 0 {
		_, err = io.Copy(f, r.Body)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.fail(w, err)
		return
	}
	w.Header().Set("Location", "http://"+r.Host+"/files/"+name)
	w.WriteHeader(http.StatusCreated)
}

// append copies the request body to the end of file name.
func (b *rawHandler) append(w http.ResponseWriter, r *http.Request, name string) {
	if !isHexName(name) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f, err := os.OpenFile(filepath.Join(b.dir, name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		if os.IsNotExist(err) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		b.fail(w, err)
		return
	}
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// head answers the size of file name as Upload-Offset.
func (b *rawHandler) head(w http.ResponseWriter, name string) {
	if !isHexName(name) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	fi, err := os.Stat(filepath.Join(b.dir, name))
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(http.StatusOK)
}

func (b *rawHandler) fail(w http.ResponseWriter, err error) {
	b.log.Error("baseline request failed", "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// isHexName reports whether name is a file name create could have made, so
// that no request reaches outside the directory.
func isHexName(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// rawBasePath is where the raw server is mounted.
const rawBasePath = "/files/"

// serveRawChild is the child mode of the raw server: it serves dir on addr
// and prints the address (see benchkit.ServeChild).
func serveRawChild(dir, addr string, stderr io.Writer) error {
	logger := benchkit.ChildLogger(stderr, "raw")
	mux := http.NewServeMux()
	mux.Handle(rawBasePath, http.StripPrefix(rawBasePath, &rawHandler{dir: dir, log: logger}))
	return benchkit.ServeChild(addr, mux, logger)
}
