package hooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tusgo/tus/hooks"
)

// blockingEndpoint is an HTTP hook endpoint that holds every request until
// released (or the request ends), counting started and finished ones.
type blockingEndpoint struct {
	url      string
	release  chan struct{}
	started  atomic.Int64
	finished atomic.Int64
	aborted  atomic.Int64
}

func newBlockingEndpoint(t *testing.T) *blockingEndpoint {
	t.Helper()
	b := &blockingEndpoint{release: make(chan struct{})}
	b.url, _ = endpoint(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		b.started.Add(1)
		select {
		case <-b.release:
			b.finished.Add(1)
		case <-r.Context().Done():
			b.aborted.Add(1)
		}
	})
	return b
}

// TestQueueFullDrops: with one worker stuck and a queue of one, further
// post hooks are dropped, logged and counted, and requests are not slowed.
func TestQueueFullDrops(t *testing.T) {
	b := newBlockingEndpoint(t)
	e := newEnv(t, hooks.Config{
		Backend:   &hooks.HTTPBackend{URL: b.url},
		Enabled:   []hooks.Type{hooks.PostCreate},
		Workers:   1,
		QueueSize: 1,
	}, nil)
	const uploads = 5
	for range uploads {
		e.create("1", nil) // returns although the hooks are stuck
	}
	// One hook runs, one waits in the queue, the others are dropped
	// (four if the worker took its first event late).
	waitFor(t, "drops", func() bool { return e.d.Dropped() >= 3 })
	close(b.release)
	e.srv.Close()
	if err := e.d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	check(t, "run + dropped", b.finished.Load()+int64(e.d.Dropped()), int64(uploads))
	check(t, "invocations", int64(len(e.invocations())), b.finished.Load())
	contains(t, "log", e.logs.String(), "hook queue full")
}

// threeStuckHooks creates three uploads on a server with one post-create
// worker and stops its HTTP server once the first hook is stuck in the
// endpoint; the two others are queued.
func threeStuckHooks(t *testing.T) (*blockingEndpoint, *env) {
	t.Helper()
	b := newBlockingEndpoint(t)
	e := newEnv(t, hooks.Config{
		Backend: &hooks.HTTPBackend{URL: b.url},
		Enabled: []hooks.Type{hooks.PostCreate},
		Workers: 1,
	}, nil)
	for range 3 {
		e.create("1", nil)
	}
	waitFor(t, "the first hook", func() bool { return b.started.Load() == 1 })
	e.srv.Close()
	return b, e
}

// TestCloseWaits: Close returns only after the running and the queued post
// hooks have finished.
func TestCloseWaits(t *testing.T) {
	b, e := threeStuckHooks(t)
	finishedAtClose := make(chan int64, 1)
	go func() {
		if err := e.d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		finishedAtClose <- b.finished.Load()
	}()
	close(b.release)
	check(t, "hooks finished when Close returned", <-finishedAtClose, int64(3))
	check(t, "dropped", e.d.Dropped(), uint64(0))
}

// TestCloseGivesUp: when Close's context ends, the running hook is
// cancelled, the queued ones are dropped, and Close still waits for its
// goroutines before returning the context's error.
func TestCloseGivesUp(t *testing.T) {
	b, e := threeStuckHooks(t)
	t.Cleanup(func() { close(b.release) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.d.Close(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: got %v, want context.Canceled", err)
	}
	check(t, "dropped", e.d.Dropped(), uint64(2))
	check(t, "failures", e.failures(hooks.PostCreate), 1)
	waitFor(t, "the endpoint to see the cancellation", func() bool { return b.aborted.Load() == 1 })
	check(t, "second Close", e.d.Close(context.Background()), error(nil))
}

// TestParseTypes parses -hooks-enabled-events values.
func TestParseTypes(t *testing.T) {
	got, err := hooks.ParseTypes(" pre-create,post-finish,,pre-create , pre-access")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "parsed", joinTypes(got), "pre-create,post-finish,pre-access")
	got, err = hooks.ParseTypes("")
	check(t, "empty", len(got), 0)
	check(t, "empty error", err, error(nil))
	_, err = hooks.ParseTypes("pre-create,post-upload")
	if err == nil {
		t.Fatal("no error for an unknown event")
	}
	contains(t, "error", err.Error(), `"post-upload"`)
	for _, typ := range hooks.AllTypes() {
		contains(t, "error", err.Error(), string(typ))
	}
	check(t, "default", joinTypes(hooks.DefaultEnabled()), "pre-create,post-create,post-receive,post-terminate,post-finish")
}

// TestNewValidates refuses unusable configurations.
func TestNewValidates(t *testing.T) {
	backend := &hooks.FileBackend{Dir: t.TempDir()}
	for _, tc := range []struct {
		name string
		cfg  hooks.Config
	}{
		{"no backend", hooks.Config{}},
		{"unknown event", hooks.Config{Backend: backend, Enabled: []hooks.Type{"post-upload"}}},
		{"negative workers", hooks.Config{Backend: backend, Workers: -1}},
		{"negative queue", hooks.Config{Backend: backend, QueueSize: -1}},
	} {
		if _, err := hooks.New(tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// joinTypes returns types as a comma-separated list.
func joinTypes(types []hooks.Type) string {
	s := make([]string, len(types))
	for i, typ := range types {
		s[i] = string(typ)
	}
	return strings.Join(s, ",")
}
