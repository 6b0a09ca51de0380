package tus

import "net/http"

// HeadFile answers an offset request (the core protocol): 200 with
// Upload-Offset, Upload-Length or Upload-Defer-Length, Upload-Metadata,
// Upload-Concat and Upload-Expires, and Cache-Control: no-store. It takes
// the upload's lock, so an older request still writing is asked to stop
// first and the offset returned is the one a resuming PATCH must send.
func (h *Handler) HeadFile(w http.ResponseWriter, r *http.Request) {
	id, err := uploadID(r)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	hl, err := h.lockAccessible(r, id, ActionReadOffset)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	up, info, err := h.openLocked(r, id, ActionReadOffset)
	if err == nil {
		err = h.concatIfReady(r, up, &info)
	}
	h.unlock(r, hl)
	if err != nil {
		h.respondError(w, r, err)
		return
	}
	h.setUploadHeaders(w, r, info)
	w.WriteHeader(http.StatusOK)
}
