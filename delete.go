package tus

import "net/http"

// DelFile terminates an upload (the termination extension): it asks a
// request still writing to stop, runs PreUploadTerminateCallback, deletes
// every byte and record of the upload and answers 204.
//
// A request marked by Middleware as IETF (Upload-Draft-Interop-Version) is
// that protocol's cancellation: the same deletion, after refusing the state
// headers its draft forbids.
func (h *Handler) DelFile(w http.ResponseWriter, r *http.Request) {
	if !h.terminationEnabled() {
		w.Header().Set("Allow", h.allow)
		h.sendError(w, r, ErrMethodNotAllowed.WithMessage("termination is disabled on this server"))
		return
	}
	if v, ok := ietfFrom(r); ok {
		// IETF cancellation is this same deletion.
		if err := ietfNoStateHeaders(r, v); err != nil {
			h.sendError(w, r, err)
			return
		}
	}
	id, err := uploadID(r)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	hl, err := h.lockAccessible(r, id, ActionTerminate)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	defer h.unlock(r, hl)
	up, info, err := h.openLocked(r, id, ActionTerminate)
	if err != nil {
		h.sendError(w, r, err)
		return
	}
	var resp HTTPResponse
	if cb := h.cfg.PreUploadTerminateCallback; cb != nil {
		if resp, err = cb(newHookEvent(r, info)); err != nil {
			h.sendCallbackError(w, r, resp, err)
			return
		}
	}
	if err := h.terminate(r.Context(), r.Context(), up, newHookEvent(r, info)); err != nil {
		h.sendError(w, r, err)
		return
	}
	status, body := applyResponse(w, resp, http.StatusNoContent)
	finishResponse(w, r, status, body)
}
