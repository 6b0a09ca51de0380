package tus

import (
	"context"
	"log/slog"
	"net/http"
)

// request is what one request carries through the handler, so that the
// machinery takes one value instead of long parameter lists.
type request struct {
	w http.ResponseWriter
	r *http.Request
	// id is the upload the URL names; empty for the collection.
	id string
	// ietf is the interop version of an IETF request; 0 for tus 1.0.
	ietf ietfVersion
	// rid is the request ID, also sent as X-Request-ID.
	rid string
	// lock is the upload's lock while the request holds it (see lock.go);
	// it points to held.
	lock *heldLock
	held heldLock
	// body reads the request body once appendBody started; nil before, or
	// for a request whose body is not read. respond.go asks it whether
	// the body ended (see closeIfBodyLeft).
	body *bodyReader

	base   *slog.Logger
	logger *slog.Logger // base with the request's attributes, made on first use
}

// newRequest starts the per-request value of r.
func (h *Handler) newRequest(w http.ResponseWriter, r *http.Request, rid string) *request {
	return &request{w: w, r: r, rid: rid, base: h.log}
}

// ctx is the request's context: it ends when the client goes away.
func (q *request) ctx() context.Context { return q.r.Context() }

// log returns the handler's logger with the request ID, method and path.
func (q *request) log() *slog.Logger {
	if q.logger == nil {
		q.logger = q.base.With(slog.String("request_id", q.rid),
			slog.String("method", q.r.Method), slog.String("path", q.r.URL.Path))
	}
	return q.logger
}

// event is the HookEvent for q and info.
func (q *request) event(info FileInfo) HookEvent { return newHookEvent(q.r, info) }
