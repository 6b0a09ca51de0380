package tus

import (
	"errors"
	"mime"
	"net/http"
)

// This file is the edge of the IETF resumable upload protocol
// (draft-ietf-httpbis-resumable-upload, interop versions 3 to 8): it reads
// the drafts' headers into the machinery tus uses too (create.go,
// append.go, offset.go, finish.go, terminate.go) and writes its results in
// the client's interop version. Header encoding is in ietf_headers.go, the
// differences between versions in ietf_versions.go.

// ietfCreate serves an IETF upload creation: a POST to the collection with
// Upload-Complete (Upload-Incomplete in interop version 3) carrying all,
// some or none of the content. The length is taken from Upload-Length
// (version 6 on), from Content-Length when the request completes the
// upload, or left open until the client completes it (which needs a store
// with a LengthDeferrer). As soon as the upload exists, a 104 response
// announces its Location; from version 5, further 104 responses report the
// offset while the content is read. The final response is 201 Created with
// Location, Upload-Offset and the completeness; content that broke off is
// kept and the upload stays incomplete.
func (h *Handler) ietfCreate(q *request) {
	r, v := q.r, q.ietf
	info, complete, err := h.ietfCreation(q)
	if err != nil {
		h.ietfError(q, err, nil, 0)
		return
	}
	c, err := h.createUpload(q, info, r.ContentLength != 0)
	if err != nil {
		h.ietfError(q, err, nil, 0)
		return
	}
	defer h.unlock(q)
	url := h.uploadURL(r, c.info.ID)
	announce := []string{"Location", url}
	if v.limits() {
		announce = append(announce, "Upload-Limit", h.ietfLimits(v, ttl(c.info)))
	}
	h.send104(q, announce...)

	info, resp, err := h.ietfWrite(q, c.up, c.info, complete)
	q.w.Header().Set("Location", url)
	if err != nil {
		h.ietfError(q, err, &info, 0)
		return
	}
	h.ietfState(q, info)
	respondCreated(q, c.resp, resp)
}

// ietfCreation reads an IETF creation's headers into the upload to create
// and whether the request completes it.
func (h *Handler) ietfCreation(q *request) (FileInfo, bool, error) {
	r, v := q.r, q.ietf
	var info FileInfo
	complete, err := ietfComplete(q, true)
	if err != nil {
		return info, false, err
	}
	if r.Header.Get("Upload-Offset") != "" {
		return info, false, errIETFHeader.WithMessage("an upload creation must not carry Upload-Offset")
	}
	if err := checkChecksumHeader(r); err != nil {
		return info, false, err
	}
	if info.MetaData, err = h.ietfMetadata(r); err != nil {
		return info, false, err
	}
	length, err := ietfLength(q, 0, complete)
	switch {
	case err != nil:
	case length < 0 && h.cfg.MaxSize > 0 && r.ContentLength > h.cfg.MaxSize:
		err = ErrMaxSizeExceeded // refused before an upload is made
	case length < 0 && !h.composer.UsesLengthDeferrer():
		err = errIETFNoDeferrer
	case length < 0:
		info.SizeIsDeferred = true
	case h.cfg.MaxSize > 0 && length > h.cfg.MaxSize:
		err = ErrMaxSizeExceeded
	case r.ContentLength > length:
		err = errIETFInconsistentLength.WithMessage("the content is longer than Upload-Length")
	case !complete && length > 0 && v.lengthHeader() && h.composer.UsesLengthDeferrer():
		// Incomplete until the client says so, even once the content
		// reaches the length (draft -05 on): the length stays announced.
		info.AnnouncedSize, info.SizeIsDeferred = length, true
	default:
		info.Size = length
	}
	return info, complete, err
}

// ietfAppend serves an IETF append: a PATCH with Upload-Offset and the
// completeness (Content-Type application/partial-upload from interop
// version 6). A wrong offset answers 409 with the right one (and the
// mismatching-upload-offset problem from version 6); an append to a
// completed upload answers 400 (completed-upload; with content, in version 8,
// inconsistent-upload-length), except an empty completing one at the
// upload's offset, which succeeds from version 6; lengths that disagree
// answer 400 (inconsistent-upload-length from version 7). Success answers
// 201 (204 from version 7) with Upload-Offset and the completeness.
func (h *Handler) ietfAppend(q *request) {
	v := q.ietf
	offset, complete, err := ietfAppendHeaders(q)
	if err == nil {
		err = h.lockAccessible(q, ActionWrite)
	}
	if err != nil {
		h.ietfError(q, err, nil, offset)
		return
	}
	defer h.unlock(q)
	info, found, resp, err := h.ietfAppendLocked(q, offset, complete)
	if err != nil {
		var state *FileInfo
		if found {
			state = &info // its offset is sent with the error
		}
		h.ietfError(q, err, state, offset)
		return
	}
	h.ietfState(q, info)
	respond(q, v.appendStatus(), resp)
}

// ietfAppendHeaders reads an append's Content-Type, Upload-Offset and
// completeness.
func ietfAppendHeaders(q *request) (offset int64, complete bool, err error) {
	r, v := q.r, q.ietf
	if v.partialUploadType() {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != PartialUploadType {
			return 0, false, ErrInvalidContentType.WithMessage("Content-Type must be " + PartialUploadType)
		}
	}
	offset, ok := parseSFInteger(r.Header.Get("Upload-Offset"))
	if !ok {
		return 0, false, ErrInvalidOffset
	}
	if complete, err = ietfComplete(q, v.requiresComplete()); err != nil {
		return offset, false, err
	}
	return offset, complete, checkChecksumHeader(r)
}

// ietfAppendLocked does the work of ietfAppend once q holds the lock. It
// returns the upload's state and whether the upload was found.
func (h *Handler) ietfAppendLocked(q *request, offset int64, complete bool) (FileInfo, bool, HTTPResponse, error) {
	r, v := q.r, q.ietf
	var resp HTTPResponse
	up, info, err := h.openLocked(q, ActionWrite)
	if err != nil {
		return info, false, resp, err
	}
	emptyCompletion := info.IsComplete() && complete && r.ContentLength == 0 && offset == info.Offset
	switch {
	case info.IsFinal:
		err = ErrModifyFinal
	case emptyCompletion && h.finishPending(up, info):
		// The completing request whose finish failed, sent again.
		resp, err = h.retryFinish(q, up, info)
	case emptyCompletion && v.lengthHeader():
		// An empty completing append to an upload that is complete: sent
		// again by a client that lost the answer, or to an upload that
		// completed when its offset reached its length (a store without a
		// LengthDeferrer, or a length tus declared). It succeeds as often
		// as it is sent (if the length it states, if any, is the upload's).
		_, err = ietfLength(q, info.Offset, complete)
	case info.IsComplete() && r.ContentLength != 0 && v.completedAppendInconsistent():
		err = errIETFInconsistentLength.WithMessage("the upload is already complete: content past its length")
	case info.IsComplete():
		err = errIETFCompleted
	case offset != info.Offset:
		err = ErrMismatchOffset
	default:
		var pending bool
		info, pending, err = h.ietfCheckLength(q, up, info, complete)
		if err == nil && pending && info.AnnouncedSize == 0 {
			info, resp, err = h.zeroLengthAppend(q, up, info)
			return info, true, resp, err
		}
		if err == nil {
			info, resp, err = h.ietfWrite(q, up, info, complete)
		}
		if err == nil && pending && info.SizeIsDeferred {
			// The length the append stated, now that its content is
			// stored whole (ietfWrite declared it already if the append
			// completed the upload).
			if info, err = h.declareLength(q, up, info, info.AnnouncedSize, 0); err == nil && info.IsComplete() {
				resp, err = h.finishUpload(q, up, info)
			}
		}
	}
	return info, true, resp, err
}

// zeroLengthAppend serves an append that states Upload-Length: 0 for an
// empty upload whose length is open, with content of unknown length: the
// content is read against a length of 0 before anything is declared, so
// content with any byte is refused and changes nothing; empty content
// declares the length and completes the upload.
func (h *Handler) zeroLengthAppend(q *request, up Upload, info FileInfo) (FileInfo, HTTPResponse, error) {
	probe := info
	probe.Size, probe.SizeIsDeferred = 0, false // as appendBody sees it: no byte fits
	if _, _, err := h.appendBody(q, up, probe, nil); err != nil {
		if errors.Is(err, ErrSizeExceeded) {
			err = errIETFInconsistentLength.WithMessage("the content goes past the stated length of 0")
		}
		return info, HTTPResponse{}, err
	}
	info, err := h.declareLength(q, up, info, 0, 0)
	if err != nil {
		return info, HTTPResponse{}, err
	}
	resp, err := h.finishUpload(q, up, info)
	return info, resp, err
}

// ietfCheckLength checks the length an append states against the upload's.
// If the upload's length was open, the stated length is declared at once
// when the content's length is known (it was checked to fit); for content
// of unknown length it is announced in the returned state, which bounds
// the content, and pending reports that ietfAppendLocked declares it once
// the content is stored whole, so that an append that fails leaves the
// length open (tusAppendLocked does the same). A zero length, which cannot
// be announced, is pending too, with the state unchanged: the content is
// read against it first (zeroLengthAppend).
func (h *Handler) ietfCheckLength(q *request, up Upload, info FileInfo, complete bool) (_ FileInfo, pending bool, _ error) {
	r := q.r
	length, err := ietfLength(q, info.Offset, complete)
	n, announced := announcedLength(info)
	switch {
	case err != nil:
		return info, false, err
	case length >= 0 && announced && length != n:
		return info, false, errIETFInconsistentLength.WithMessage("the stated length differs from the upload's length " + formatInt(n))
	case announced && r.ContentLength > n-info.Offset:
		return info, false, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
	case announced:
		// Stays announced: declared when the client completes the upload.
	case length >= 0 && info.SizeIsDeferred:
		err := h.checkDeclaration(info, length, r.ContentLength)
		if errors.Is(err, ErrInvalidUploadLength) || errors.Is(err, ErrSizeExceeded) {
			err = errIETFInconsistentLength.WithMessage("the stated length is smaller than the upload's content")
		}
		switch {
		case err != nil:
			return info, false, err
		case r.ContentLength >= 0:
			info, err = h.declareLength(q, up, info, length, r.ContentLength)
			return info, false, err
		case length == 0:
			// Cannot be announced: ietfAppendLocked reads the content
			// against it first (zeroLengthAppend).
			return info, true, nil
		}
		info.AnnouncedSize = length
		return info, true, nil
	case length >= 0 && length != info.Size:
		return info, false, errIETFInconsistentLength.WithMessage("the stated length differs from the upload's length " + formatInt(info.Size))
	case !info.SizeIsDeferred && r.ContentLength > info.Size-info.Offset:
		return info, false, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
	case info.SizeIsDeferred && h.cfg.MaxSize > 0 && r.ContentLength > h.cfg.MaxSize-info.Offset:
		return info, false, ErrMaxSizeExceeded
	}
	return info, false, nil
}

// ietfWrite stores the content of an IETF creation or append, if any, and
// completes the upload when the request asks for it (complete) or the
// content filled its known length. An upload whose length is still open
// gets the length it has reached. q holds the lock if the request has
// content. A body that broke off is no error: what arrived is kept and the
// upload stays incomplete.
func (h *Handler) ietfWrite(q *request, up Upload, info FileInfo, complete bool) (FileInfo, HTTPResponse, error) {
	var resp HTTPResponse
	var err error
	if q.r.ContentLength != 0 {
		start := info.Offset
		info, resp, err = h.appendBody(q, up, info, h.ietfProgress(q))
		_, known := knownLength(info)
		switch {
		case bodyBroke(err):
			return info, HTTPResponse{}, nil
		case errors.Is(err, ErrSizeExceeded) && known:
			return info, HTTPResponse{}, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
		case errors.Is(err, ErrSizeExceeded):
			return info, HTTPResponse{}, ErrMaxSizeExceeded // an open length stops at MaxSize
		case err != nil:
			return info, resp, err
		case info.Offset > start && info.IsComplete():
			return info, resp, nil // appendBody finished it with its last byte
		}
	} else {
		h.slideExpiry(q, up, &info) // an empty append renews it too
	}
	if !complete && !info.IsComplete() {
		return info, resp, nil
	}
	if n, ok := announcedLength(info); complete && ok && info.Offset != n {
		return info, HTTPResponse{}, errIETFInconsistentLength.WithMessage("the upload cannot complete: it holds " +
			formatInt(info.Offset) + " of its " + formatInt(n) + " bytes")
	}
	if complete && info.SizeIsDeferred {
		// The length was open, or only announced: it is what has arrived.
		if info, err = h.declareLength(q, up, info, info.Offset, 0); err != nil {
			return info, HTTPResponse{}, err
		}
	}
	if !info.IsComplete() {
		return info, HTTPResponse{}, errIETFInconsistentLength.WithMessage("the upload cannot complete: it holds " +
			formatInt(info.Offset) + " of its " + formatInt(info.Size) + " bytes")
	}
	resp, err = h.finishUpload(q, up, info)
	return info, resp, err
}

// ietfHead serves IETF offset retrieval: 204 with Upload-Offset, the
// completeness, Upload-Length when known and Upload-Limit (version 6 on),
// and Cache-Control: no-store.
func (h *Handler) ietfHead(q *request) {
	if err := ietfNoStateHeaders(q); err != nil {
		h.ietfError(q, err, nil, 0)
		return
	}
	q.w.Header().Set("Cache-Control", "no-store")
	info, err := h.readOffset(q)
	if err != nil {
		h.ietfError(q, err, nil, 0)
		return
	}
	h.ietfState(q, info)
	q.w.WriteHeader(http.StatusNoContent)
}

// ietfOptions answers OPTIONS with an interop version: Accept-Patch and,
// from version 6, Upload-Limit.
func (h *Handler) ietfOptions(q *request) {
	hdr := q.w.Header()
	hdr.Set("Accept-Patch", PartialUploadType)
	if q.ietf.limits() {
		hdr.Set("Upload-Limit", h.ietfLimits(q.ietf, int64(h.cfg.Expiration.Seconds())))
	}
	q.w.WriteHeader(http.StatusNoContent)
}
