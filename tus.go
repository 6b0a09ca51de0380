package tus

import (
	"log/slog"
	"net/http"
	"strings"
)

// This file is the tus 1.0 edge: it reads tus headers into the shared
// machinery (create.go, append.go, offset.go, concat.go, finish.go) and
// writes its results as tus headers.

// tusCreate serves a tus creation (POST): an empty upload, one with its
// first bytes (creation-with-upload), with a deferred length, or a partial
// or final upload (concatenation). It answers 201 Created with Location.
func (h *Handler) tusCreate(q *request) {
	r := q.r
	info, partials, pinfos, err := h.parseCreation(q)
	if err == nil {
		err = checkChecksumHeader(r)
	}
	// A body is read when it is announced as upload content and the upload
	// can take bytes (an empty upload is complete at creation).
	withBody := isOffsetOctetStream(r.Header.Get("Content-Type")) && r.ContentLength != 0 &&
		(info.SizeIsDeferred || info.Size > 0 || r.ContentLength > 0)
	switch {
	case err != nil:
	case withBody && info.IsFinal:
		err = ErrModifyFinal.WithMessage("a final upload cannot carry a body")
	case withBody && !info.SizeIsDeferred && r.ContentLength > info.Size:
		err = ErrSizeExceeded
	}
	if err != nil {
		h.sendError(q, err)
		return
	}

	c, err := h.createUpload(q, info, withBody || info.IsFinal)
	if err != nil {
		h.sendError(q, err)
		return
	}
	defer h.unlock(q)
	up, info := c.up, c.info
	hdr := q.w.Header()
	hdr.Set("Location", h.uploadURL(r, info.ID))

	var resp HTTPResponse
	switch {
	case info.IsFinal:
		var done bool
		done, resp, err = h.tryConcatLocked(q, up, &info, partials, pinfos)
		if err != nil {
			h.sendError(q, err)
			return
		}
		if done {
			hdr.Set("Upload-Offset", formatInt(info.Offset))
		}
	case withBody:
		info, resp, err = h.appendBody(q, up, info, nil)
		hdr.Set("Upload-Offset", formatInt(info.Offset))
		if bodyBroke(err) {
			// The upload exists and holds what arrived: a client still
			// listening resumes from Upload-Offset.
			err = nil
		}
		if err != nil {
			h.setExpires(q.w, info)
			h.sendError(q, err)
			return
		}
	default:
		hdr.Set("Upload-Offset", "0")
		if info.IsComplete() {
			if resp, err = h.finishUpload(q, up, info); err != nil {
				h.sendError(q, err)
				return
			}
		}
	}
	h.setExpires(q.w, info)
	respondCreated(q, c.resp, resp)
}

// parseCreation reads the tus creation headers into the upload to create.
// For a final upload it also loads the partial uploads and checks them.
func (h *Handler) parseCreation(q *request) (FileInfo, []Upload, []FileInfo, error) {
	var info FileInfo
	hdr := q.r.Header
	concat := hdr.Get("Upload-Concat")
	var own ownURLs
	if concat != "" {
		own = h.ownURLs(q.r)
	}
	kind, ids, err := parseConcat(concat, own)
	if err != nil {
		return info, nil, nil, err
	}
	if kind != concatNone && !h.concatEnabled() {
		return info, nil, nil, ErrInvalidConcat.WithMessage("concatenation is not supported by this server")
	}
	if info.MetaData, err = h.parseMetadata(hdr.Get("Upload-Metadata")); err != nil {
		return info, nil, nil, err
	}
	if err = h.checkMetadataSize(info.MetaData); err != nil {
		return info, nil, nil, err
	}
	lengthHdr, deferHdr := hdr.Get("Upload-Length"), hdr.Get("Upload-Defer-Length")
	if kind == concatFinal {
		if lengthHdr != "" || deferHdr != "" {
			return info, nil, nil, ErrInvalidUploadLength.WithMessage("a final upload must not carry Upload-Length or Upload-Defer-Length")
		}
		partials, pinfos, err := h.loadPartials(q, ids)
		if err != nil {
			return info, nil, nil, err
		}
		for _, pi := range pinfos {
			info.Size += pi.Size
			if info.Size < 0 {
				return info, nil, nil, ErrMaxSizeExceeded
			}
		}
		if h.cfg.MaxSize > 0 && info.Size > h.cfg.MaxSize {
			return info, nil, nil, ErrMaxSizeExceeded
		}
		info.IsFinal = true
		info.PartialUploads = ids
		info.ExpiresAt = finalExpiry(pinfos)
		return info, partials, pinfos, nil
	}
	info.IsPartial = kind == concatPartial
	switch {
	case lengthHdr != "" && deferHdr != "":
		return info, nil, nil, ErrInvalidUploadLength.WithMessage("Upload-Length and Upload-Defer-Length must not both be set")
	case deferHdr != "":
		if deferHdr != "1" {
			return info, nil, nil, ErrInvalidUploadDeferLength
		}
		if !h.composer.UsesLengthDeferrer() {
			return info, nil, nil, ErrInvalidUploadDeferLength.WithMessage("this server does not support deferred lengths (creation-defer-length)")
		}
		info.SizeIsDeferred = true
	case lengthHdr != "":
		size, ok := parseUint(lengthHdr)
		if !ok {
			return info, nil, nil, ErrInvalidUploadLength
		}
		if h.cfg.MaxSize > 0 && size > h.cfg.MaxSize {
			return info, nil, nil, ErrMaxSizeExceeded
		}
		info.Size = size
	default:
		return info, nil, nil, ErrInvalidUploadLength.WithMessage("missing Upload-Length header (or Upload-Defer-Length: 1)")
	}
	return info, nil, nil, nil
}

// tusAppend serves a tus PATCH: the body appended at Upload-Offset,
// declaring the length on the way if it carries Upload-Length.
func (h *Handler) tusAppend(q *request) {
	r := q.r
	if !isOffsetOctetStream(r.Header.Get("Content-Type")) {
		h.sendError(q, ErrInvalidContentType)
		return
	}
	offset, ok := parseUint(r.Header.Get("Upload-Offset"))
	if !ok {
		h.sendError(q, ErrInvalidOffset)
		return
	}
	declared, declares := int64(0), false
	if v := r.Header.Get("Upload-Length"); v != "" {
		if declared, declares = parseUint(v); !declares {
			h.sendError(q, ErrInvalidUploadLength)
			return
		}
	}
	if err := checkChecksumHeader(r); err != nil {
		h.sendError(q, err)
		return
	}
	if err := h.lockAccessible(q, ActionWrite); err != nil {
		h.sendError(q, err)
		return
	}
	defer h.unlock(q)
	info, found, resp, err := h.tusAppendLocked(q, offset, declared, declares)
	if found {
		h.setOffsetHeaders(q.w, info)
	}
	if err != nil {
		h.sendError(q, err)
		return
	}
	respond(q, http.StatusNoContent, resp)
}

// tusAppendLocked does the work of tusAppend once q holds the lock. It
// returns the upload's state and whether it is to be sent (an error found
// before the write sends none).
func (h *Handler) tusAppendLocked(q *request, offset, declared int64, declares bool) (FileInfo, bool, HTTPResponse, error) {
	up, info, err := h.openLocked(q, ActionWrite)
	switch {
	case err != nil:
		return info, false, HTTPResponse{}, err
	case info.IsFinal:
		return info, false, HTTPResponse{}, ErrModifyFinal
	case offset != info.Offset:
		return info, false, HTTPResponse{}, ErrMismatchOffset
	}
	wasDeferred := info.SizeIsDeferred
	// body is the upload as appendBody sees it. A length the request
	// declares for a deferred-length upload with a body of unknown length
	// (chunked), or one verified by a checksum, which may still be refused
	// whole (pending), is declared only once the body is stored whole: a
	// body that goes past it, fails its checksum or breaks off leaves the
	// length open, so a request that fails changes nothing it does not
	// report, and the store never holds a declared length below its bytes.
	// Until then the length bounds the body as an announced one does; a
	// zero length, which cannot be announced, as a declared one (no byte
	// can then be stored, so appendBody cannot finish the upload before its
	// length is declared). Any other body whose Content-Length fits is
	// known to fit before it is read: its length is declared first, so that a store
	// that refuses the declaration (limitedstore, out of room) does so
	// before any byte is written.
	body, pending := info, false
	if declares {
		if err = h.checkDeclaration(info, declared, q.r.ContentLength); err != nil {
			return info, false, HTTPResponse{}, err
		}
		switch {
		case !info.SizeIsDeferred: // the length it already has
		case q.r.ContentLength < 0 || checksummed(q.r):
			// Unknown length, or a chunk that may still be refused whole:
			// declared once it is stored.
			pending = true
			if declared > 0 {
				body.AnnouncedSize = declared
			} else {
				body.SizeIsDeferred = false
			}
		default:
			if info, err = h.declareLength(q, up, info, declared, q.r.ContentLength); err != nil {
				return info, false, HTTPResponse{}, err
			}
			body = info
		}
	}
	if !info.SizeIsDeferred && q.r.ContentLength > info.Size-info.Offset {
		return info, true, HTTPResponse{}, ErrSizeExceeded
	}
	var resp HTTPResponse
	switch {
	case q.r.ContentLength != 0:
		body, resp, err = h.appendBody(q, up, body, nil)
		info.Offset, info.ExpiresAt = body.Offset, body.ExpiresAt
		if pending && err == nil {
			if info, err = h.declareLength(q, up, info, declared, 0); err == nil && info.IsComplete() {
				resp, err = h.finishUpload(q, up, info)
			}
		}
	case wasDeferred && declares && info.IsComplete():
		// An empty PATCH that declares the length the upload already has.
		resp, err = h.finishUpload(q, up, info)
	default:
		h.slideExpiry(q, up, &info) // an empty PATCH renews it too
		resp, err = h.retryFinish(q, up, info)
	}
	return info, true, resp, err
}

// tusHead serves a tus offset request (HEAD): 200 with the upload's state
// and Cache-Control: no-store.
func (h *Handler) tusHead(q *request) {
	q.w.Header().Set("Cache-Control", "no-store")
	info, err := h.readOffset(q)
	if err != nil {
		h.sendError(q, err)
		return
	}
	h.setUploadHeaders(q, info)
	q.w.WriteHeader(http.StatusOK)
}

// setOffsetHeaders sets the headers a PATCH answers with.
func (h *Handler) setOffsetHeaders(w http.ResponseWriter, info FileInfo) {
	w.Header().Set("Upload-Offset", formatInt(info.Offset))
	h.setExpires(w, info)
}

// setUploadHeaders writes the headers that describe an upload's state to a
// tus client.
func (h *Handler) setUploadHeaders(q *request, info FileInfo) {
	hdr := q.w.Header()
	if !info.IsFinal || info.IsComplete() {
		hdr.Set("Upload-Offset", formatInt(info.Offset))
	}
	if info.SizeIsDeferred {
		hdr.Set("Upload-Defer-Length", "1")
	} else {
		hdr.Set("Upload-Length", formatInt(info.Size))
	}
	if len(info.MetaData) > 0 {
		meta, cut := encodeMetadataLimit(info.MetaData, h.cfg.MaxMetadataSize)
		if cut {
			q.log().LogAttrs(q.ctx(), slog.LevelWarn, "upload metadata exceeds MaxMetadataSize: HEAD sends only the pairs that fit",
				slog.String("id", info.ID), slog.Int64("max_metadata_size", h.cfg.MaxMetadataSize))
		}
		if meta != "" {
			hdr.Set("Upload-Metadata", meta)
		}
	}
	switch {
	case info.IsPartial:
		hdr.Set("Upload-Concat", "partial")
	case info.IsFinal:
		urls := make([]string, len(info.PartialUploads))
		for i, id := range info.PartialUploads {
			urls[i] = h.uploadURL(q.r, id)
		}
		hdr.Set("Upload-Concat", "final;"+strings.Join(urls, " "))
	}
	h.setExpires(q.w, info)
}

// setExpires sets Upload-Expires for an unfinished upload that expires.
func (h *Handler) setExpires(w http.ResponseWriter, info FileInfo) {
	if !info.ExpiresAt.IsZero() && !info.IsComplete() {
		w.Header().Set("Upload-Expires", formatExpires(info.ExpiresAt))
	}
}
