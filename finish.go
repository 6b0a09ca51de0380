package tus

// finishUpload makes a complete upload durable, runs the pre-finish
// callback and announces the completion. It returns the callback's
// response. If it fails, the upload owes its finish (finishPending), and
// the next request that holds its lock (HEAD, or an empty PATCH at the end
// as a resuming client sends) finishes it again; until then those requests
// fail too, so a client never takes an upload whose finish failed for done.
func (h *Handler) finishUpload(q *request, up Upload, info FileInfo) (HTTPResponse, error) {
	if err := up.FinishUpload(detach(q.ctx())); err != nil {
		if !h.composer.UsesFinishReporter() {
			h.unfinished.Store(info.ID, struct{}{}) // the store cannot tell
		}
		return HTTPResponse{}, err
	}
	var resp HTTPResponse
	if h.cfg.PreFinishResponseCallback != nil {
		var err error
		resp, err = h.cfg.PreFinishResponseCallback(q.event(info))
		if err != nil {
			// The store finished; only the handler knows what is owed.
			h.unfinished.Store(info.ID, struct{}{})
			return resp, &callbackError{resp: resp, err: err}
		}
	}
	h.unfinished.Delete(info.ID)
	h.events.emit(q.ctx(), Event{Type: EventCompleted, HookEvent: q.event(info)})
	return resp, nil
}

// finishPending reports whether complete upload up still owes its finish:
// its store reports a finish that has not succeeded (perhaps in an earlier
// process), or this handler saw the finish or the pre-finish callback fail.
func (h *Handler) finishPending(up Upload, info FileInfo) bool {
	if !info.IsComplete() {
		return false
	}
	if h.composer.UsesFinishReporter() && !h.composer.FinishReporter.AsFinishReporter(up).Finished() {
		return true
	}
	_, failed := h.unfinished.Load(info.ID)
	return failed
}

// retryFinish finishes a complete upload whose earlier finish failed. The
// caller holds the upload's lock.
func (h *Handler) retryFinish(q *request, up Upload, info FileInfo) (HTTPResponse, error) {
	if !h.finishPending(up, info) {
		return HTTPResponse{}, nil
	}
	return h.finishUpload(q, up, info)
}
