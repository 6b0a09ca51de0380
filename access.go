package tus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// lockAccessible checks access to upload q.id for action and then takes its
// lock (q.lock; the caller releases it with unlock). The check comes first
// so that a refused request cannot make the lock's holder let go. Without
// an AccessCallback it only locks.
func (h *Handler) lockAccessible(q *request, action string) error {
	if h.cfg.AccessCallback != nil {
		if _, _, err := h.openUpload(q, q.id, action); err != nil {
			return err
		}
	}
	return h.lockOwn(q)
}

// openUpload finds upload id, reads its state once, runs the access
// callback for action and refuses expired unfinished uploads.
func (h *Handler) openUpload(q *request, id, action string) (Upload, FileInfo, error) {
	return h.readUpload(q, id, action, true)
}

// openLocked is openUpload for q's own upload once q holds its lock
// (lockAccessible already ran the access callback).
func (h *Handler) openLocked(q *request, action string) (Upload, FileInfo, error) {
	return h.readUpload(q, q.id, action, false)
}

// readUpload does the work of openUpload; access says whether to run the
// access callback.
func (h *Handler) readUpload(q *request, id, action string, access bool) (Upload, FileInfo, error) {
	up, info, err := h.getUpload(q.ctx(), id)
	if err != nil && !(action == ActionTerminate && up != nil) {
		// A damaged upload can only be terminated.
		return nil, FileInfo{}, err
	}
	if access {
		if err := h.checkAccess(q, info, action); err != nil {
			return nil, FileInfo{}, err
		}
	}
	if action != ActionTerminate && info.IsExpired(time.Now()) {
		return nil, FileInfo{}, ErrUploadGone
	}
	return up, info, nil
}

// getUpload finds upload id in the store and reads its state. An upload
// whose record is damaged is returned with its error (ErrCorruptUpload):
// it can still be terminated.
func (h *Handler) getUpload(ctx context.Context, id string) (Upload, FileInfo, error) {
	up, err := h.composer.Core.GetUpload(ctx, id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		if errors.Is(err, ErrCorruptUpload) {
			return up, FileInfo{ID: id}, err
		}
		return nil, FileInfo{}, err
	}
	if info.SizeIsDeferred && info.Size > 0 && info.AnnouncedSize == 0 {
		// A record from before FileInfo.AnnouncedSize, when a deferred
		// upload with a size meant a length an IETF client announced.
		info.AnnouncedSize, info.Size = info.Size, 0
	}
	return up, info, nil
}

// checkAccess runs Config.AccessCallback, if any.
func (h *Handler) checkAccess(q *request, info FileInfo, action string) error {
	if h.cfg.AccessCallback == nil {
		return nil
	}
	err := h.cfg.AccessCallback(AccessEvent{HookEvent: q.event(info), Action: action})
	if err != nil && asError(err) == nil {
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

// detach returns a context that outlives the client's request but keeps its
// values, for work that must finish once started (storing what was read).
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
