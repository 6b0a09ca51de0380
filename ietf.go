package tus

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IETF protocol constants.
const (
	// PartialUploadType is the Content-Type of IETF appends from interop
	// version 6 on.
	PartialUploadType = "application/partial-upload"
	// StatusUploadResumptionSupported is the informational status that
	// announces an upload's URL (and, from interop version 5, its progress).
	StatusUploadResumptionSupported = 104
)

// Problem types (RFC 9457) of the IETF drafts.
const (
	problemMismatchingOffset  = "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
	problemCompletedUpload    = "https://iana.org/assignments/http-problem-types#completed-upload"
	problemInconsistentLength = "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
)

// Errors of the IETF protocol. Those with a problem type are sent as
// application/problem+json where the client's draft defines the type.
var (
	errIETFVersion            = NewError(http.StatusBadRequest, "ERR_UNSUPPORTED_INTEROP_VERSION", "unsupported Upload-Draft-Interop-Version: this server speaks interop versions 3 to 8")
	errIETFCompleted          = NewError(http.StatusBadRequest, "ERR_UPLOAD_COMPLETED", "the upload is already complete and takes no more content")
	errIETFInconsistentLength = NewError(http.StatusBadRequest, "ERR_INCONSISTENT_UPLOAD_LENGTH", "the lengths given for the upload do not match")
	errIETFHeader             = NewError(http.StatusBadRequest, "ERR_INVALID_HEADER", "invalid header")
	errIETFNoDeferrer         = ErrNotImplemented.WithMessage("this server cannot take uploads of unknown length: send Upload-Length, or all content with Upload-Complete: ?1 and Content-Length")
)

// ietfKey is the context key under which Middleware records the interop
// version of an IETF request.
type ietfKey struct{}

// ietfFrom returns the interop version Middleware found on r, if r is an
// IETF request.
func ietfFrom(r *http.Request) (ietfVersion, bool) {
	v, ok := r.Context().Value(ietfKey{}).(ietfVersion)
	return v, ok
}

// isIETF reports whether r speaks the IETF protocol: it names an interop
// version, does not speak tus, and the protocol is enabled.
func (h *Handler) isIETF(r *http.Request) bool {
	return !h.cfg.DisableIETFDrafts && r.Header.Get("Upload-Draft-Interop-Version") != "" &&
		r.Header.Get("Tus-Resumable") == ""
}

// ietfMiddleware is Middleware for an IETF request: it checks the interop
// version, answers OPTIONS and marks the request for the method handlers.
func (h *Handler) ietfMiddleware(w http.ResponseWriter, r *http.Request, next http.Handler) {
	v, ok := parseInteropVersion(r.Header.Get("Upload-Draft-Interop-Version"))
	if !ok {
		h.sendError(w, r, errIETFVersion)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), ietfKey{}, v))
	if r.Method == http.MethodOptions {
		hdr := w.Header()
		hdr.Set("Accept-Patch", PartialUploadType)
		if v.limits() {
			hdr.Set("Upload-Limit", h.ietfLimits(v, int64(h.cfg.Expiration/time.Second)))
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	next.ServeHTTP(w, r)
}

// ietfState sets the headers that describe an upload to an IETF client:
// Upload-Offset, completeness, Upload-Length when known (version 6 on) and
// Upload-Limit (version 6 on).
func (h *Handler) ietfState(w http.ResponseWriter, v ietfVersion, info FileInfo) {
	hdr := w.Header()
	hdr.Set("Upload-Offset", formatInt(info.Offset))
	hdr.Set(v.completeHeader(), v.completeValue(info.IsComplete()))
	if v.lengthHeader() && hasLength(info) {
		hdr.Set("Upload-Length", formatInt(info.Size))
	}
	if v.limits() {
		hdr.Set("Upload-Limit", h.ietfLimits(v, ttl(info)))
	}
}

// ttl is the remaining lifetime in whole seconds of an unfinished upload
// that expires, else 0.
func ttl(info FileInfo) int64 {
	if info.ExpiresAt.IsZero() || info.IsComplete() {
		return 0
	}
	return max(int64(time.Until(info.ExpiresAt)/time.Second), 1)
}

// ietfError answers an IETF request with err. info, if not nil, is the
// upload's state (its offset and completeness are sent, as draft -06 asks
// of every append response); provided is the Upload-Offset the request
// gave. Errors that have a problem type in the client's draft are
// sent as application/problem+json.
func (h *Handler) ietfError(w http.ResponseWriter, r *http.Request, v ietfVersion, err error, info *FileInfo, provided int64) {
	hdr := w.Header()
	if info != nil {
		hdr.Set("Upload-Offset", formatInt(info.Offset))
		hdr.Set(v.completeHeader(), v.completeValue(info.IsComplete()))
	}
	e := asError(err)
	switch {
	case errors.Is(err, ErrMismatchOffset) && v.problems() && info != nil:
		h.writeProblem(w, r, e, problemMismatchingOffset, "offset from request does not match offset of resource",
			map[string]any{"expected-offset": info.Offset, "provided-offset": provided})
		return
	case errors.Is(err, errIETFCompleted) && v.problems():
		h.writeProblem(w, r, e, problemCompletedUpload, "upload is already completed", nil)
		return
	case errors.Is(err, errIETFInconsistentLength) && v.lengthProblem():
		h.writeProblem(w, r, e, problemInconsistentLength, "inconsistent length values for upload", nil)
		return
	case errors.Is(err, ErrMaxSizeExceeded) && v.limits():
		// A 413 caused by the server's limits carries them.
		var left int64
		if info != nil {
			left = ttl(*info)
		}
		hdr.Set("Upload-Limit", h.ietfLimits(v, left))
	}
	h.sendError(w, r, err)
}

// writeProblem sends e as an RFC 9457 problem of type typ.
func (h *Handler) writeProblem(w http.ResponseWriter, r *http.Request, e *Error, typ, title string, ext map[string]any) {
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused",
		slog.String("request_id", w.Header().Get("X-Request-ID")), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("error", e.Error()))
	body := map[string]any{"type": typ, "title": title, "detail": e.Message}
	for k, val := range ext {
		body[k] = val
	}
	b, _ := json.Marshal(body) // strings and integers always marshal
	b = append(b, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/problem+json")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// send104 sends a 104 (Upload Resumption Supported) informational response
// with the interop version and the given header pairs, which are not left
// in the final response's headers. Its write deadline is the server's, as
// for every other write: setting one here would lift an http.Server
// WriteTimeout for the rest of the request. A 104 is small and progress
// ones come at most every Config.ProgressInterval, so a client that stops
// reading fills no socket buffer with them. HTTP/1.0 clients get none
// (RFC 9110 section 15.2).
func (h *Handler) send104(w http.ResponseWriter, r *http.Request, v ietfVersion, pairs ...string) {
	if !r.ProtoAtLeast(1, 1) {
		return
	}
	hdr := w.Header()
	saved := make(map[string][]string, len(pairs)/2+1)
	pairs = append(pairs, "Upload-Draft-Interop-Version", strconv.Itoa(int(v)))
	for i := 0; i+1 < len(pairs); i += 2 {
		k := http.CanonicalHeaderKey(pairs[i])
		if _, done := saved[k]; !done {
			saved[k] = hdr[k]
		}
		hdr.Set(k, pairs[i+1])
	}
	w.WriteHeader(StatusUploadResumptionSupported)
	for k, old := range saved {
		if old == nil {
			hdr.Del(k)
		} else {
			hdr[k] = old
		}
	}
}

// ietfProgress returns the progress hook for writeBody: from interop
// version 5, a 104 with the offset reached, else nil. The first comes one
// Config.ProgressInterval after the request starts and the others at least
// that far apart, so a short request gets none (some clients give up after
// a few 1xx responses they do not read). The hook reports whether it sent
// one.
func (h *Handler) ietfProgress(w http.ResponseWriter, r *http.Request, v ietfVersion) func(int64) bool {
	if !v.progress() || !r.ProtoAtLeast(1, 1) {
		return nil
	}
	last := time.Now()
	return func(offset int64) bool {
		if now := time.Now(); now.Sub(last) >= h.cfg.ProgressInterval {
			last = now
			h.send104(w, r, v, "Upload-Offset", formatInt(offset))
			return true
		}
		return false
	}
}

// ietfMetadata returns the metadata of an IETF creation: what the request
// says about the representation (Content-Type as filetype, the
// Content-Disposition filename as filename, as a tus client would send
// them), and Upload-Metadata, which tus-js-client sends in IETF mode too.
func ietfMetadata(r *http.Request) (MetaData, error) {
	meta, err := ParseMetadata(r.Header.Get("Upload-Metadata"))
	if err != nil {
		return nil, err
	}
	for k, v := range representationMetadata(r) {
		if _, set := meta[k]; !set {
			if meta == nil {
				meta = MetaData{}
			}
			meta[k] = v
		}
	}
	return meta, nil
}

// representationMetadata keeps what the creation request says about the
// representation as upload metadata.
func representationMetadata(r *http.Request) MetaData {
	meta := MetaData{}
	if ct := r.Header.Get("Content-Type"); ct != "" && len(ct) <= 255 && !isOffsetOctetStream(ct) && !strings.HasPrefix(ct, PartialUploadType) {
		meta["filetype"] = ct
	}
	if cd := r.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" && len(params["filename"]) <= 255 {
			meta["filename"] = params["filename"]
		}
	}
	if len(meta) == 0 {
		return nil
	}
	return meta
}
