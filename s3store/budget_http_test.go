package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
