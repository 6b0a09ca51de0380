package tus

import (
	"log/slog"
	"net/http"
	"time"
)

// loadPartials finds the partial uploads a final upload is made of, in
// order (an ID named twice is loaded twice). Every one must be a partial
// upload with a known length.
func (h *Handler) loadPartials(q *request, ids []string) ([]Upload, []FileInfo, error) {
	ups := make([]Upload, len(ids))
	infos := make([]FileInfo, len(ids))
	for i, id := range ids {
		up, info, err := h.openUpload(q, id, ActionConcatenate)
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

// finalExpiry is the expiry a final upload made of partials gets at least:
// the earliest of its unfinished partials', zero if none expires. A final
// upload cannot complete once one of its partials is gone, so it expires
// with the first of them (the expiry sweep renews it while its partials
// are renewed; see sweepOne).
func finalExpiry(partials []FileInfo) time.Time {
	var exp time.Time
	for _, pi := range partials {
		if !pi.IsComplete() && !pi.ExpiresAt.IsZero() && (exp.IsZero() || pi.ExpiresAt.Before(exp)) {
			exp = pi.ExpiresAt
		}
	}
	return exp
}

// tryConcatLocked fills final upload up from its loaded partials if every
// partial is complete, and reports whether it did. q holds the final's
// lock.
//
// A partial that looks complete may be in the middle of a chunk that will
// still be rejected (a checksum mismatch), so each is confirmed under its
// own lock, which makes a request still writing it finish first; a partial
// named more than once is confirmed once. A complete upload cannot change
// afterwards: it takes no more bytes.
func (h *Handler) tryConcatLocked(q *request, up Upload, info *FileInfo, partials []Upload, pinfos []FileInfo) (bool, HTTPResponse, error) {
	for _, pi := range pinfos {
		if !pi.IsComplete() {
			return false, HTTPResponse{}, nil
		}
	}
	confirmed := make(map[string]bool, len(pinfos))
	for _, pi := range pinfos {
		if confirmed[pi.ID] {
			continue
		}
		done, err := h.confirmComplete(q, pi.ID)
		if err != nil || !done {
			return false, HTTPResponse{}, err
		}
		confirmed[pi.ID] = true
	}
	if err := h.composer.Concater.AsConcatableUpload(up).ConcatUploads(q.ctx(), partials); err != nil {
		return false, HTTPResponse{}, err
	}
	info.Offset = info.Size
	resp, err := h.finishUpload(q, up, *info)
	return true, resp, err
}

// confirmComplete re-reads partial upload id under its lock (the second
// lock of the order described in lock.go) and reports whether it is
// complete.
func (h *Handler) confirmComplete(q *request, id string) (bool, error) {
	hl, err := h.lockUpload(q.ctx(), id, new(heldLock))
	if err != nil {
		return false, err
	}
	defer h.release(q.ctx(), hl)
	_, info, err := h.readUpload(q, id, ActionConcatenate, false)
	if err != nil {
		return false, err
	}
	return info.IsComplete(), nil
}

// concatIfReadyLocked concatenates a final upload created before its
// partials were finished (concatenation-unfinished), once they are. q holds
// the final's lock; info is updated.
func (h *Handler) concatIfReadyLocked(q *request, up Upload, info *FileInfo) error {
	if !info.IsFinal || info.IsComplete() || !h.concatEnabled() {
		return nil
	}
	partials, pinfos, err := h.loadPartials(q, info.PartialUploads)
	if asError(err) != nil {
		// A partial is gone or unusable: the final upload stays unfinished
		// (GET answers that), which is what it is; this request did not name
		// the partials, so it must not be told its header is wrong.
		q.log().LogAttrs(q.ctx(), slog.LevelWarn, "final upload cannot be concatenated",
			slog.String("id", info.ID), slog.String("error", err.Error()))
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = h.tryConcatLocked(q, up, info, partials, pinfos)
	return err
}

// completePendingFinal is concatIfReadyLocked for a request that does not
// hold the lock (a download): it takes it and re-reads the upload under
// it.
func (h *Handler) completePendingFinal(q *request, up Upload, info FileInfo) (Upload, FileInfo, error) {
	if !info.IsFinal || info.IsComplete() || !h.concatEnabled() {
		return up, info, nil
	}
	if err := h.lockOwn(q); err != nil {
		return nil, FileInfo{}, err
	}
	defer h.unlock(q)
	up, info, err := h.getUpload(q.ctx(), q.id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if err := h.concatIfReadyLocked(q, up, &info); err != nil {
		return nil, FileInfo{}, err
	}
	return up, info, nil
}
