package tus

import (
	"errors"
	"mime"
	"net/http"
)

// ietfAppend serves an IETF append: a PATCH with Upload-Offset and the
// completeness (Content-Type application/partial-upload from interop
// version 6). A wrong offset answers 409 with the right one (and the
// mismatching-upload-offset problem from version 6); an append to a
// completed upload answers 400 (completed-upload; with content, in version 8,
// inconsistent-upload-length), except an empty completing one at the
// upload's offset, which succeeds from version 6; lengths that disagree
// answer 400 (inconsistent-upload-length from version 7). Success answers
// 201 (204 from version 7) with Upload-Offset and the completeness.
func (h *Handler) ietfAppend(w http.ResponseWriter, r *http.Request, v ietfVersion) {
	hl, info, offset, resp, err := h.ietfAppendLocked(w, r, v)
	if hl != nil {
		defer h.unlock(r, hl)
	}
	if err != nil {
		var state *FileInfo
		if hl != nil {
			state = &info // the upload was found: its offset is sent
		}
		h.ietfError(w, r, v, err, state, offset)
		return
	}
	h.ietfState(w, v, info)
	status, body := applyResponse(w, resp, v.appendStatus())
	finishResponse(w, r, status, body)
}

// ietfAppendLocked does the work of ietfAppend. It returns the upload's
// lock once taken (the caller unlocks it after answering), the upload's
// state and the offset the request gave.
func (h *Handler) ietfAppendLocked(w http.ResponseWriter, r *http.Request, v ietfVersion) (*heldLock, FileInfo, int64, HTTPResponse, error) {
	var info FileInfo
	var resp HTTPResponse
	if v.partialUploadType() {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != PartialUploadType {
			return nil, info, 0, resp, ErrInvalidContentType.WithMessage("Content-Type must be " + PartialUploadType)
		}
	}
	offset, ok := parseSFInteger(r.Header.Get("Upload-Offset"))
	if !ok {
		return nil, info, 0, resp, ErrInvalidOffset
	}
	complete, err := ietfComplete(r, v, v.requiresComplete())
	if err != nil {
		return nil, info, offset, resp, err
	}
	id, err := uploadID(r)
	if err != nil {
		return nil, info, offset, resp, err
	}
	hl, err := h.lockAccessible(r, id, ActionWrite)
	if err != nil {
		return nil, info, offset, resp, err
	}
	up, info, err := h.openLocked(r, id, ActionWrite)
	switch {
	case err != nil:
		h.unlock(r, hl)
		return nil, info, offset, resp, err
	case info.IsFinal:
		err = ErrModifyFinal
	case info.IsComplete() && complete && r.ContentLength == 0 && offset == info.Offset && h.finishPending(id):
		// The completing request whose finish failed, sent again.
		resp, err = h.retryFinish(r, up, info)
	case info.IsComplete() && complete && r.ContentLength == 0 && offset == info.Offset && v.lengthHeader():
		// An empty completing append to an upload that is complete: sent
		// again by a client that lost the answer, or to an upload that
		// completed when its offset reached its length (a store without a
		// LengthDeferrer, or a length tus declared). It succeeds as often
		// as it is sent (if the length it states, if any, is the upload's).
		_, err = ietfLength(r, v, info.Offset, complete)
	case info.IsComplete() && r.ContentLength != 0 && v.completedAppendInconsistent():
		err = errIETFInconsistentLength.WithMessage("the upload is already complete: content past its length")
	case info.IsComplete():
		err = errIETFCompleted
	case offset != info.Offset:
		err = ErrMismatchOffset
	default:
		info, err = h.ietfCheckLength(r, v, up, info, complete)
		if err == nil {
			info, resp, err = h.ietfWrite(w, r, v, hl, up, info, complete)
		}
	}
	return hl, info, offset, resp, err
}

// ietfCheckLength checks the length an append states against the upload's,
// and declares it if the upload's was open.
func (h *Handler) ietfCheckLength(r *http.Request, v ietfVersion, up Upload, info FileInfo, complete bool) (FileInfo, error) {
	length, err := ietfLength(r, v, info.Offset, complete)
	n, announced := announcedLength(info)
	switch {
	case err != nil:
		return info, err
	case length >= 0 && announced && length != n:
		return info, errIETFInconsistentLength.WithMessage("the stated length differs from the upload's length " + formatInt(n))
	case announced && r.ContentLength > n-info.Offset:
		return info, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
	case announced:
		// Stays announced: declared when the client completes the upload.
	case length >= 0 && info.SizeIsDeferred:
		declared, err := h.setLength(r, up, info, length, r.ContentLength)
		if errors.Is(err, ErrInvalidUploadLength) || errors.Is(err, ErrSizeExceeded) {
			err = errIETFInconsistentLength.WithMessage("the stated length is smaller than the upload's content")
		}
		return declared, err
	case length >= 0 && length != info.Size:
		return info, errIETFInconsistentLength.WithMessage("the stated length differs from the upload's length " + formatInt(info.Size))
	case !info.SizeIsDeferred && r.ContentLength > info.Size-info.Offset:
		return info, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
	case info.SizeIsDeferred && h.cfg.MaxSize > 0 && r.ContentLength > h.cfg.MaxSize-info.Offset:
		return info, ErrMaxSizeExceeded
	}
	return info, nil
}

// finishPending reports whether upload id is complete but its finish failed
// and waits to be retried.
func (h *Handler) finishPending(id string) bool {
	_, failed := h.unfinished.Load(id)
	return failed
}

// ietfHead serves IETF offset retrieval: 204 with Upload-Offset, the
// completeness, Upload-Length when known and Upload-Limit (version 6 on),
// and Cache-Control: no-store.
func (h *Handler) ietfHead(w http.ResponseWriter, r *http.Request, v ietfVersion) {
	if err := ietfNoStateHeaders(r, v); err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}
	id, err := uploadID(r)
	if err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	info, err := h.headLocked(r, id)
	if err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}
	h.ietfState(w, v, info)
	w.WriteHeader(http.StatusNoContent)
}

// ietfNoStateHeaders refuses offset retrieval and cancellation requests
// that carry upload state, which drafts up to -05 forbid.
func ietfNoStateHeaders(r *http.Request, v ietfVersion) error {
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
