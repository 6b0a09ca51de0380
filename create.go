package tus

import (
	"fmt"
	"net/http"
	"time"
)

// created is an upload that a request has just created.
type created struct {
	up   Upload
	info FileInfo
	// resp is PreUploadCreateCallback's response, merged into the 201.
	resp HTTPResponse
}

// createUpload creates the upload info describes, for both protocols: it
// assigns the ID and expiry, checks access, runs PreUploadCreateCallback,
// takes the upload's lock if lock is set (q.lock; the caller unlocks it),
// creates the upload in the store and emits EventCreated. A rejection by
// the callback is a *callbackError, for sendError.
//
// Writing the first bytes or concatenating happens under the lock, so no
// other request sees the upload half-made. An upload created empty needs
// none: nobody knows its ID yet.
func (h *Handler) createUpload(q *request, info FileInfo, lock bool) (created, error) {
	var c created
	var err error
	if info.ID, err = NewID(); err != nil {
		return c, err
	}
	if h.cfg.Expiration > 0 {
		// A final upload arrives with the earliest expiry of its
		// unfinished partials (see finalExpiry), which it keeps if sooner.
		exp := time.Now().Add(h.cfg.Expiration).UTC().Truncate(time.Second)
		if info.ExpiresAt.IsZero() || exp.Before(info.ExpiresAt) {
			info.ExpiresAt = exp
		}
	}
	if err := h.checkAccess(q, info, ActionCreate); err != nil {
		return c, err
	}
	if cb := h.cfg.PreUploadCreateCallback; cb != nil {
		resp, changes, err := cb(q.event(info))
		if err != nil {
			return c, &callbackError{resp: resp, err: err}
		}
		c.resp = resp
		if changes.ID != "" {
			if !ValidID(changes.ID) {
				return c, fmt.Errorf("PreUploadCreateCallback changed the ID to an invalid one: %q", changes.ID)
			}
			info.ID = changes.ID
		}
		if changes.MetaData != nil {
			info.MetaData = changes.MetaData
		}
	}
	q.id = info.ID
	if lock {
		if err := h.lockOwn(q); err != nil {
			return c, err
		}
	}
	if c.up, err = h.composer.Core.NewUpload(q.ctx(), info); err != nil {
		h.unlock(q)
		return c, err
	}
	c.info = info
	h.events.emit(q.ctx(), Event{Type: EventCreated, HookEvent: q.event(info)})
	return c, nil
}

// respondCreated sends the 201 of a creation: the pre-create callback's
// response merged in first, then the finish callback's, which wins.
func respondCreated(q *request, createResp, finishResp HTTPResponse) {
	status, body := applyResponse(q.w, createResp, http.StatusCreated)
	if finishResp.Body == "" {
		finishResp.Body = body
	}
	respond(q, status, finishResp)
}
