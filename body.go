package tus

import (
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bodyReader reads a request body for a store. It keeps a rolling read
// deadline (Config.NetworkTimeout), enforces the minimum transfer rate
// (Config.MinTransferRate, see pace), records when bytes last arrived (for
// monitoring HEADs, see moving), can be interrupted from another
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
	body   io.Reader
	rc     *http.ResponseController
	limit  int64 // bytes the upload may still take; -1 for no limit
	length int64 // the body's declared length (Content-Length); -1 if not known
	read   int64 // bytes returned so far

	timeout time.Duration
	// The minimum transfer rate: need bytes in every window of time spent
	// waiting for the client (in Read); 0 for none. winRead is b.read when
	// the current window began, waited the time waited in it so far.
	need    int64
	window  time.Duration
	winRead int64
	waited  time.Duration
	// deadlineTo is the read deadline last set (zero: none); rateDeadline
	// says it is the end of a window that is short of bytes, not the
	// network timeout. slack is how much later than wanted a deadline may
	// stay before it is pushed (a sixteenth of the shorter period).
	deadlineTo   time.Time
	rateDeadline bool
	slack        time.Duration

	// born is when the reader was made; lastRead is when bytes last
	// arrived, as time since born (0: none yet). Other goroutines read it.
	born     time.Time
	lastRead atomic.Int64

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
		length:  r.ContentLength,
		timeout: timeout,
		slack:   timeout / 16,
		born:    time.Now(),
	}
}

// setMinRate makes the body fail with ErrTransferTooSlow when it delivers
// fewer than rate bytes per second over window (Config.MinTransferRate and
// MinTransferRateWindow); rate 0 turns the check off.
func (b *bodyReader) setMinRate(rate int64, window time.Duration) {
	if rate <= 0 || window <= 0 {
		return
	}
	need := float64(rate) * window.Seconds()
	switch {
	case need >= math.MaxInt64:
		b.need = math.MaxInt64
	case need < 1:
		b.need = 1
	default:
		b.need = int64(need)
	}
	b.window = window
	if b.slack <= 0 || window/16 < b.slack {
		b.slack = window / 16
	}
}

// Remaining implements RemainingReader: the bytes the upload may still take
// or those the body declared, whichever is fewer.
func (b *bodyReader) Remaining() int64 {
	n := int64(-1)
	if b.limit >= 0 {
		n = b.limit - b.read
	}
	if b.length >= 0 && (n < 0 || b.length-b.read < n) {
		n = b.length - b.read
	}
	return max(n, -1)
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
	var start time.Time
	if b.timeout > 0 || b.need > 0 {
		start = time.Now()
		if err := b.pace(start); err != nil {
			b.failed = true
			return 0, err
		}
	}
	n, err := b.body.Read(p)
	b.read += int64(n)
	if n > 0 || b.need > 0 {
		now := time.Now()
		if n > 0 {
			b.lastRead.Store(int64(now.Sub(b.born)))
		}
		if b.need > 0 {
			b.waited += now.Sub(start)
		}
	}
	if err == io.EOF {
		b.ended()
	}
	if err != nil && err != io.EOF {
		b.failed = true
		if cause := b.interrupted(); cause != nil {
			err = cause
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrReadTimeout
			if b.rateDeadline {
				err = ErrTransferTooSlow
			}
		}
	}
	return n, err
}

// pace runs before every read with a deadline to keep: it ends a window of
// the minimum transfer rate, failing the body with ErrTransferTooSlow if
// the window was short of bytes, and sets the connection's read deadline
// to the earlier of the network timeout and, while the current window is
// short of bytes, the moment it would end if nothing more came. Windows
// count only the time spent waiting for the client, so a slow store does
// not make its client look slow. No goroutine watches the body: a read
// that waits past the deadline fails, and Read tells which one it was.
// The deadline is set again only when it must come earlier, changes kind,
// or would come more than b.slack too early (which is why a short window
// may end up to a sixteenth of it early).
func (b *bodyReader) pace(now time.Time) error {
	short := false
	if b.need > 0 {
		if b.waited >= b.window {
			if b.read-b.winRead < b.need {
				return ErrTransferTooSlow
			}
			b.winRead, b.waited = b.read, 0
		}
		short = b.read-b.winRead < b.need
	}
	var want time.Time
	if b.timeout > 0 {
		want = now.Add(b.timeout)
	}
	if short {
		if end := now.Add(b.window - b.waited); want.IsZero() || end.Before(want) {
			want = end
		} else {
			short = false // the network timeout comes first
		}
	}
	if short != b.rateDeadline || want.Before(b.deadlineTo) || want.Sub(b.deadlineTo) > b.slack {
		b.rateDeadline, b.deadlineTo = short, want
		b.setDeadline(want)
	}
	return nil
}

// moving reports whether the body is being read and moving: not read to
// its end, not interrupted, and bytes arrived within d (or the reader was
// made within d). It may be called from any goroutine.
func (b *bodyReader) moving(d time.Duration) bool {
	b.mu.Lock()
	idle := b.finished || b.eof || b.cause != nil
	b.mu.Unlock()
	return !idle && time.Since(b.born)-time.Duration(b.lastRead.Load()) <= d
}

// consumed reports whether the whole body was read: to its end, or every
// byte of a declared contentLength. Only the request's goroutine calls it.
func (b *bodyReader) consumed(contentLength int64) bool {
	if contentLength >= 0 && b.read >= contentLength {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
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

// setDeadline sets the connection's read deadline (zero: none), if the
// server lets us.
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
