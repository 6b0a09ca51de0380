package tus

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// lockAccessible checks access to upload id for action and then takes its
// lock. The check comes first so that a refused request cannot make the
// lock's holder let go. Without an AccessCallback it only locks.
func (h *Handler) lockAccessible(r *http.Request, id, action string) (*heldLock, error) {
	if h.cfg.AccessCallback != nil {
		if _, _, err := h.openUpload(r, id, action); err != nil {
			return nil, err
		}
	}
	return h.lockUpload(r, id)
}

// openUpload finds upload id, reads its state once, runs the access
// callback for action and refuses expired unfinished uploads.
func (h *Handler) openUpload(r *http.Request, id, action string) (Upload, FileInfo, error) {
	return h.readUpload(r, id, action, true)
}

// openLocked is openUpload for a request that went through lockAccessible,
// which already ran the access callback.
func (h *Handler) openLocked(r *http.Request, id, action string) (Upload, FileInfo, error) {
	up, info, err := h.readUpload(r, id, action, false)
	if err == nil && info.IsComplete() {
		if fr, ok := up.(FinishReporter); ok && !fr.Finished() {
			// A finish that failed, maybe in an earlier process: retry it.
			h.unfinished.Store(id, struct{}{})
		}
	}
	return up, info, err
}

// readUpload does the work of openUpload; access says whether to run the
// access callback.
func (h *Handler) readUpload(r *http.Request, id, action string, access bool) (Upload, FileInfo, error) {
	ctx := r.Context()
	up, err := h.composer.Core.GetUpload(ctx, id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if access {
		if err := h.checkAccess(r, info, action); err != nil {
			return nil, FileInfo{}, err
		}
	}
	if action != ActionTerminate && info.IsExpired(time.Now()) {
		return nil, FileInfo{}, ErrUploadGone
	}
	return up, info, nil
}

// checkAccess runs Config.AccessCallback, if any.
func (h *Handler) checkAccess(r *http.Request, info FileInfo, action string) error {
	if h.cfg.AccessCallback == nil {
		return nil
	}
	err := h.cfg.AccessCallback(AccessEvent{HookEvent: newHookEvent(r, info), Action: action})
	if err != nil && asError(err) == nil {
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

// finishUpload makes a complete upload durable, runs the pre-finish
// callback and announces the completion. It returns the callback's response.
// If it fails, the upload is remembered, and the next request that holds
// its lock (HEAD or an empty PATCH at the end, as a resuming client sends)
// finishes it again; until then those requests fail too, so a client never
// takes an upload whose finish failed for done.
func (h *Handler) finishUpload(r *http.Request, up Upload, info FileInfo) (HTTPResponse, error) {
	if err := up.FinishUpload(detach(r.Context())); err != nil {
		h.unfinished.Store(info.ID, struct{}{})
		return HTTPResponse{}, err
	}
	var resp HTTPResponse
	if h.cfg.PreFinishResponseCallback != nil {
		var err error
		resp, err = h.cfg.PreFinishResponseCallback(newHookEvent(r, info))
		if err != nil {
			h.unfinished.Store(info.ID, struct{}{})
			return resp, &callbackError{resp: resp, err: err}
		}
	}
	h.unfinished.Delete(info.ID)
	h.events.emit(r.Context(), Event{Type: EventCompleted, HookEvent: newHookEvent(r, info)})
	return resp, nil
}

// retryFinish finishes a complete upload whose earlier finish failed. The
// caller holds the upload's lock.
func (h *Handler) retryFinish(r *http.Request, up Upload, info FileInfo) (HTTPResponse, error) {
	if !info.IsComplete() {
		return HTTPResponse{}, nil
	}
	if _, failed := h.unfinished.Load(info.ID); !failed {
		return HTTPResponse{}, nil
	}
	return h.finishUpload(r, up, info)
}

// callbackError carries a callback's rejection and its response.
type callbackError struct {
	resp HTTPResponse
	err  error
}

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// loadPartials finds the partial uploads a final upload is made of. Every
// one must be a partial upload with a known length.
func (h *Handler) loadPartials(r *http.Request, ids []string) ([]Upload, []FileInfo, error) {
	ups := make([]Upload, len(ids))
	infos := make([]FileInfo, len(ids))
	for i, id := range ids {
		up, info, err := h.openUpload(r, id, ActionConcatenate)
		if err != nil {
			if e := asError(err); e != nil && e.Status == http.StatusNotFound {
				return nil, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: partial upload " + id + " not found")
			}
			return nil, nil, err
		}
		if !info.IsPartial {
			return nil, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: upload " + id + " is not a partial upload")
		}
		if info.SizeIsDeferred {
			return nil, nil, ErrInvalidConcat.WithMessage("invalid Upload-Concat header: partial upload " + id + " has no declared length yet")
		}
		ups[i], infos[i] = up, info
	}
	return ups, infos, nil
}

// tryConcat fills final upload up from its loaded partials if every partial
// is complete, and reports whether it did. The caller holds the final's lock.
//
// A partial that looks complete may be in the middle of a chunk that will
// still be rejected (a checksum mismatch), so each is confirmed under its
// own lock, which makes a request still writing it finish first. A
// complete upload cannot change afterwards: it takes no more bytes. A
// partial named more than once is confirmed once; ConcatUploads still gets
// every occurrence, in order.
//
// Lock order: this is the only place where a request holds two upload
// locks, and it cannot deadlock. The request holds the final upload's lock
// (POST creating it, HEAD, or GET through completePendingFinal) and takes
// the partials' locks one at a time in confirmComplete, which lets go of
// each before the next is taken: at most its own lock plus one partial's,
// always final first, then partial. No request that holds a partial's lock
// takes another lock: concatIfReady does nothing for an upload that is not
// final, confirmComplete only reads under the partial's lock, and a final
// upload is never a partial of another (loadPartials refuses uploads that
// are not partial), so nobody waits for a final's lock while holding a
// partial's. Nor does a request ask for a lock it already holds: its final
// upload is not among the partials (they are partial uploads), and each
// partial's lock is let go before the next, a repeated one included.
func (h *Handler) tryConcat(r *http.Request, up Upload, info *FileInfo, partials []Upload, pinfos []FileInfo) (bool, HTTPResponse, error) {
	ctx := r.Context()
	for _, pi := range pinfos {
		if !pi.IsComplete() {
			return false, HTTPResponse{}, nil
		}
	}
	confirmed := make(map[string]bool, len(pinfos))
	for _, pi := range pinfos {
		if confirmed[pi.ID] {
			continue // a partial named again (tus allows it)
		}
		done, err := h.confirmComplete(r, pi.ID)
		if err != nil || !done {
			return false, HTTPResponse{}, err
		}
		confirmed[pi.ID] = true
	}
	if err := h.composer.Concater.AsConcatableUpload(up).ConcatUploads(ctx, partials); err != nil {
		return false, HTTPResponse{}, err
	}
	info.Offset = info.Size
	resp, err := h.finishUpload(r, up, *info)
	return true, resp, err
}

// confirmComplete re-reads upload id under its lock and reports whether it
// is complete. It takes no other lock and lets go of id's before it returns
// (see the lock order at tryConcat).
func (h *Handler) confirmComplete(r *http.Request, id string) (bool, error) {
	hl, err := h.lockUpload(r, id)
	if err != nil {
		return false, err
	}
	defer h.unlock(r, hl)
	_, info, err := h.readUpload(r, id, ActionConcatenate, false)
	if err != nil {
		return false, err
	}
	return info.IsComplete(), nil
}

// concatIfReady concatenates a final upload created before its partials
// were finished (concatenation-unfinished), once they are. The caller holds
// the final's lock; info is updated.
func (h *Handler) concatIfReady(r *http.Request, up Upload, info *FileInfo) error {
	if !info.IsFinal || info.IsComplete() || !h.concatEnabled() {
		return nil
	}
	partials, pinfos, err := h.loadPartials(r, info.PartialUploads)
	if asError(err) != nil {
		// A partial is gone or unusable: the final upload stays unfinished
		// (GET answers that), which is what it is; this request did not name
		// the partials, so it must not be told its header is wrong.
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "final upload cannot be concatenated",
			slog.String("id", info.ID), slog.String("error", err.Error()))
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = h.tryConcat(r, up, info, partials, pinfos)
	return err
}

// completePendingFinal is concatIfReady for a request that does not hold
// the lock: it takes it and re-reads the upload under it.
func (h *Handler) completePendingFinal(r *http.Request, id string, up Upload, info FileInfo) (Upload, FileInfo, error) {
	if !info.IsFinal || info.IsComplete() || !h.concatEnabled() {
		return up, info, nil
	}
	hl, err := h.lockUpload(r, id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer h.unlock(r, hl)
	if up, err = h.composer.Core.GetUpload(r.Context(), id); err != nil {
		return nil, FileInfo{}, err
	}
	if info, err = up.GetInfo(r.Context()); err != nil {
		return nil, FileInfo{}, err
	}
	if err := h.concatIfReady(r, up, &info); err != nil {
		return nil, FileInfo{}, err
	}
	return up, info, nil
}

// setUploadHeaders writes the headers that describe an upload's state.
func (h *Handler) setUploadHeaders(w http.ResponseWriter, r *http.Request, info FileInfo) {
	hdr := w.Header()
	if !info.IsFinal || info.IsComplete() {
		hdr.Set("Upload-Offset", formatInt(info.Offset))
	}
	if info.SizeIsDeferred {
		hdr.Set("Upload-Defer-Length", "1")
	} else {
		hdr.Set("Upload-Length", formatInt(info.Size))
	}
	if len(info.MetaData) > 0 {
		hdr.Set("Upload-Metadata", EncodeMetadata(info.MetaData))
	}
	switch {
	case info.IsPartial:
		hdr.Set("Upload-Concat", "partial")
	case info.IsFinal:
		urls := make([]string, len(info.PartialUploads))
		for i, id := range info.PartialUploads {
			urls[i] = h.uploadURL(r, id)
		}
		hdr.Set("Upload-Concat", "final;"+strings.Join(urls, " "))
	}
	h.setExpires(w, info)
}

// setExpires sets Upload-Expires for an unfinished upload that expires.
func (h *Handler) setExpires(w http.ResponseWriter, info FileInfo) {
	if !info.ExpiresAt.IsZero() && !info.IsComplete() {
		w.Header().Set("Upload-Expires", formatExpires(info.ExpiresAt))
	}
}

// detach returns a context that outlives the client's request but keeps its
// values, for work that must finish once started (storing what was read).
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
