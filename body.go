package tus

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// bodyReader reads a request body for a store. It keeps a rolling read
// deadline (Config.NetworkTimeout), can be interrupted from another
// goroutine (a newer request wants the upload's lock), reports progress, and
// stops at the number of bytes the upload may still take: more bytes than
// that fail the whole chunk with ErrSizeExceeded (tus), or, for an IETF
// request (keepToLimit, or keepAnnounced once progress was announced), keep
// the bytes up to the limit and then fail with ErrSizeExceeded.
//
// Progress reports the bytes handed to the store by earlier reads, not
// those of the read in progress: when the store asks for more, it has
// taken the bytes before.
type bodyReader struct {
	body  io.Reader
	rc    *http.ResponseController
	limit int64 // bytes the upload may still take; -1 for no limit
	read  int64 // bytes returned so far

	timeout    time.Duration
	deadlineAt time.Time // when the deadline was last pushed

	progressEvery time.Duration
	progressAt    time.Time
	onProgress    func(read int64)
	reported      int64 // the last offset given to onProgress
	announced     bool  // onProgress sent an offset to the client

	// keepToLimit keeps the bytes up to limit when the body goes past it;
	// keepAnnounced does once an offset was announced (an IETF client was
	// told of the bytes, and an offset it was told must not go back).
	keepToLimit, keepAnnounced bool

	failed bool // the body failed to read (the client broke off, stalled or was cut off)

	mu       sync.Mutex
	cause    error // why the read was interrupted, if it was
	finished bool  // the request is over; interrupting must not touch the connection
	eof      bool  // the whole body was read: interrupting changes nothing
	deadline bool  // a read deadline is set on the connection
}

func newBodyReader(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) *bodyReader {
	return &bodyReader{
		body:    r.Body,
		rc:      http.NewResponseController(w),
		limit:   limit,
		timeout: timeout,
	}
}

// Read reads from the body, translating deadline and interruption errors
// into protocol errors.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.onProgress != nil && b.read > b.reported {
		// The store took the bytes of the previous reads.
		if now := time.Now(); now.Sub(b.progressAt) >= b.progressEvery {
			b.progressAt = now
			b.reported = b.read
			b.onProgress(b.read)
		}
	}
	if b.limit >= 0 {
		if b.read >= b.limit {
			err := b.checkOverflow()
			if err == io.EOF {
				b.ended()
			}
			return 0, err
		}
		if rem := b.limit - b.read; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	if b.timeout > 0 {
		now := time.Now()
		if now.Sub(b.deadlineAt) > b.timeout/16 {
			b.deadlineAt = now
			b.setDeadline(now.Add(b.timeout))
		}
	}
	n, err := b.body.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.ended()
	}
	if err != nil && err != io.EOF {
		b.failed = true
		if cause := b.interrupted(); cause != nil {
			err = cause
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrReadTimeout
		}
	}
	return n, err
}

// checkOverflow is called once the limit is reached: the body must end here.
// A body that breaks off instead (a stall or an interruption before the
// final empty chunk) has delivered every byte the upload needs, so that
// counts as its end too. A body that goes on fails with ErrSizeExceeded:
// the store drops the chunk, unless its bytes up to the limit are to be
// kept (keepToLimit, keepAnnounced).
func (b *bodyReader) checkOverflow() error {
	var one [1]byte
	for {
		n, err := b.body.Read(one[:])
		if n > 0 {
			if b.keepToLimit || b.keepAnnounced && b.announced {
				return ErrSizeExceeded
			}
			return DiscardChunk(ErrSizeExceeded)
		}
		if err != nil {
			return io.EOF
		}
	}
}

// setDeadline pushes the connection's read deadline, if the server lets us.
func (b *bodyReader) setDeadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || b.cause != nil {
		return
	}
	if b.rc.SetReadDeadline(t) == nil {
		b.deadline = true
	}
}

// interrupted returns the interruption cause, or nil.
func (b *bodyReader) interrupted() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cause
}

// interrupt ends the body at the latest after grace: reads go on until then,
// so bytes the client sent before it vanished, already waiting in the
// connection's buffers, are still stored; then Read fails with cause. It
// may be called from any goroutine, also after the request finished. It
// reports whether this call interrupted the body (false once the body was
// read to its end, the request finished, or after an earlier interruption).
func (b *bodyReader) interrupt(cause error, grace time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || b.eof || b.cause != nil {
		return false
	}
	b.cause = cause
	// Bound (or wake) a Read blocked on the connection.
	if b.rc.SetReadDeadline(time.Now().Add(grace)) == nil {
		b.deadline = true
	}
	return true
}

// ended records that the body was read to its end.
func (b *bodyReader) ended() {
	b.mu.Lock()
	b.eof = true
	b.mu.Unlock()
}

// stopped returns the Event.StopUpload that interrupted the body, or nil.
func (b *bodyReader) stopped() *stopError {
	se, _ := b.interrupted().(*stopError)
	return se
}

// finish ends the reader's use of the connection: later interruptions are
// ignored and a deadline we set is cleared if the body was read to its end.
func (b *bodyReader) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished = true
	if b.deadline && b.cause == nil {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}
