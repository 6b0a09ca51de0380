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
// A Handler is safe for concurrent use. It starts no goroutine.
type Handler struct {
	cfg        Config
	composer   *StoreComposer
	log        *slog.Logger
	extensions string
	events     eventHub
	allow      string // Allow header for upload URLs
	// baseOrigin is the scheme and host of an absolute Config.BasePath
	// ("https://example.com"), else empty; basePath is its path part.
	baseOrigin, basePath string
	// unfinished holds the IDs of complete uploads that still owe their
	// finish, as far as the store cannot tell (see finish.go).
	unfinished sync.Map
	// active counts the upload requests in flight and lists the bodies
	// being read (see active.go): for monitoring HEADs and Shutdown.
	active activeUploads
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
	h.baseOrigin, h.basePath = splitBasePath(cfg.BasePath)
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

// splitBasePath splits a base path into the scheme and host of an absolute
// URL ("" for a path) and the path.
func splitBasePath(bp string) (origin, path string) {
	i := strings.Index(bp, "://")
	if i < 0 {
		return "", bp
	}
	if j := strings.IndexByte(bp[i+3:], '/'); j >= 0 {
		return bp[:i+3+j], bp[i+3+j:]
	}
	return bp, "/"
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

// ServeHTTP serves r: POST on the collection (the empty path, or the base
// path), and HEAD, PATCH, GET and DELETE on an upload ID; OPTIONS anywhere.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, ok := h.prepare(w, r)
	if !ok {
		return
	}
	q.id, ok = h.routeID(r)
	if !ok {
		h.fail(q, ErrInvalidID)
		return
	}
	h.serve(q, r.Method)
}

// routeID returns the upload ID r's path names relative to the base path
// ("" for the collection), and false if the path names no valid ID. The
// escaped path is used, so that an encoded slash cannot split an ID.
func (h *Handler) routeID(r *http.Request) (string, bool) {
	rest := r.URL.EscapedPath()
	if bp := h.basePath; bp != "/" && strings.HasPrefix(rest, bp) {
		rest = rest[len(bp):]
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return "", true
	}
	rest = strings.TrimSuffix(rest, "/")
	return rest, ValidID(rest)
}

// serve is the one place that picks what answers a request: by method, and
// for each method by protocol (tus 1.0 or the IETF drafts). q has passed
// prepare and names the collection (q.id empty) or a valid upload ID.
func (h *Handler) serve(q *request, method string) {
	if method == http.MethodPost || method == http.MethodPatch {
		// Upload requests are counted for Shutdown, which refuses new ones.
		if !h.active.begin() {
			h.fail(q, ErrServerShutdown)
			return
		}
		defer h.active.end()
	}
	if q.id == "" {
		switch {
		case method != http.MethodPost:
			q.w.Header().Set("Allow", "OPTIONS, POST")
			h.fail(q, ErrMethodNotAllowed)
		case q.ietf != 0:
			h.ietfCreate(q)
		default:
			h.tusCreate(q)
		}
		return
	}
	switch method {
	case http.MethodHead:
		if q.ietf != 0 {
			h.ietfHead(q)
		} else {
			h.tusHead(q)
		}
	case http.MethodPatch:
		if q.ietf != 0 {
			h.ietfAppend(q)
		} else {
			h.tusAppend(q)
		}
	case http.MethodDelete:
		// Both protocols' deletion; IETF checks its headers first.
		h.terminateRequest(q)
	case http.MethodGet:
		// Downloads are plain HTTP, the same for both protocols.
		h.download(q)
	default:
		q.w.Header().Set("Allow", h.allow)
		h.fail(q, ErrMethodNotAllowed)
	}
}

// PostFile creates an upload (the creation extension), optionally with its
// first bytes (creation-with-upload), with a deferred length
// (creation-defer-length), or as a partial or final upload (concatenation).
// It answers 201 Created with the upload's Location. A request marked by
// Middleware as IETF is that protocol's upload creation.
func (h *Handler) PostFile(w http.ResponseWriter, r *http.Request) {
	h.serveRouted(w, r, http.MethodPost, false)
}

// HeadFile answers an offset request: 200 with Upload-Offset, Upload-Length
// or Upload-Defer-Length, Upload-Metadata, Upload-Concat and Upload-Expires,
// and Cache-Control: no-store (204 with the IETF state headers for an IETF
// request).
//
// A HEAD must neither break a healthy upload nor keep a client that
// resumes waiting. So when a request of this process is reading a body
// into the upload whose bytes arrived within the last 400 ms (twice the
// grace a request asked to let go still reads), the HEAD watches it for
// 200 ms; if it is still reading and moving then, the upload is busy and
// healthy: the HEAD is answered from the store's state (GetInfo, never
// ahead of what the store holds) without taking the lock, and the writer
// goes on. (The 200 ms tell a healthy body from that of a client that has
// just broken off to resume at once: its request reads what was left in
// the connection's buffers and ends within them.) Otherwise (no body being read here, or one that is idle,
// stalled or ending) the HEAD takes the upload's lock as before: an older
// request still writing is asked to stop first, stores what it read, and
// the offset returned is the one a resuming PATCH must send. A lock held
// by another process (a shared Locker such as the Redis one) is always
// asked to let go, since its body cannot be seen from here.
func (h *Handler) HeadFile(w http.ResponseWriter, r *http.Request) {
	h.serveRouted(w, r, http.MethodHead, true)
}

// PatchFile appends the request body to an upload at Upload-Offset. It
// answers 204 with the new Upload-Offset; 409 if the offset is not the
// upload's, 413 past its length, 415 without application/offset+octet-stream,
// 460 on a checksum mismatch (nothing of the chunk is kept). Bytes read
// before a broken connection, a read timeout or an interruption by a newer
// request are stored and counted. A request marked by Middleware as IETF is
// that protocol's append.
func (h *Handler) PatchFile(w http.ResponseWriter, r *http.Request) {
	h.serveRouted(w, r, http.MethodPatch, true)
}

// GetFile serves the bytes of a finished upload; see download.go for the
// headers it sets. It reads without taking the upload's lock.
func (h *Handler) GetFile(w http.ResponseWriter, r *http.Request) {
	h.serveRouted(w, r, http.MethodGet, true)
}

// DelFile terminates an upload (the termination extension): it asks a
// request still writing to stop, runs PreUploadTerminateCallback, deletes
// every byte and record of the upload and answers 204. For a request marked
// by Middleware as IETF it is that protocol's cancellation.
func (h *Handler) DelFile(w http.ResponseWriter, r *http.Request) {
	h.serveRouted(w, r, http.MethodDelete, true)
}

// serveRouted serves a request that a router matched to one of the method
// handlers, after Middleware: the upload ID, if the method names one, is
// the last segment of the path.
func (h *Handler) serveRouted(w http.ResponseWriter, r *http.Request, method string, named bool) {
	q := h.newRequest(w, r, requestIDOf(w, r))
	q.ietf, _ = ietfFrom(r)
	if named {
		var err error
		if q.id, err = uploadID(r); err != nil {
			h.fail(q, err)
			return
		}
	}
	h.serve(q, method)
}

// uploadID returns the upload ID named by r's path: its last segment, which
// must be a valid ID as it stands (no escapes).
func uploadID(r *http.Request) (string, error) {
	p := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	id := p[strings.LastIndexByte(p, '/')+1:]
	if !ValidID(id) {
		return "", ErrInvalidID
	}
	return id, nil
}
