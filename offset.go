package tus

// readOffset reads q's upload under its lock for an offset request (HEAD in
// either protocol), finishing it first if it waits for that: a final upload
// whose partials are done, or a failed finish. The lock makes an older
// request still writing stop first, so the offset is the one a resuming
// append must send.
func (h *Handler) readOffset(q *request) (FileInfo, error) {
	if err := h.lockAccessible(q, ActionReadOffset); err != nil {
		return FileInfo{}, err
	}
	defer h.unlock(q)
	up, info, err := h.openLocked(q, ActionReadOffset)
	if err != nil {
		return FileInfo{}, err
	}
	if err := h.concatIfReadyLocked(q, up, &info); err != nil {
		return FileInfo{}, err
	}
	if _, err := h.retryFinish(q, up, info); err != nil {
		return FileInfo{}, err
	}
	return info, nil
}
