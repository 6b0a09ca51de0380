package tus

import "net/http"

// HeadFile answers an offset request (the core protocol): 200 with
// Upload-Offset, Upload-Length or Upload-Defer-Length, Upload-Metadata,
// Upload-Concat and Upload-Expires, and Cache-Control: no-store. It takes
// the upload's lock, so an older request still writing is asked to stop
// first and the offset returned is the one a resuming PATCH must send.
//
// A request marked by Middleware as IETF (Upload-Draft-Interop-Version) is
// served as that protocol's offset retrieval instead.
func (h *Handler) HeadFile(w http.ResponseWriter, r *http.Request) {
	if v, ok := ietfFrom(r); ok {
		h.ietfHead(w, r, v)
		return
	}
	id, err := uploadID(r)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	info, err := h.headLocked(r, id)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	h.setUploadHeaders(w, r, info)
	w.WriteHeader(http.StatusOK)
}

// headLocked reads upload id under its lock, finishing it first if it waits
// for that (a final upload whose partials are done, or a failed finish).
func (h *Handler) headLocked(r *http.Request, id string) (FileInfo, error) {
	hl, err := h.lockAccessible(r, id, ActionReadOffset)
	if err != nil {
		return FileInfo{}, err
	}
	defer h.unlock(r, hl)
	up, info, err := h.openLocked(r, id, ActionReadOffset)
	if err != nil {
		return FileInfo{}, err
	}
	if err := h.concatIfReady(r, up, &info); err != nil {
		return FileInfo{}, err
	}
	if _, err := h.retryFinish(r, up, info); err != nil {
		return FileInfo{}, err
	}
	return info, nil
}
