package tus

import "time"

// readOffset reads q's upload under its lock for an offset request (HEAD in
// either protocol), finishing it first if it waits for that: a final upload
// whose partials are done, or a failed finish. The lock makes an older
// request still writing stop first, so the offset is the one a resuming
// append must send.
//
// But a writer of this process whose body keeps moving is left alone (see
// writerMoving): the HEAD is a monitor's, and is answered from the store's
// state without the lock. Such an upload is neither final nor waiting for
// a finish (a body is being appended to it), so there is nothing to finish
// first. A stalled writer, or one whose client went away, is asked to let
// go as before, so a client resuming after a dropped connection gets in at
// once and learns the offset to resume from.
func (h *Handler) readOffset(q *request) (FileInfo, error) {
	if h.writerMoving(q) {
		_, info, err := h.openUpload(q, q.id, ActionReadOffset)
		return info, err
	}
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

// headProbe is how long a HEAD watches a writer that moves before it
// leaves it alone (see writerMoving), and headProbeStep how often it looks.
const (
	headProbe     = releaseGrace
	headProbeStep = 10 * time.Millisecond
)

// writerMoving reports whether a request of this process is appending a
// body to q's upload that is alive and moving, which a HEAD must not
// interrupt. The body must have delivered bytes within headMovingWindow
// when the HEAD arrives, and still so after watching it for headProbe:
// a body whose client just went away (a client that resumes at once after
// its connection broke) still looks fresh for a moment, while its request
// reads what was left in the connection's buffers and then ends; the HEAD
// must then take the lock, to answer the offset with those bytes stored.
// Watching ends early, with false, as soon as the body ends, fails, is
// interrupted or stalls. At the end of the watch, the body must have
// delivered bytes during it: a body that stalled just before the HEAD
// came (a client gone, its bytes still being stored) is not moving.
func (h *Handler) writerMoving(q *request) bool {
	if !h.active.moving(q.id, headMovingWindow) {
		return false
	}
	t := time.NewTimer(headProbeStep)
	defer t.Stop()
	until := time.Now().Add(headProbe)
	for {
		select {
		case <-t.C:
		case <-q.ctx().Done():
			return false
		}
		if !h.active.moving(q.id, headMovingWindow) {
			return false
		}
		if !time.Now().Before(until) {
			return h.active.moving(q.id, headProbe)
		}
		t.Reset(min(headProbeStep, time.Until(until)))
	}
}
