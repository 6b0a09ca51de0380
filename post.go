package tus

import (
	"fmt"
	"net/http"
	"time"
)

// PostFile creates an upload (the creation extension), optionally with its
// first bytes (creation-with-upload), with a deferred length
// (creation-defer-length), or as a partial or final upload (concatenation).
// It answers 201 Created with the upload's Location.
//
// A request marked by Middleware as IETF (Upload-Draft-Interop-Version) is
// served as that protocol's upload creation instead.
func (h *Handler) PostFile(w http.ResponseWriter, r *http.Request) {
	if v, ok := ietfFrom(r); ok {
		h.ietfCreate(w, r, v)
		return
	}
	info, partials, pinfos, err := h.parseCreation(r)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	if err := checkChecksumHeader(r); err != nil {
		h.sendError(w, r, err)
		return
	}
	// A body is read when it is announced as upload content and the upload
	// can take bytes (an empty upload is complete at creation).
	withBody := isOffsetOctetStream(r.Header.Get("Content-Type")) && r.ContentLength != 0 &&
		(info.SizeIsDeferred || info.Size > 0 || r.ContentLength > 0)
	if withBody && info.IsFinal {
		h.sendError(w, r, ErrModifyFinal.WithMessage("a final upload cannot carry a body"))
		return
	}
	if withBody && !info.SizeIsDeferred && r.ContentLength > info.Size {
		h.sendError(w, r, ErrSizeExceeded)
		return
	}

	// Writing the first bytes or concatenating happens under the lock, so
	// no other request sees the upload half-made. An upload created empty
	// needs none: nobody knows its ID yet.
	up, info, hl, createResp, err := h.newUpload(r, info, withBody || info.IsFinal)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	if hl != nil {
		defer h.unlock(r, hl)
	}
	hdr := w.Header()
	hdr.Set("Location", h.uploadURL(r, info.ID))

	var resp HTTPResponse
	switch {
	case info.IsFinal:
		var done bool
		done, resp, err = h.tryConcat(r, up, &info, partials, pinfos)
		if err != nil {
			h.sendError(w, r, err)
			return
		}
		if done {
			hdr.Set("Upload-Offset", formatInt(info.Offset))
		}
	case withBody:
		info, resp, err = h.writeBody(w, r, hl, up, info, false, nil)
		hdr.Set("Upload-Offset", formatInt(info.Offset))
		if bodyBroke(err) {
			// The upload exists and holds what arrived: a client still
			// listening resumes from Upload-Offset.
			err = nil
		}
		if err != nil {
			h.setExpires(w, info)
			h.sendError(w, r, err)
			return
		}
	default:
		hdr.Set("Upload-Offset", "0")
		if info.IsComplete() {
			if resp, err = h.finishUpload(r, up, info); err != nil {
				h.sendError(w, r, err)
				return
			}
		}
	}
	h.setExpires(w, info)
	respondCreated(w, r, createResp, resp)
}

// respondCreated sends the 201 of a creation: the pre-create callback's
// response merged in first, then the finish callback's, which wins.
func respondCreated(w http.ResponseWriter, r *http.Request, createResp, finishResp HTTPResponse) {
	status, body := applyResponse(w, createResp, http.StatusCreated)
	status, finishBody := applyResponse(w, finishResp, status)
	if finishBody != "" {
		body = finishBody
	}
	finishResponse(w, r, status, body)
}

// newUpload creates the upload info describes, for both protocols: it
// assigns the ID and expiry, checks access, runs PreUploadCreateCallback,
// takes the upload's lock if lock is set (the caller then unlocks it),
// creates the upload in the store and emits EventCreated. It returns the
// callback's response, to merge into the 201. A rejection by the callback
// is a *callbackError, for sendError.
func (h *Handler) newUpload(r *http.Request, info FileInfo, lock bool) (Upload, FileInfo, *heldLock, HTTPResponse, error) {
	var err error
	var createResp HTTPResponse
	if info.ID, err = NewID(); err != nil {
		return nil, info, nil, createResp, err
	}
	if h.cfg.Expiration > 0 {
		info.ExpiresAt = time.Now().Add(h.cfg.Expiration).UTC().Truncate(time.Second)
	}
	if err := h.checkAccess(r, info, ActionCreate); err != nil {
		return nil, info, nil, createResp, err
	}
	if cb := h.cfg.PreUploadCreateCallback; cb != nil {
		resp, changes, err := cb(newHookEvent(r, info))
		if err != nil {
			return nil, info, nil, createResp, &callbackError{resp: resp, err: err}
		}
		createResp = resp
		if changes.ID != "" {
			if !ValidID(changes.ID) {
				return nil, info, nil, createResp, fmt.Errorf("PreUploadCreateCallback changed the ID to an invalid one: %q", changes.ID)
			}
			info.ID = changes.ID
		}
		if changes.MetaData != nil {
			info.MetaData = changes.MetaData
		}
	}
	var hl *heldLock
	if lock {
		if hl, err = h.lockUpload(r, info.ID); err != nil {
			return nil, info, nil, createResp, err
		}
	}
	up, err := h.composer.Core.NewUpload(r.Context(), info)
	if err != nil {
		if hl != nil {
			h.unlock(r, hl)
		}
		return nil, info, nil, createResp, err
	}
	h.events.emit(r.Context(), Event{Type: EventCreated, HookEvent: newHookEvent(r, info)})
	return up, info, hl, createResp, nil
}

// parseCreation reads the creation headers into the upload to create. For a
// final upload it also loads the partial uploads and checks them.
func (h *Handler) parseCreation(r *http.Request) (FileInfo, []Upload, []FileInfo, error) {
	var info FileInfo
	kind, ids, err := parseConcat(r.Header.Get("Upload-Concat"))
	if err != nil {
		return info, nil, nil, err
	}
	if kind != concatNone && !h.concatEnabled() {
		return info, nil, nil, ErrInvalidConcat.WithMessage("concatenation is not supported by this server")
	}
	if info.MetaData, err = ParseMetadata(r.Header.Get("Upload-Metadata")); err != nil {
		return info, nil, nil, err
	}
	lengthHdr, deferHdr := r.Header.Get("Upload-Length"), r.Header.Get("Upload-Defer-Length")
	if kind == concatFinal {
		if lengthHdr != "" || deferHdr != "" {
			return info, nil, nil, ErrInvalidUploadLength.WithMessage("a final upload must not carry Upload-Length or Upload-Defer-Length")
		}
		partials, pinfos, err := h.loadPartials(r, ids)
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
