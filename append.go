package tus

import (
	"errors"
	"log/slog"
	"time"
)

// appendBody streams q's body into up at info.Offset and finishes the
// upload when its last byte arrives; it is the append path of both
// protocols. It returns the upload's new state; on error, the state still
// counts every byte that was stored. progress, if not nil, is told the
// upload's offset at most every Config.ProgressInterval while the body is
// read: the bytes handed to the store by then. q holds the upload's lock.
//
// A body that goes past the upload's length (or Config.MaxSize while the
// length is open) fails with ErrSizeExceeded. For tus the whole chunk is
// dropped. For an IETF request the bytes up to a known length are kept (the
// drafts stop appending there and reject the rest), and so are those up to
// MaxSize once progress sent them to the client (progress reports whether
// it did), as an offset sent must not go back.
func (h *Handler) appendBody(q *request, up Upload, info FileInfo, progress func(offset int64) bool) (FileInfo, HTTPResponse, error) {
	limit := int64(-1)
	length, known := knownLength(info)
	switch {
	case known:
		limit = length - info.Offset
	case h.cfg.MaxSize > 0:
		limit = h.cfg.MaxSize - info.Offset
	}
	br := newBodyReader(q.w, q.r, limit, h.cfg.NetworkTimeout)
	br.setMinRate(h.cfg.MinTransferRate, h.cfg.MinTransferRateWindow)
	q.body = br
	br.keepToLimit = q.ietf != 0 && known
	br.keepAnnounced = q.ietf != 0
	start := info.Offset
	if events := h.events.active(); events || progress != nil {
		br.progressEvery = h.cfg.ProgressInterval
		br.onProgress = func(read int64) {
			pi := info
			pi.Offset = start + read
			if events {
				h.events.emit(q.ctx(), Event{Type: EventProgress, HookEvent: q.event(pi), body: br})
			}
			if progress != nil && progress(pi.Offset) {
				br.announced = true
			}
		}
	}
	src, err := newVerifyingReader(br, q.r)
	if err != nil {
		return info, HTTPResponse{}, err
	}
	h.attachBody(q, br)
	// The client may be gone, but what was read must still be stored.
	n, werr := up.WriteChunk(detach(q.ctx()), info.Offset, src)
	br.finish()
	info.Offset += n
	if werr == nil || n > 0 {
		h.slideExpiry(q, up, &info)
	}
	if n > 0 && br.onProgress != nil {
		br.onProgress(n)
	}
	if se := br.stopped(); se != nil {
		// Stopped on purpose by a progress event's subscriber, which was
		// told so: even if the store kept going, the upload goes.
		h.terminateStopped(q, up, info)
		return info, HTTPResponse{}, &callbackError{resp: se.resp, err: se}
	}
	if werr != nil {
		if br.failed && asError(werr) == nil {
			// The client broke off: not a server fault.
			werr = &bodyReadError{err: werr}
		}
		if n > 0 && info.IsComplete() {
			// Every byte is stored although the request failed after the
			// last one (the body broke off at its very end): finish now, or
			// a failed finish is retried by the next request.
			_, _ = h.finishUpload(q, up, info)
		}
		return info, HTTPResponse{}, werr
	}
	if n == 0 || !info.IsComplete() {
		// Only the request that stores the last byte finishes the upload
		// (an earlier failed finish is retried by retryFinish).
		return info, HTTPResponse{}, nil
	}
	resp, err := h.finishUpload(q, up, info)
	return info, resp, err
}

// slideExpiry renews the expiry of an unfinished upload that a PATCH
// wrote to, with Config.ExpirationSliding: to Config.Expiration from now,
// rewritten only once the renewal moves it by a hundredth of Expiration
// (at least a second). A failed renewal is logged and leaves info's expiry
// as stored: the request's bytes are kept either way. q holds the lock.
func (h *Handler) slideExpiry(q *request, up Upload, info *FileInfo) {
	if !h.cfg.ExpirationSliding || info.IsComplete() || info.ExpiresAt.IsZero() {
		return
	}
	next := time.Now().Add(h.cfg.Expiration).UTC().Truncate(time.Second)
	if next.Sub(info.ExpiresAt) < max(h.cfg.Expiration/100, time.Second) {
		return
	}
	if err := h.composer.Extender.AsExtendableUpload(up).ExtendExpiry(detach(q.ctx()), next); err != nil {
		q.log().LogAttrs(q.ctx(), slog.LevelWarn, "renewing an upload's expiry failed",
			slog.String("id", info.ID), slog.String("error", err.Error()))
		return
	}
	info.ExpiresAt = next
}

// terminateStopped deletes an upload stopped by Event.StopUpload, if the
// store supports termination; otherwise the bytes read stay and the upload
// can be resumed. q holds the upload's lock.
func (h *Handler) terminateStopped(q *request, up Upload, info FileInfo) {
	if !h.composer.UsesTerminater() {
		return
	}
	if err := h.terminate(detach(q.ctx()), q.ctx(), up, Event{HookEvent: q.event(info)}); err != nil {
		q.log().LogAttrs(q.ctx(), slog.LevelError, "terminating a stopped upload failed",
			slog.String("id", info.ID), slog.String("error", err.Error()))
	}
}

// declareLength sets the length of a deferred-length upload, for a request
// that will still write incoming bytes (-1 if unknown) after the
// declaration. Declaring the length it already has is accepted; changing
// it is not. See checkDeclaration for what is refused; a request whose
// body of unknown length is still to come declares only once the body is
// stored whole (see tusAppendLocked), so that a request that fails leaves
// the length open.
func (h *Handler) declareLength(q *request, up Upload, info FileInfo, length, incoming int64) (FileInfo, error) {
	if err := h.checkDeclaration(info, length, incoming); err != nil || !info.SizeIsDeferred {
		return info, err
	}
	if err := h.composer.LengthDeferrer.AsLengthDeclarableUpload(up).DeclareLength(q.ctx(), length); err != nil {
		return info, err
	}
	info.Size, info.SizeIsDeferred, info.AnnouncedSize = length, false, 0
	return info, nil
}

// checkDeclaration reports why length cannot become the length of upload
// info for a request that will still write incoming bytes (-1 if unknown),
// or nil if it can (also when it is the length the upload already has). It
// changes nothing, so a request checks it before anything else.
func (h *Handler) checkDeclaration(info FileInfo, length, incoming int64) error {
	if !info.SizeIsDeferred {
		if length == info.Size {
			return nil
		}
		return ErrUploadLengthAlreadySet
	}
	if n, ok := announcedLength(info); ok && length != n {
		return ErrInvalidUploadLength.WithMessage("Upload-Length differs from the length announced at creation, " + formatInt(n))
	}
	if h.cfg.MaxSize > 0 && length > h.cfg.MaxSize {
		return ErrMaxSizeExceeded
	}
	if length < info.Offset {
		return ErrInvalidUploadLength.WithMessage("Upload-Length is smaller than the bytes already uploaded")
	}
	if incoming > 0 && info.Offset+incoming > length {
		return ErrSizeExceeded
	}
	if !h.composer.UsesLengthDeferrer() {
		return ErrNotImplemented
	}
	return nil
}

// announcedLength returns the length an IETF client announced for an
// upload whose length is not yet declared, if any.
func announcedLength(info FileInfo) (int64, bool) {
	return info.AnnouncedSize, info.SizeIsDeferred && info.AnnouncedSize > 0
}

// knownLength returns the upload's length as far as the handler knows it:
// declared, or announced by an IETF client.
func knownLength(info FileInfo) (int64, bool) {
	if !info.SizeIsDeferred {
		return info.Size, true
	}
	return announcedLength(info)
}

// bodyBroke reports whether err from appendBody means the request body
// broke off (the client went away, stalled, or a newer request took over):
// the bytes that arrived are stored, and the upload can be resumed.
func bodyBroke(err error) bool {
	var broke *bodyReadError
	return errors.As(err, &broke) || errors.Is(err, ErrReadTimeout) || errors.Is(err, ErrUploadInterrupted)
}

// bodyReadError is a WriteChunk failure caused by the request body breaking
// off. It answers as ErrBodyRead; the bytes read before are stored.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string        { return "reading request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() []error      { return []error{ErrBodyRead, e.err} }
func (e *bodyReadError) Is(target error) bool { return target == ErrBodyRead }
