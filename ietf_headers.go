package tus

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file reads and writes the IETF drafts' headers: completeness,
// lengths, state, Upload-Limit, problem details and 104 responses.

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

// ietfState sets the headers that describe an upload to an IETF client:
// Upload-Offset, completeness, Upload-Length when known (version 6 on) and
// Upload-Limit (version 6 on).
func (h *Handler) ietfState(q *request, info FileInfo) {
	v, hdr := q.ietf, q.w.Header()
	hdr.Set("Upload-Offset", formatInt(info.Offset))
	hdr.Set(v.completeHeader(), v.completeValue(info.IsComplete()))
	if length, known := knownLength(info); v.lengthHeader() && known {
		hdr.Set("Upload-Length", formatInt(length))
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
func (h *Handler) ietfError(q *request, err error, info *FileInfo, provided int64) {
	v, hdr := q.ietf, q.w.Header()
	if info != nil {
		hdr.Set("Upload-Offset", formatInt(info.Offset))
		hdr.Set(v.completeHeader(), v.completeValue(info.IsComplete()))
	}
	e := asError(err)
	switch {
	case errors.Is(err, ErrMismatchOffset) && v.problems() && info != nil:
		h.writeProblem(q, e, problemMismatchingOffset, "offset from request does not match offset of resource",
			map[string]any{"expected-offset": info.Offset, "provided-offset": provided})
		return
	case errors.Is(err, errIETFCompleted) && v.problems():
		h.writeProblem(q, e, problemCompletedUpload, "upload is already completed", nil)
		return
	case errors.Is(err, errIETFInconsistentLength) && v.lengthProblem():
		h.writeProblem(q, e, problemInconsistentLength, "inconsistent length values for upload", nil)
		return
	case errors.Is(err, ErrMaxSizeExceeded) && v.limits():
		// A 413 caused by the server's limits carries them.
		var left int64
		if info != nil {
			left = ttl(*info)
		}
		hdr.Set("Upload-Limit", h.ietfLimits(v, left))
	}
	h.sendError(q, err)
}

// writeProblem sends e as an RFC 9457 problem of type typ.
func (h *Handler) writeProblem(q *request, e *Error, typ, title string, ext map[string]any) {
	h.logError(q, e)
	h.observeError(q, e.Status, e.Code)
	body := map[string]any{"type": typ, "title": title, "detail": e.Message}
	for k, val := range ext {
		body[k] = val
	}
	b, _ := json.Marshal(body) // strings and integers always marshal
	b = append(b, '\n')
	q.w.Header().Set("Content-Type", "application/problem+json")
	writeBody(q, e.Status, string(b))
}

// send104 sends a 104 (Upload Resumption Supported) informational response
// with the interop version and the given header pairs, which are not left
// in the final response's headers. Its write deadline is the server's, as
// for every other write: setting one here would lift an http.Server
// WriteTimeout for the rest of the request. A 104 is small and progress
// ones come at most every Config.ProgressInterval, so a client that stops
// reading fills no socket buffer with them. HTTP/1.0 clients get none
// (RFC 9110 section 15.2).
func (h *Handler) send104(q *request, pairs ...string) {
	if !q.r.ProtoAtLeast(1, 1) {
		return
	}
	v, hdr := q.ietf, q.w.Header()
	saved := make(map[string][]string, len(pairs)/2+1)
	pairs = append(pairs, "Upload-Draft-Interop-Version", strconv.Itoa(int(v)))
	for i := 0; i+1 < len(pairs); i += 2 {
		k := http.CanonicalHeaderKey(pairs[i])
		if _, done := saved[k]; !done {
			saved[k] = hdr[k]
		}
		hdr.Set(k, pairs[i+1])
	}
	q.w.WriteHeader(StatusUploadResumptionSupported)
	for k, old := range saved {
		if old == nil {
			hdr.Del(k)
		} else {
			hdr[k] = old
		}
	}
}

// ietfProgress returns the progress hook for appendBody: from interop
// version 5, a 104 with the offset reached, else nil. The first comes one
// Config.ProgressInterval after the request starts and the others at least
// that far apart, so a short request gets none (some clients give up after
// a few 1xx responses they do not read). The hook reports whether it sent
// one.
func (h *Handler) ietfProgress(q *request) func(int64) bool {
	if !q.ietf.progress() || !q.r.ProtoAtLeast(1, 1) {
		return nil
	}
	last := time.Now()
	return func(offset int64) bool {
		if now := time.Now(); now.Sub(last) >= h.cfg.ProgressInterval {
			last = now
			h.send104(q, "Upload-Offset", formatInt(offset))
			return true
		}
		return false
	}
}

// ietfMetadata returns the metadata of an IETF creation: what the request
// says about the representation (Content-Type as filetype, the
// Content-Disposition filename as filename, as a tus client would send
// them), and Upload-Metadata, which tus-js-client sends in IETF mode too.
// The whole is bounded by Config.MaxMetadataSize.
func (h *Handler) ietfMetadata(r *http.Request) (MetaData, error) {
	meta, err := h.parseMetadata(r.Header.Get("Upload-Metadata"))
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
	if err := h.checkMetadataSize(meta); err != nil {
		return nil, err
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

// ietfComplete reads whether the request completes the upload: from
// Upload-Complete, or the inverse Upload-Incomplete in version 3. A missing
// header is an error where required; otherwise it means complete in version
// 3 (the last append omits Upload-Incomplete) and incomplete later. An
// invalid value is an error up to version 6; from version 7 it counts as
// missing.
func ietfComplete(q *request, required bool) (bool, error) {
	v := q.ietf
	name := v.completeHeader()
	s := q.r.Header.Get(name)
	b, ok := parseSFBoolean(s)
	switch {
	case s != "" && !ok && !v.ignoresInvalidFields():
		return false, errIETFHeader.WithMessage("invalid " + name + " header: want ?0 or ?1")
	case !ok && required && s != "":
		return false, errIETFHeader.WithMessage("invalid " + name + " header, which is ignored, but it is required: want ?0 or ?1")
	case !ok && required:
		return false, errIETFHeader.WithMessage("missing " + name + " header")
	case !ok:
		return v == 3, nil
	}
	if v == 3 {
		b = !b
	}
	return b, nil
}

// ietfLength returns the upload length a request at offset states, or -1:
// Upload-Length (version 6 on; an invalid value is an error in version 6
// and ignored from version 7), or offset plus Content-Length when the
// request completes the upload. Both must agree.
func ietfLength(q *request, offset int64, complete bool) (int64, error) {
	r, v := q.r, q.ietf
	length := int64(-1)
	if s := r.Header.Get("Upload-Length"); s != "" && v.lengthHeader() {
		n, ok := parseSFInteger(s)
		switch {
		case ok:
			length = n
		case !v.ignoresInvalidFields():
			return 0, ErrInvalidUploadLength.WithMessage("invalid Upload-Length header: want a non-negative integer")
		}
	}
	if complete && r.ContentLength >= 0 {
		end := offset + r.ContentLength
		if length >= 0 && length != end {
			return 0, errIETFInconsistentLength.WithMessage("Upload-Length does not match the end of the completing content")
		}
		length = end
	}
	return length, nil
}

// ietfNoStateHeaders refuses offset retrieval and cancellation requests
// that carry upload state, which drafts up to -05 forbid.
func ietfNoStateHeaders(q *request) error {
	r, v := q.r, q.ietf
	if !v.rejectsStateHeaders() {
		return nil
	}
	names := []string{"Upload-Offset", v.completeHeader()}
	if v.lengthHeader() && r.Method == http.MethodHead {
		names = append(names, "Upload-Length")
	}
	for _, name := range names {
		if r.Header.Get(name) != "" {
			return errIETFHeader.WithMessage("a " + r.Method + " request must not carry " + name)
		}
	}
	return nil
}
