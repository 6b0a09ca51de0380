package tus

import (
	"errors"
	"log/slog"
	"net/http"
)

// PatchFile appends the request body to an upload at Upload-Offset (the core
// protocol). It answers 204 with the new Upload-Offset; 409 if the offset is
// not the upload's, 413 past its length, 415 without
// application/offset+octet-stream, 460 on a checksum mismatch (nothing of
// the chunk is kept). Bytes read before a broken connection, a read timeout
// or an interruption by a newer request are stored and counted.
//
// A request marked by Middleware as IETF (Upload-Draft-Interop-Version) is
// served as that protocol's append instead.
func (h *Handler) PatchFile(w http.ResponseWriter, r *http.Request) {
	if v, ok := ietfFrom(r); ok {
		h.ietfAppend(w, r, v)
		return
	}
	if !isOffsetOctetStream(r.Header.Get("Content-Type")) {
		h.sendError(w, r, ErrInvalidContentType)
		return
	}
	offset, ok := parseUint(r.Header.Get("Upload-Offset"))
	if !ok {
		h.sendError(w, r, ErrInvalidOffset)
		return
	}
	declared, declares := int64(0), false
	if v := r.Header.Get("Upload-Length"); v != "" {
		if declared, declares = parseUint(v); !declares {
			h.sendError(w, r, ErrInvalidUploadLength)
			return
		}
	}
	if err := checkChecksumHeader(r); err != nil {
		h.sendError(w, r, err)
		return
	}
	id, err := uploadID(r)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	hl, err := h.lockAccessible(r, id, ActionWrite)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	defer h.unlock(r, hl)

	up, info, err := h.openLocked(r, id, ActionWrite)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	if info.IsFinal {
		h.sendError(w, r, ErrModifyFinal)
		return
	}
	if offset != info.Offset {
		h.sendError(w, r, ErrMismatchOffset)
		return
	}
	wasDeferred := info.SizeIsDeferred
	if declares {
		if info, err = h.declareLength(r, up, info, declared); err != nil {
			h.sendError(w, r, err)
			return
		}
	}
	if !info.SizeIsDeferred && r.ContentLength > info.Size-info.Offset {
		h.setUploadOffset(w, info)
		h.sendError(w, r, ErrSizeExceeded)
		return
	}

	var resp HTTPResponse
	switch {
	case r.ContentLength != 0:
		info, resp, err = h.writeBody(w, r, hl, up, info, false, nil)
	case wasDeferred && declares && info.IsComplete():
		// An empty PATCH that declares the length the upload already has.
		resp, err = h.finishUpload(r, up, info)
	default:
		resp, err = h.retryFinish(r, up, info)
	}
	h.setUploadOffset(w, info)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	status, body := applyResponse(w, resp, http.StatusNoContent)
	finishResponse(w, r, status, body)
}

// setUploadOffset sets the response headers a PATCH answers with.
func (h *Handler) setUploadOffset(w http.ResponseWriter, info FileInfo) {
	w.Header().Set("Upload-Offset", formatInt(info.Offset))
	h.setExpires(w, info)
}

// declareLength sets the length of a deferred-length upload. Declaring the
// length it already has is accepted; changing it is not.
func (h *Handler) declareLength(r *http.Request, up Upload, info FileInfo, length int64) (FileInfo, error) {
	return h.setLength(r, up, info, length, r.ContentLength)
}

// setLength is declareLength for a request that will still write incoming
// bytes (-1 if unknown) after the declaration.
func (h *Handler) setLength(r *http.Request, up Upload, info FileInfo, length, incoming int64) (FileInfo, error) {
	if !info.SizeIsDeferred {
		if length == info.Size {
			return info, nil
		}
		return info, ErrUploadLengthAlreadySet
	}
	if n, ok := announcedLength(info); ok && length != n {
		return info, ErrInvalidUploadLength.WithMessage("Upload-Length differs from the length announced at creation, " + formatInt(n))
	}
	if h.cfg.MaxSize > 0 && length > h.cfg.MaxSize {
		return info, ErrMaxSizeExceeded
	}
	if length < info.Offset {
		return info, ErrInvalidUploadLength.WithMessage("Upload-Length is smaller than the bytes already uploaded")
	}
	if incoming > 0 && info.Offset+incoming > length {
		return info, ErrSizeExceeded
	}
	if !h.composer.UsesLengthDeferrer() {
		return info, ErrNotImplemented
	}
	if err := h.composer.LengthDeferrer.AsLengthDeclarableUpload(up).DeclareLength(r.Context(), length); err != nil {
		return info, err
	}
	info.Size, info.SizeIsDeferred = length, false
	return info, nil
}

// announcedLength returns the length an IETF client announced for an
// upload whose length is not yet declared (see FileInfo.Size), if any.
func announcedLength(info FileInfo) (int64, bool) {
	return info.Size, info.SizeIsDeferred && info.Size > 0
}

// writeBody streams r's body into up at info.Offset and finishes the upload
// when its last byte arrives. It returns the upload's new state; on error,
// the state still counts every byte that was stored. progress, if not nil,
// is told the upload's offset at most every Config.ProgressInterval while
// the body is read: the bytes handed to the store by then.
//
// A body that goes past the upload's length (or Config.MaxSize while the
// length is open) fails with ErrSizeExceeded. For tus (ietf false) the
// whole chunk is dropped. For an IETF request the bytes up to a known
// length are kept (the drafts stop appending there and reject the rest),
// and so are those up to MaxSize once progress sent them to the client
// (progress reports whether it did), as an offset sent must not go back.
func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, hl *heldLock, up Upload, info FileInfo, ietf bool, progress func(offset int64) bool) (FileInfo, HTTPResponse, error) {
	limit := int64(-1)
	_, announced := announcedLength(info)
	switch {
	case !info.SizeIsDeferred || announced:
		limit = info.Size - info.Offset
	case h.cfg.MaxSize > 0:
		limit = h.cfg.MaxSize - info.Offset
	}
	br := newBodyReader(w, r, limit, h.cfg.NetworkTimeout)
	br.keepToLimit = ietf && (!info.SizeIsDeferred || announced)
	br.keepAnnounced = ietf
	start := info.Offset
	if events := h.events.active(); events || progress != nil {
		br.progressEvery = h.cfg.ProgressInterval
		br.onProgress = func(read int64) {
			pi := info
			pi.Offset = start + read
			if events {
				h.events.emit(r.Context(), Event{Type: EventProgress, HookEvent: newHookEvent(r, pi), body: br})
			}
			if progress != nil && progress(pi.Offset) {
				br.announced = true
			}
		}
	}
	src, err := newVerifyingReader(br, r)
	if err != nil {
		return info, HTTPResponse{}, err
	}
	hl.attach(br)
	// The client may be gone, but what was read must still be stored.
	n, werr := up.WriteChunk(detach(r.Context()), info.Offset, src)
	br.finish()
	info.Offset += n
	if n > 0 && br.onProgress != nil {
		br.onProgress(n)
	}
	if se := br.stopped(); se != nil {
		// Stopped on purpose by a progress event's subscriber, which was
		// told so: even if the store kept going, the upload goes.
		h.terminateStopped(r, up, info)
		return info, HTTPResponse{}, &callbackError{resp: se.resp, err: se}
	}
	if werr != nil {
		if br.failed && asError(werr) == nil {
			// The client broke off: not a server fault.
			werr = &bodyReadError{err: werr}
		}
		if n > 0 && info.IsComplete() {
			// Every byte is stored although the request failed after the
			// last one (the body broke off at its very end): finish now, or
			// a failed finish is retried by the next request.
			_, _ = h.finishUpload(r, up, info)
		}
		return info, HTTPResponse{}, werr
	}
	if n == 0 || !info.IsComplete() {
		// Only the request that stores the last byte finishes the upload
		// (an earlier failed finish is retried by retryFinish).
		return info, HTTPResponse{}, nil
	}
	resp, err := h.finishUpload(r, up, info)
	return info, resp, err
}

// terminateStopped deletes an upload stopped by Event.StopUpload, if the
// store supports termination; otherwise the bytes read stay and the upload
// can be resumed. The caller holds the upload's lock.
func (h *Handler) terminateStopped(r *http.Request, up Upload, info FileInfo) {
	if !h.composer.UsesTerminater() {
		return
	}
	if err := h.terminate(detach(r.Context()), r.Context(), up, newHookEvent(r, info)); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "terminating a stopped upload failed",
			slog.String("id", info.ID), slog.String("error", err.Error()))
	}
}

// bodyBroke reports whether err from writeBody means the request body broke
// off (the client went away, stalled, or a newer request took over): the
// bytes that arrived are stored, and the upload can be resumed.
func bodyBroke(err error) bool {
	var broke *bodyReadError
	return errors.As(err, &broke) || errors.Is(err, ErrReadTimeout) || errors.Is(err, ErrUploadInterrupted)
}

// bodyReadError is a WriteChunk failure caused by the request body breaking
// off. It answers as ErrBodyRead; the bytes read before are stored.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string        { return "reading request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() []error      { return []error{ErrBodyRead, e.err} }
func (e *bodyReadError) Is(target error) bool { return target == ErrBodyRead }
