package tus

import (
	"context"
	"net/http"
)

// terminateRequest serves DELETE in both protocols (tus termination, IETF
// cancellation): it asks a request still writing to stop, runs
// PreUploadTerminateCallback, deletes every byte and record of the upload
// and answers 204.
func (h *Handler) terminateRequest(q *request) {
	if !h.terminationEnabled() {
		q.w.Header().Set("Allow", h.allow)
		h.fail(q, ErrMethodNotAllowed.WithMessage("termination is disabled on this server"))
		return
	}
	if q.ietf != 0 {
		if err := ietfNoStateHeaders(q); err != nil {
			h.fail(q, err)
			return
		}
	}
	if err := h.lockAccessible(q, ActionTerminate); err != nil {
		h.fail(q, err)
		return
	}
	defer h.unlock(q)
	up, info, err := h.openLocked(q, ActionTerminate)
	if err != nil {
		h.fail(q, err)
		return
	}
	var resp HTTPResponse
	if cb := h.cfg.PreUploadTerminateCallback; cb != nil {
		if resp, err = cb(q.event(info)); err != nil {
			h.sendCallbackError(q, resp, err)
			return
		}
	}
	if err := h.terminate(q.ctx(), q.ctx(), up, Event{HookEvent: q.event(info)}); err != nil {
		h.fail(q, err)
		return
	}
	respond(q, http.StatusNoContent, resp)
}

// TerminateUpload deletes upload id on the server's own decision: as a
// DELETE would, but without the access and pre-terminate callbacks, and
// whether or not termination is offered to clients. It waits for the
// upload's lock, asking a request that holds it to let go (the request
// stores what it read and ends). Subscribers then see EventTerminated with
// an empty HTTPRequest. It fails with ErrNotImplemented if the store cannot
// terminate, and with ErrNotFound if there is no such upload.
func (h *Handler) TerminateUpload(ctx context.Context, id string) error {
	if !h.composer.UsesTerminater() {
		return ErrNotImplemented
	}
	if !ValidID(id) {
		return ErrInvalidID
	}
	hl, err := h.lockUpload(ctx, id, new(heldLock))
	if err != nil {
		return err
	}
	defer h.release(ctx, hl)
	up, info, err := h.getUpload(ctx, id)
	if err != nil && up == nil { // a damaged upload can be terminated
		return err
	}
	return h.terminate(ctx, ctx, up, Event{HookEvent: HookEvent{Context: ctx, Upload: info}})
}

// terminate deletes up, whose lock the caller holds, with storeCtx,
// forgets a finish it may still owe, and announces the termination with
// ev (as EventTerminated), waiting for slow subscribers at most until
// emitCtx ends. Every termination goes through it: DELETE, TerminateUpload,
// a stopped upload and the expiry sweep.
func (h *Handler) terminate(storeCtx, emitCtx context.Context, up Upload, ev Event) error {
	if err := h.composer.Terminater.AsTerminatableUpload(up).Terminate(storeCtx); err != nil {
		return err
	}
	h.unfinished.Delete(ev.Upload.ID)
	ev.Type = EventTerminated
	h.events.emit(emitCtx, ev)
	return nil
}
