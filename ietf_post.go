package tus

import (
	"errors"
	"net/http"
)

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
func (h *Handler) ietfCreate(w http.ResponseWriter, r *http.Request, v ietfVersion) {
	complete, err := ietfComplete(r, v, true)
	if err == nil && r.Header.Get("Upload-Offset") != "" {
		err = errIETFHeader.WithMessage("an upload creation must not carry Upload-Offset")
	}
	if err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}
	var info FileInfo
	info.MetaData, err = ietfMetadata(r)
	length := int64(-1)
	if err == nil {
		length, err = ietfLength(r, v, 0, complete)
	}
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
		info.Size, info.SizeIsDeferred = length, true
	default:
		info.Size = length
	}
	if err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}

	withBody := r.ContentLength != 0
	up, info, hl, createResp, err := h.newUpload(r, info, withBody)
	if err != nil {
		h.ietfError(w, r, v, err, nil, 0)
		return
	}
	if hl != nil {
		defer h.unlock(r, hl)
	}
	url := h.uploadURL(r, info.ID)
	announce := []string{"Location", url}
	if v.limits() {
		announce = append(announce, "Upload-Limit", h.ietfLimits(v, ttl(info)))
	}
	h.send104(w, r, v, announce...)

	info, resp, err := h.ietfWrite(w, r, v, hl, up, info, complete)
	w.Header().Set("Location", url)
	if err != nil {
		h.ietfError(w, r, v, err, &info, 0)
		return
	}
	h.ietfState(w, v, info)
	respondCreated(w, r, createResp, resp)
}

// ietfWrite stores the content of an IETF creation or append, if any, and
// completes the upload when the request asks for it (complete) or the
// content filled its known length. An upload whose length is still open
// gets the length it has reached. The caller holds the lock if the request
// has content. A body that broke off is no error: what arrived is kept and
// the upload stays incomplete.
func (h *Handler) ietfWrite(w http.ResponseWriter, r *http.Request, v ietfVersion, hl *heldLock, up Upload, info FileInfo, complete bool) (FileInfo, HTTPResponse, error) {
	var resp HTTPResponse
	var err error
	if r.ContentLength != 0 {
		start := info.Offset
		info, resp, err = h.writeBody(w, r, hl, up, info, true, h.ietfProgress(w, r, v))
		switch {
		case bodyBroke(err):
			return info, HTTPResponse{}, nil
		case errors.Is(err, ErrSizeExceeded) && hasLength(info):
			return info, HTTPResponse{}, errIETFInconsistentLength.WithMessage("the content goes past the upload's length")
		case errors.Is(err, ErrSizeExceeded):
			return info, HTTPResponse{}, ErrMaxSizeExceeded // an open length stops at MaxSize
		case err != nil:
			return info, resp, err
		case info.Offset > start && info.IsComplete():
			return info, resp, nil // writeBody finished it with its last byte
		}
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
		if info, err = h.setLength(r, up, info, info.Offset, 0); err != nil {
			return info, HTTPResponse{}, err
		}
	}
	if !info.IsComplete() {
		return info, HTTPResponse{}, errIETFInconsistentLength.WithMessage("the upload cannot complete: it holds " +
			formatInt(info.Offset) + " of its " + formatInt(info.Size) + " bytes")
	}
	resp, err = h.finishUpload(r, up, info)
	return info, resp, err
}

// hasLength reports whether the upload's length is known to the handler:
// declared, or announced by an IETF client.
func hasLength(info FileInfo) bool {
	_, announced := announcedLength(info)
	return !info.SizeIsDeferred || announced
}

// ietfComplete reads whether the request completes the upload: from
// Upload-Complete, or the inverse Upload-Incomplete in version 3. A missing
// header is an error where required; otherwise it means complete in version
// 3 (the last append omits Upload-Incomplete) and incomplete later. An
// invalid value is an error up to version 6; from version 7 it counts as
// missing.
func ietfComplete(r *http.Request, v ietfVersion, required bool) (bool, error) {
	name := v.completeHeader()
	s := r.Header.Get(name)
	b, ok := parseSFBoolean(s)
	switch {
	case s != "" && !ok && !v.ignoresInvalidFields():
		return false, errIETFHeader.WithMessage("invalid " + name + " header: want ?0 or ?1")
	case !ok && required && s != "":
		return false, errIETFHeader.WithMessage("invalid " + name + " header, which is ignored, but it is required: want ?0 or ?1")
	case !ok && required:
		return false, errIETFHeader.WithMessage("missing " + name + " header")
	case !ok:
		return v == 3, nil
	}
	if v == 3 {
		b = !b
	}
	return b, nil
}

// ietfLength returns the upload length a request at offset states, or -1:
// Upload-Length (version 6 on; an invalid value is an error in version 6
// and ignored from version 7), or offset plus Content-Length when the
// request completes the upload. Both must agree.
func ietfLength(r *http.Request, v ietfVersion, offset int64, complete bool) (int64, error) {
	length := int64(-1)
	if s := r.Header.Get("Upload-Length"); s != "" && v.lengthHeader() {
		n, ok := parseSFInteger(s)
		switch {
		case ok:
			length = n
		case !v.ignoresInvalidFields():
			return 0, ErrInvalidUploadLength.WithMessage("invalid Upload-Length header: want a non-negative integer")
		}
	}
	if complete && r.ContentLength >= 0 {
		end := offset + r.ContentLength
		if length >= 0 && length != end {
			return 0, errIETFInconsistentLength.WithMessage("Upload-Length does not match the end of the completing content")
		}
		length = end
	}
	return length, nil
}
