package tus

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// Protocol constants.
const (
	// TusVersion is the tus protocol version this package speaks.
	TusVersion = "1.0.0"
	// OffsetOctetStream is the Content-Type of PATCH bodies.
	OffsetOctetStream = "application/offset+octet-stream"
)

// Handler serves the tus protocol over a StoreComposer. It is an
// http.Handler meant to be mounted below a prefix with http.StripPrefix:
//
//	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
//	mux.Handle("/files/", http.StripPrefix("/files/", h))
//
// Routers that match methods and paths themselves can instead wrap the
// method handlers (PostFile, HeadFile, PatchFile, GetFile, DelFile) in
// Middleware; those take the upload ID from the last path segment.
//
// A Handler is safe for concurrent use.
type Handler struct {
	cfg        Config
	composer   *StoreComposer
	log        *slog.Logger
	extensions string
	events     eventHub
	allow      string // Allow header for upload URLs
	// unfinished holds the IDs of complete uploads whose finish failed and
	// must be retried (see finishUpload). It only holds failures.
	unfinished sync.Map
}

// NewHandler checks cfg and returns a Handler serving it.
func NewHandler(cfg Config) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.StoreComposer.Locker == nil {
		return nil, fmt.Errorf("tus: Config.StoreComposer has no Locker; concurrent requests for one upload would corrupt it (use memorylocker.New().UseIn(composer) or the filestore locker)")
	}
	h := &Handler{cfg: cfg, composer: cfg.StoreComposer, log: cfg.Logger}
	h.extensions = h.buildExtensions()
	allow := []string{"OPTIONS", "HEAD", "PATCH"}
	if h.downloadEnabled() {
		allow = append(allow, "GET")
	}
	if h.terminationEnabled() {
		allow = append(allow, "DELETE")
	}
	h.allow = strings.Join(allow, ", ")
	return h, nil
}

func (h *Handler) terminationEnabled() bool {
	return !h.cfg.DisableTermination && h.composer.UsesTerminater()
}

func (h *Handler) concatEnabled() bool {
	return !h.cfg.DisableConcatenation && h.composer.UsesConcater()
}

func (h *Handler) downloadEnabled() bool {
	return !h.cfg.DisableDownload && h.composer.UsesContentServer()
}

// buildExtensions lists the extensions the composer supports.
func (h *Handler) buildExtensions() string {
	ext := []string{"creation", "creation-with-upload"}
	if h.composer.UsesLengthDeferrer() {
		ext = append(ext, "creation-defer-length")
	}
	if h.terminationEnabled() {
		ext = append(ext, "termination")
	}
	if h.concatEnabled() {
		ext = append(ext, "concatenation", "concatenation-unfinished")
	}
	ext = append(ext, "checksum", "checksum-trailer")
	if h.cfg.Expiration > 0 {
		ext = append(ext, "expiration")
	}
	return strings.Join(ext, ",")
}

// ServeHTTP routes r: POST and OPTIONS on the collection (empty path), and
// HEAD, PATCH, GET, DELETE and OPTIONS on an upload ID.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Middleware(http.HandlerFunc(h.route)).ServeHTTP(w, r)
}

// route dispatches a request that passed the middleware.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	rest := r.URL.Path
	if bp := h.basePathPath(); bp != "/" && strings.HasPrefix(rest, bp) {
		rest = rest[len(bp):]
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		switch r.Method {
		case http.MethodPost:
			h.PostFile(w, r)
		default:
			w.Header().Set("Allow", "OPTIONS, POST")
			h.sendError(w, r, ErrMethodNotAllowed)
		}
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	if !ValidID(rest) {
		h.sendError(w, r, ErrInvalidID)
		return
	}
	switch r.Method {
	case http.MethodHead:
		h.HeadFile(w, r)
	case http.MethodPatch:
		h.PatchFile(w, r)
	case http.MethodGet:
		h.GetFile(w, r)
	case http.MethodDelete:
		h.DelFile(w, r)
	default:
		w.Header().Set("Allow", h.allow)
		h.sendError(w, r, ErrMethodNotAllowed)
	}
}

// basePathPath is the path part of the configured base path.
func (h *Handler) basePathPath() string {
	bp := h.cfg.BasePath
	if i := strings.Index(bp, "://"); i >= 0 {
		rest := bp[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return bp
}

// uploadID returns the upload ID named by r's path: its last segment, which
// must be a valid ID as it stands (no escapes).
func uploadID(r *http.Request) (string, error) {
	// The escaped path: an encoded slash must not split the ID.
	p := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	id := p[strings.LastIndexByte(p, '/')+1:]
	if !ValidID(id) {
		return "", ErrInvalidID
	}
	return id, nil
}
