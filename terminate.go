package tus

import (
	"context"
	"net/http"
)

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
	// The lock machinery takes a request for its context and logs.
	r := (&http.Request{Method: "TERMINATE", Header: http.Header{}}).WithContext(ctx)
	hl, err := h.lockUpload(r, id)
	if err != nil {
		return err
	}
	defer h.unlock(r, hl)
	up, err := h.composer.Core.GetUpload(ctx, id)
	if err != nil {
		return err
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return err
	}
	return h.terminate(ctx, ctx, up, HookEvent{Context: ctx, Upload: info})
}

// terminate deletes up, whose lock the caller holds, with storeCtx,
// forgets a finish it may still owe, and announces the termination with
// ev, waiting for slow subscribers at most until emitCtx ends.
func (h *Handler) terminate(storeCtx, emitCtx context.Context, up Upload, ev HookEvent) error {
	if err := h.composer.Terminater.AsTerminatableUpload(up).Terminate(storeCtx); err != nil {
		return err
	}
	h.unfinished.Delete(ev.Upload.ID)
	h.events.emit(emitCtx, Event{Type: EventTerminated, HookEvent: ev})
	return nil
}
