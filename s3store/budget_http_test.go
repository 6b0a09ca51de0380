package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus/s3store"
)

// TestBufferBudgetNoSpills runs more uploads at once than the buffer budget
// has parts for: each request reserves a whole part before reading it and
// waits in line for the budget holding nothing, so no bytes go to tail
// objects for want of memory (no PutObject at all), and every byte arrives.
func TestBufferBudgetNoSpills(t *testing.T) {
	opts := s3store.Options{MaxBufferedBytes: 2 * s3store.DefaultMinPartSize, ConcurrentPartUploads: 1}
	forEachServer(t, opts, func(t *testing.T, e *env) {
		const n = 6
		srcs := make([][]byte, n)
		for i := range srcs {
			srcs[i] = data(2*5*mib, uint64(80+i)) // two whole parts
			e.create(e.store, fmt.Sprintf("u%d", i), int64(len(srcs[i])), nil)
		}
		before := calls(e.store)
		var wg sync.WaitGroup
		for i := range srcs {
			up, info := e.load(e.store, fmt.Sprintf("u%d", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := up.WriteChunk(context.Background(), info.Offset, bytes.NewReader(srcs[i]))
				if err != nil || n != int64(len(srcs[i])) {
					t.Errorf("u%d: stored %d, %v", i, n, err)
				}
			}()
		}
		wg.Wait()
		made := callsSince(e.store, before)
		require.Zero(t, made["PutObject"], "tail objects written for want of buffers: %v", made)
		require.Equal(t, int64(2*n), made["UploadPart"], "calls: %v", made)
		for i, src := range srcs {
			id := fmt.Sprintf("u%d", i)
			e.finish(e.store, id)
			require.Equal(t, src, e.object(id))
		}
	})
}

// gatedReader returns its first n bytes, then signals reached and waits for
// open to be closed before returning the rest.
type gatedReader struct {
	r       io.Reader
	n       int
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.n > 0 {
		k, err := g.r.Read(p[:min(len(p), g.n)])
		g.n -= k
		return k, err
	}
	g.once.Do(func() { close(g.reached) })
	<-g.open
	return g.r.Read(p)
}

// TestBufferBudgetStalledClients: two requests whose bodies stall while
// their reservations hold the whole buffer budget do not keep a third
// request waiting for long: once it has waited 2 s, the budget takes back
// the room they have not begun to fill, the third request goes through
// while they are still stalled, and they finish afterwards. Every upload is
// exact.
func TestBufferBudgetStalledClients(t *testing.T) {
	opts := s3store.Options{MaxBufferedBytes: 2 * s3store.DefaultMinPartSize}
	forEachServer(t, opts, func(t *testing.T, e *env) {
		open := make(chan struct{})
		srcs := map[string][]byte{}
		stalled := make(chan error, 2)
		for i, id := range []string{"stalled1", "stalled2"} {
			srcs[id] = data(2*5*mib, uint64(90+i))
			up := e.create(e.store, id, int64(len(srcs[id])), nil)
			gate := &gatedReader{r: bytes.NewReader(srcs[id]), n: mib + 7, reached: make(chan struct{}), open: open}
			go func() {
				n, err := up.WriteChunk(context.Background(), 0, gate)
				if err == nil && n != int64(len(srcs[id])) {
					err = fmt.Errorf("%s: stored %d of %d bytes", id, n, len(srcs[id]))
				}
				stalled <- err
			}()
			<-gate.reached // it holds a part's reservation and waits for its client
		}
		srcs["fast"] = data(5*mib, 92)
		fast := e.create(e.store, "fast", 5*mib, nil)
		fastDone := make(chan error, 1)
		go func() {
			n, err := fast.WriteChunk(context.Background(), 0, bytes.NewReader(srcs["fast"]))
			if err == nil && n != 5*mib {
				err = fmt.Errorf("fast: stored %d of %d bytes", n, 5*mib)
			}
			fastDone <- err
		}()
		select {
		case err := <-fastDone:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("the waiting request never got budget while the others stalled")
		}
		close(open)
		require.NoError(t, <-stalled)
		require.NoError(t, <-stalled)
		for id, src := range srcs {
			e.finish(e.store, id)
			require.Equal(t, src, e.object(id), id)
		}
	})
}

// h2Body delivers its bytes as an HTTP/2 request body does, which knows its
// length: the last bytes with a nil error and io.EOF on the next Read. It
// holds back its last byte until hold is closed, and closes read once it
// has returned the bytes before it.
type h2Body struct {
	data []byte
	hold chan struct{}
	read chan struct{}
}

func (b *h2Body) Read(p []byte) (int, error) {
	switch {
	case len(b.data) == 0:
		return 0, io.EOF
	case len(b.data) == 1:
		close(b.read)
		<-b.hold
	}
	n := copy(p, b.data[:max(1, min(len(p), len(b.data)-1))])
	b.data = b.data[n:]
	return n, nil
}

func (b *h2Body) Remaining() int64 { return int64(len(b.data)) }

// TestBufferBudgetBodyEndsAtRoom: a body whose declared length fills its
// reservation to the last byte ends without asking for more room, so it
// neither waits in line behind others for budget it does not need nor
// stores its bytes early as a tail object. Here the request in line holds
// its body back until the first has returned: waiting for room would last
// until the budget takes back room of the one in line (reclaimAfter).
func TestBufferBudgetBodyEndsAtRoom(t *testing.T) {
	opts := s3store.Options{MaxBufferedBytes: 2 * mib}
	forEachServer(t, opts, func(t *testing.T, e *env) {
		aSrc, bSrc := data(mib, 95), data(2*mib, 96)
		a := e.create(e.store, "a", 3*mib, nil)
		b := e.create(e.store, "b", 3*mib, nil)
		body := &h2Body{data: slices.Clone(aSrc), hold: make(chan struct{}), read: make(chan struct{})}
		aDone := make(chan error, 1)
		go func() {
			n, err := a.WriteChunk(context.Background(), 0, body)
			if err == nil && n != mib {
				err = fmt.Errorf("a: stored %d bytes", n)
			}
			aDone <- err
		}()
		<-body.read // a holds its 1 MiB of budget
		bDone := make(chan error, 1)
		go func() {
			// Waits in line for 2 MiB while a holds 1, then reads a body
			// that comes only once a has returned.
			n, err := b.WriteChunk(context.Background(), 0, &gatedReader{r: bytes.NewReader(bSrc), n: 0, reached: make(chan struct{}), open: aReturned(aDone)})
			if err == nil && n != 2*mib {
				err = fmt.Errorf("b: stored %d bytes", n)
			}
			bDone <- err
		}()
		time.Sleep(200 * time.Millisecond) // b queues meanwhile
		close(body.hold)
		start := time.Now()
		select {
		case err := <-bDone:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the requests never finished")
		}
		// Without budget to spare, only taking back b's room (after
		// reclaimAfter) would have let a go on.
		require.Less(t, time.Since(start), 2*time.Second, "the first request waited for room it did not need")
		require.NoError(t, <-aDone)
		_, info := e.load(e.store, "a")
		require.Equal(t, int64(mib), info.Offset)
		e.write(e.store, "a", data(2*mib, 97))
		e.write(e.store, "b", data(mib, 98))
		e.finish(e.store, "a")
		e.finish(e.store, "b")
		require.Equal(t, append(slices.Clone(aSrc), data(2*mib, 97)...), e.object("a"))
		require.Equal(t, append(slices.Clone(bSrc), data(mib, 98)...), e.object("b"))
	})
}

// aReturned returns a channel closed once a request has returned its
// result on done; the result is put back for the test.
func aReturned(done chan error) chan struct{} {
	ch := make(chan struct{})
	go func() {
		err := <-done
		done <- err
		close(ch)
	}()
	return ch
}
