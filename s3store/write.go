package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// WriteChunk appends the bytes of src at offset.
//
// Bytes are cut into parts as the schedule fixes them. Whole parts upload
// while the body is still being read, up to Options.ConcurrentPartUploads
// at a time, each from a buffer that reserved the store's budget for the
// part (or for what the body can still bring, see tus.RemainingReader)
// before reading its first byte (see makeRoom and budget).
// A part that the body does not fill becomes a tail object at the end of the
// request, so every byte read is stored before WriteChunk returns; the part
// is uploaded later, from the tail bytes and the next request's. When the
// body ends exactly where it completes a part that began in the tail, its
// bytes also become a tail object and the part is uploaded after the
// response (see compact.go), so small PATCHes never wait for a part upload.
//
// If src fails with an error matching tus.ErrDiscardChunk, the parts
// this call uploaded are cut off from the upload (its first is overwritten
// with an empty part, which ends the run of whole parts), and its tail
// objects are deleted, so the upload is as it was.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (n int64, err error) {
	if u.corrupt != nil {
		return 0, u.corrupt
	}
	defer func() { u.keep(err) }()
	if u.final {
		return 0, fmt.Errorf("s3store: upload %q is complete", u.doc.ID)
	}
	if offset != u.offset() {
		return 0, tus.ErrMismatchOffset
	}
	if len(u.garbage) > 0 {
		// A stale tail object could otherwise be taken for a new one.
		if err := u.s.deleteKeys(ctx, u.garbage); err != nil {
			return 0, err
		}
		u.garbage = nil
	}
	w := &chunkWriter{
		u:        u,
		sched:    u.doc.Parts,
		first:    u.doc.Parts.partOf(offset),
		oldTail:  slices.Clone(u.tail),
		results:  make(chan partResult, u.s.opts.ConcurrentPartUploads),
		prefixOf: map[int][]segment{},
		done:     map[int]partResult{},
		src:      src,
	}
	w.limit, w.overErr = u.s.opts.MaxObjectSize, tus.ErrMaxSizeExceeded
	if !u.doc.SizeIsDeferred {
		w.limit, w.overErr = u.doc.Size, tus.ErrSizeExceeded
	}
	return w.run(ctx, offset)
}

// partResult is the outcome of one part upload.
type partResult struct {
	p   part
	err error
}

// chunkWriter is the state of one WriteChunk call.
type chunkWriter struct {
	u       *upload
	sched   schedule
	limit   int64 // no byte at or past this offset is accepted
	overErr error // the error for bytes past limit
	first   int   // the first part this chunk writes into
	oldTail []segment
	held    *partBuffer // a whole part begun in the tail, kept back
	heldN   int
	heldPre []segment

	inflight int
	results  chan partResult
	done     map[int]partResult // finished part uploads by number
	prefixOf map[int][]segment  // tail objects each dispatched part includes
	spills   []segment          // tail objects written during the chunk
	failed   error              // the first failed part upload

	src io.Reader // the body (with a byte peeked at put back, see run)
}

// partEnd returns the offset just past part n, the upload's end included.
func (w *chunkWriter) partEnd(n int) int64 {
	end := w.sched.start(n) + w.sched.size(n)
	if !w.u.doc.SizeIsDeferred && end > w.u.doc.Size {
		end = w.u.doc.Size
	}
	return end
}

// run reads w.src to its end, cutting it into parts.
func (w *chunkWriter) run(ctx context.Context, offset int64) (int64, error) {
	u := w.u
	k := w.first
	var prefix []segment // the tail objects that begin part k
	for _, g := range u.tail {
		if g.start >= w.sched.start(k) {
			prefix = append(prefix, g)
		}
	}
	cur := u.s.bufs.newPart()
	pos := offset
	var rerr, derr error // from the body; from starting a part upload
	for {
		// A part upload that failed ends the chunk at once: the rest of
		// the body is not read, since the bytes after the failed part
		// could not be counted anyway.
		if w.poll(); w.failed != nil {
			derr = w.failed
			break
		}
		end := min(w.partEnd(k), w.limit)
		if pos == w.limit {
			rerr = w.probe(w.src)
			break
		}
		if cur.room() == 0 {
			if remainingOf(w.src) == 0 {
				// The body says nothing more comes (an HTTP/2 body ends
				// with a read after its last bytes): read its end instead
				// of waiting for room.
				b, err := peekByte(w.src)
				if b == nil {
					rerr = err
					break
				}
				w.src = &unread{b: b, src: w.src}
			}
			var err error
			if prefix, err = w.makeRoom(ctx, k, prefix, cur, pos, 0); err != nil {
				rerr = err
				break
			}
		}
		n, err := cur.readFrom(w.src, end-pos)
		pos += n
		if pos == w.partEnd(k) && pos > w.sched.start(k) {
			var more []byte
			if len(prefix) > 0 && pos < w.limit && w.partEnd(k) == w.sched.start(k+1) {
				// A part begun in the tail is complete: if the body ends
				// here, the part is uploaded after the response.
				if err == nil {
					more, err = peekByte(w.src)
				}
				if more == nil {
					w.held, w.heldN, w.heldPre = cur, k, prefix
					k++
					prefix, cur = nil, u.s.bufs.newPart()
					rerr = err
					break
				}
			}
			if derr = w.dispatch(ctx, k, prefix, cur); derr != nil {
				// cur is still ours: settle stores its bytes if it can.
				break
			}
			k++
			prefix, cur = nil, u.s.bufs.newPart()
			if more != nil {
				if prefix, err = w.makeRoom(ctx, k, prefix, cur, pos, 1); err == nil {
					var got int64
					got, err = cur.readFrom(bytes.NewReader(more), 1)
					pos += got
					if got == 1 && errors.Is(err, io.EOF) {
						err = nil
					}
				}
			}
		}
		if err != nil {
			rerr = err
			break
		}
	}
	w.waitAll()
	if errors.Is(rerr, tus.ErrDiscardChunk) {
		cur.release()
		if w.held != nil {
			w.held.release()
		}
		return w.rollBack(ctx, offset, rerr)
	}
	werr := w.settle(ctx, k, prefix, cur, pos)
	cur.release()
	if w.held != nil {
		w.held.release()
	}
	stored := u.offset() - offset
	switch {
	case werr != nil:
		return stored, werr
	case derr != nil && u.offset() != pos:
		return stored, derr
	case rerr != nil && !errors.Is(rerr, io.EOF):
		return stored, rerr
	}
	return stored, nil
}

// remainingOf returns how many bytes src can still bring at most, or -1
// if it does not say (see tus.RemainingReader).
func remainingOf(src io.Reader) int64 {
	if r, ok := src.(tus.RemainingReader); ok {
		return r.Remaining()
	}
	return -1
}

// unread is src with bytes read from it put back in front.
type unread struct {
	b   []byte
	src io.Reader
}

func (u *unread) Read(p []byte) (int, error) {
	if len(u.b) > 0 {
		n := copy(p, u.b)
		u.b = u.b[n:]
		return n, nil
	}
	return u.src.Read(p)
}

// Remaining implements tus.RemainingReader.
func (u *unread) Remaining() int64 {
	if rem := remainingOf(u.src); rem >= 0 {
		return rem + int64(len(u.b))
	}
	return -1
}

// peekByte reads one byte of src, or returns the error that ends it.
func peekByte(src io.Reader) ([]byte, error) {
	var b [1]byte
	for {
		n, err := src.Read(b[:])
		if n > 0 {
			return b[:1], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// probe reads past the limit: only the end of the body may follow.
func (w *chunkWriter) probe(src io.Reader) error {
	var b [1]byte
	for {
		n, err := src.Read(b[:])
		if n > 0 {
			return w.overErr
		}
		if err != nil {
			return err
		}
	}
}

// makeRoom makes room in cur for more bytes of part k. An empty buffer
// reserves budget for the rest of the part at once, or for as much of it as
// the body can still bring (pending bytes already read included), waiting in
// line while holding no buffer, so that parts are read whole instead of
// spilled for want of memory. A buffer whose room ran out before its part
// did (the budget is smaller than a part, took room back from a slow
// client, or gave a stuck line what was free; or the body brought more
// than it said) grows a block at a time: when the budget has none free or
// others wait, it first waits for this chunk's own part uploads, and if
// none is left, it stores its bytes as a tail object and reserves anew.
func (w *chunkWriter) makeRoom(ctx context.Context, k int, prefix []segment, cur *partBuffer, pos, pending int64) ([]segment, error) {
	if cur.holds() {
		for {
			if cur.tryGrow() {
				return prefix, nil
			}
			if w.inflight == 0 {
				break
			}
			w.waitOne()
		}
		if w.failed != nil {
			return prefix, w.failed
		}
		var err error
		if prefix, err = w.spill(ctx, prefix, cur, pos); err != nil {
			return prefix, err
		}
	}
	need := min(w.partEnd(k), w.limit) - pos
	if rem := remainingOf(w.src); rem >= 0 {
		need = min(need, rem+pending)
	}
	return prefix, cur.reserve(ctx, need)
}

// spill stores the bytes cur holds, which end at pos, as a tail object that
// begins or continues the current part (prefix), and empties cur, returning
// its budget. On failure cur keeps its bytes.
func (w *chunkWriter) spill(ctx context.Context, prefix []segment, cur *partBuffer, pos int64) ([]segment, error) {
	if cur.Len() > 0 {
		g, err := w.u.s.putSegment(ctx, w.u.doc.ID, pos-cur.Len(), pos, 0, newSections(piece{r: cur, n: cur.Len()}))
		if err != nil {
			return prefix, err
		}
		prefix = append(prefix, g)
		w.spills = append(w.spills, g)
	}
	cur.release()
	return prefix, nil
}

// dispatch starts the upload of whole part k, made of the tail objects
// prefix and cur. On success it has taken cur over; on failure cur is
// still the caller's.
func (w *chunkWriter) dispatch(ctx context.Context, k int, prefix []segment, cur *partBuffer) error {
	for w.inflight >= w.u.s.opts.ConcurrentPartUploads {
		w.waitOne()
	}
	if w.failed != nil {
		return w.failed
	}
	if k == w.first {
		// Parts the tail holds whole must be parts before this one.
		if err := w.u.resolvePending(ctx); err != nil {
			return err
		}
	}
	if err := w.u.neutralize(ctx, k+1); err != nil {
		return err
	}
	// A part partly held by tail objects reads their bytes into memory
	// outside the buffer budget: it takes one of the store-wide slots
	// that bound such parts (with the part uploads from tail objects
	// after responses), so that many uploads short of buffers at once do
	// not each hold a part. A slot holder waits for nothing else, so
	// waiting for one cannot deadlock.
	freeSlot := func() {}
	if len(prefix) > 0 {
		var err error
		if freeSlot, err = w.u.s.compact.slot(ctx); err != nil {
			return err
		}
	}
	pieces, freePieces, err := w.u.s.segmentPieces(ctx, prefix)
	if err != nil {
		freeSlot()
		return err
	}
	release := func() { freePieces(); freeSlot() }
	body := newSections(append(pieces, piece{r: cur, n: cur.Len()})...)
	w.prefixOf[k] = prefix
	w.inflight++
	go func() {
		// Deferred, so a result is sent even if the upload never returns
		// normally (a test's mock may end the goroutine).
		res := partResult{p: part{num: int32(k)}, err: fmt.Errorf("s3store: part %d of %q: upload ended without a result", k, w.u.doc.ID)}
		defer func() {
			cur.release() // before the result, so the budget is back (for those in line first) when the writer sees it
			release()
			w.results <- res
		}()
		res.p, res.err = w.u.uploadPart(ctx, k, body)
	}()
	return nil
}

// poll collects the part uploads that have finished, without waiting.
func (w *chunkWriter) poll() {
	for w.inflight > 0 {
		select {
		case r := <-w.results:
			w.collect(r)
		default:
			return
		}
	}
}

// waitOne waits for one part upload to finish.
func (w *chunkWriter) waitOne() {
	w.collect(<-w.results)
}

// collect records the result of a part upload.
func (w *chunkWriter) collect(r partResult) {
	w.inflight--
	w.done[int(r.p.num)] = r
	if r.err != nil && w.failed == nil {
		w.failed = r.err
	}
}

func (w *chunkWriter) waitAll() {
	for w.inflight > 0 {
		w.waitOne()
	}
}

// uploadPart uploads body as part n and returns it as listed.
func (u *upload) uploadPart(ctx context.Context, n int, body *sections) (part, error) {
	out, err := u.s.api.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &u.s.opts.Bucket,
		Key:           aws.String(u.s.objectKey(u.doc.ID)),
		UploadId:      &u.doc.MultipartUploadID,
		PartNumber:    aws.Int32(int32(n)),
		Body:          body,
		ContentLength: aws.Int64(body.size),
	}, u.s.bodyOptions()...)
	if err != nil {
		return part{num: int32(n)}, fmt.Errorf("s3store: uploading part %d of %q: %w", n, u.doc.ID, err)
	}
	return part{num: int32(n), size: body.size, etag: aws.ToString(out.ETag)}, nil
}

// neutralize makes sure a listed part n that is not part of the upload's
// bytes (left by a failed or rejected request) cannot join the run of whole
// parts once the parts before it exist: it is overwritten with an empty
// part, which ends the run.
func (u *upload) neutralize(ctx context.Context, n int) error {
	o, ok := u.others[int32(n)]
	if !ok || o.size == 0 {
		return nil
	}
	p, err := u.uploadPart(ctx, n, newSections())
	if err != nil {
		return err
	}
	u.others[int32(n)] = p
	return nil
}

// settle records what the chunk stored: the parts that uploaded in an
// unbroken run, then a part kept back (stored as a tail object and uploaded
// after the response), or the last part of the upload, or a tail object
// with the bytes left in cur. Tail objects that went into parts are deleted.
func (w *chunkWriter) settle(ctx context.Context, k int, prefix []segment, cur *partBuffer, pos int64) error {
	u := w.u
	last := k
	if w.held != nil {
		last = w.heldN
	}
	n := w.first
	for ; n < last; n++ {
		r, ok := w.done[n]
		if !ok || r.err != nil || len(u.chain)+1 != n {
			break
		}
		u.chain = append(u.chain, r.p)
		delete(u.others, int32(n))
		if !u.doc.SizeIsDeferred && u.partsEnd() == u.doc.Size {
			u.final = true
		}
	}
	for m := n; m < last; m++ { // uploaded after a gap: never counted
		if r, ok := w.done[m]; ok && r.err == nil {
			u.others[int32(m)] = r.p
		}
	}
	// The tail is what the parts do not hold: objects before the first part
	// (still to become parts) and those that begin the part where the
	// chunk stopped.
	var keep []segment
	for _, g := range u.tail {
		if g.start < w.sched.start(w.first) {
			keep = append(keep, g)
		}
	}
	var err error
	switch {
	case n < last: // a part failed: what follows it is lost
		u.tail = append(keep, w.prefixOf[n]...)
		err = w.failed
		if err == nil {
			err = fmt.Errorf("s3store: part %d of %q did not upload", n, u.doc.ID)
		}
	case u.final:
		u.tail = nil
	case w.held != nil:
		u.tail = append(keep, w.heldPre...)
		// No merging: the part is uploaded from these objects next.
		if err = w.storeSegment(ctx, w.held, w.sched.start(w.heldN+1), false); err == nil {
			err = u.compactLater(ctx, w.heldN)
		}
	default:
		u.tail = append(keep, prefix...)
		err = w.storeRest(ctx, k, cur, pos)
	}
	inTail := map[string]bool{}
	for _, g := range u.tail {
		inTail[g.key] = true
	}
	// Tail objects parts now hold (they end before the parts do, so they
	// are ignored if deleting fails; a later write retries).
	seen := map[string]bool{}
	var stale []string
	for _, k := range u.stale {
		if !seen[k] && !inTail[k] && !u.consumed[k] {
			seen[k] = true
			stale = append(stale, k)
		}
	}
	for _, g := range append(w.oldTail, w.spills...) {
		if !seen[g.key] && !inTail[g.key] && !u.consumed[g.key] {
			seen[g.key] = true
			stale = append(stale, g.key)
		}
	}
	u.stale = nil
	u.dropStale(ctx, stale)
	return err
}

// storeSegment stores the bytes of b, which end at end, as a tail object
// and adds it to the tail, merging tail objects if merge is set.
func (w *chunkWriter) storeSegment(ctx context.Context, b *partBuffer, end int64, merge bool) error {
	u := w.u
	g, err := u.s.putSegment(ctx, u.doc.ID, end-b.Len(), end, 0, newSections(piece{r: b, n: b.Len()}))
	if err != nil {
		return err
	}
	u.tail = append(u.tail, g)
	if merge {
		u.tail = u.mergeTail(ctx, u.tail)
	}
	return nil
}

// storeRest stores the bytes in cur, which end at pos inside part k: as the
// upload's last part if they complete it, else as a tail object.
func (w *chunkWriter) storeRest(ctx context.Context, k int, cur *partBuffer, pos int64) error {
	u := w.u
	complete := !u.doc.SizeIsDeferred && pos == u.doc.Size
	if complete && (pos > w.sched.start(k) || k == 1) && u.partsEnd()+tailLen(u.tail)+cur.Len() == pos {
		return u.uploadLast(ctx, cur)
	}
	if cur.Len() == 0 {
		return nil
	}
	return w.storeSegment(ctx, cur, pos, true)
}

// uploadLast uploads the upload's last part, the one after the chain (once
// parts the tail holds whole are parts), from the tail objects and cur (if
// not nil), and ends the chain with it.
func (u *upload) uploadLast(ctx context.Context, cur *partBuffer) error {
	if err := u.resolvePending(ctx); err != nil {
		return err
	}
	k := len(u.chain) + 1
	if len(u.tail) > 0 {
		freeSlot, err := u.s.compact.slot(ctx) // up to a part in memory: see compactions
		if err != nil {
			return err
		}
		defer freeSlot()
	}
	pieces, release, err := u.s.segmentPieces(ctx, u.tail)
	if err != nil {
		return err
	}
	defer release()
	if cur != nil {
		pieces = append(pieces, piece{r: cur, n: cur.Len()})
	}
	body := newSections(pieces...)
	if u.doc.SizeIsDeferred || u.partsEnd()+body.size != u.doc.Size {
		return fmt.Errorf("s3store: last part of %q would end at %d, not at its length %d", u.doc.ID, u.partsEnd()+body.size, u.doc.Size)
	}
	p, err := u.uploadPart(ctx, k, body)
	if err != nil {
		return err
	}
	stale := keysOf(u.tail)
	u.chain = append(u.chain, p)
	delete(u.others, int32(k))
	u.final, u.tail = true, nil
	u.dropStale(ctx, stale)
	return nil
}

// rollBack undoes a chunk whose bytes must not be kept: its first part, if
// it uploaded, is overwritten with an empty part so that neither it nor the
// parts after it count, and tail objects it wrote are deleted. If that
// fails, the bytes stay stored and are reported with a server error.
func (w *chunkWriter) rollBack(ctx context.Context, offset int64, cause error) (int64, error) {
	u := w.u
	for m, r := range w.done {
		if r.err == nil {
			u.others[int32(m)] = r.p
		}
	}
	if _, ok := w.done[w.first]; ok {
		// Even a failed upload may have been stored by the service.
		p, err := u.uploadPart(ctx, w.first, newSections())
		if err != nil {
			return w.failedRollBack(offset, err)
		}
		u.others[int32(w.first)] = p
	}
	if err := u.s.deleteKeys(ctx, keysOf(w.spills)); err != nil {
		return w.failedRollBack(offset, err)
	}
	return 0, cause
}

// failedRollBack reports a chunk that could not be undone: reload-free, the
// state is unknown, so the offset is what S3 will show next time.
func (w *chunkWriter) failedRollBack(offset int64, err error) (int64, error) {
	w.u.s.opts.Logger.Error("s3store: could not discard a rejected chunk", "id", w.u.doc.ID, "error", err)
	return 0, fmt.Errorf("s3store: discarding rejected chunk of %q: %w", w.u.doc.ID, err)
}

// tailLen returns the number of bytes in segs.
func tailLen(segs []segment) int64 {
	var n int64
	for _, g := range segs {
		n += g.size()
	}
	return n
}

func keysOf(segs []segment) []string {
	keys := make([]string, len(segs))
	for i, g := range segs {
		keys[i] = g.key
	}
	return keys
}
