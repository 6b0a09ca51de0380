package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tusgo/tus"
)

// Defaults for Config fields left zero.
const (
	// DefaultQueueSize is the default Config.QueueSize.
	DefaultQueueSize = 1024
	// DefaultWorkers is the default Config.Workers.
	DefaultWorkers = 8
)

// Config configures a Dispatcher.
type Config struct {
	// Backend runs the hooks. Required.
	Backend Backend
	// Enabled lists the hook types that fire; the others never reach the
	// Backend. Empty enables none. DefaultEnabled returns tusd's default.
	Enabled []Type
	// Logger receives failures, warnings and (at debug level) every
	// invocation; nil discards them.
	Logger *slog.Logger
	// OnInvoke, if set, is called after every invocation of the Backend
	// with the hook's type and its error (nil on success), for metrics. It
	// is not called when the Backend has no hook (ErrNoHook). It may be
	// called from many goroutines at once and must return quickly.
	OnInvoke func(t Type, err error)
	// QueueSize bounds the post hooks waiting for a worker
	// (DefaultQueueSize if zero). When the queue is full, new post hooks
	// are dropped, logged and counted (Dispatcher.Dropped).
	QueueSize int
	// Workers is the number of goroutines running post hooks
	// (DefaultWorkers if zero).
	Workers int
}

// Dispatcher turns a tus.Handler's upload events into hook invocations of
// a Backend. Create it with New, install the blocking hooks in a tus.Config
// with Configure before tus.NewHandler, start the post hooks with Start once
// the handler exists, and stop them with Close once the HTTP server has
// shut down. Its methods are safe for concurrent use.
type Dispatcher struct {
	backend  Backend
	enabled  map[Type]bool
	log      *slog.Logger
	onInvoke func(Type, error)
	workers  int

	queue   chan tus.Event
	dropped atomic.Uint64

	ctx    context.Context // ends post hooks when Close gives up waiting
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	sub     *tus.Subscription
	handler *tus.Handler // set by Start, before the workers run
	wg      sync.WaitGroup
}

// New returns a Dispatcher for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Backend == nil {
		return nil, errors.New("hooks: Config.Backend is required")
	}
	if cfg.QueueSize < 0 || cfg.Workers < 0 {
		return nil, errors.New("hooks: Config.QueueSize and Config.Workers must not be negative")
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	enabled := make(map[Type]bool, len(cfg.Enabled))
	for _, t := range cfg.Enabled {
		if !t.valid() {
			return nil, fmt.Errorf("hooks: unknown hook event %q; valid events are %s", t, joinTypes(AllTypes()))
		}
		enabled[t] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{
		backend:  cfg.Backend,
		enabled:  enabled,
		log:      cfg.Logger,
		onInvoke: cfg.OnInvoke,
		workers:  cfg.Workers,
		queue:    make(chan tus.Event, cfg.QueueSize),
		ctx:      ctx,
		cancel:   cancel,
	}, nil
}

// Enabled reports whether hooks of type t fire.
func (d *Dispatcher) Enabled(t Type) bool { return d.enabled[t] }

// Dropped returns how many post hooks were not run: because the queue was
// full (post-receive hooks already when it is half full, so that they
// never crowd out the others), because the handler's event buffer was full
// (progress events only), or because Close gave up waiting for them.
func (d *Dispatcher) Dropped() uint64 {
	d.mu.Lock()
	sub := d.sub
	d.mu.Unlock()
	n := d.dropped.Load()
	if sub != nil {
		n += sub.Dropped()
	}
	return n
}

// Configure installs in c the callbacks of the enabled blocking hooks:
// PreUploadCreateCallback (pre-create), PreFinishResponseCallback
// (pre-finish), PreUploadTerminateCallback (pre-terminate) and
// AccessCallback (pre-access). It replaces callbacks c already has for
// those hooks and leaves the others alone. Call it before tus.NewHandler.
func (d *Dispatcher) Configure(c *tus.Config) {
	if d.enabled[PreCreate] {
		c.PreUploadCreateCallback = d.preCreate
	}
	if d.enabled[PreFinish] {
		c.PreFinishResponseCallback = d.preFinish
	}
	if d.enabled[PreTerminate] {
		c.PreUploadTerminateCallback = d.preTerminate
	}
	if d.enabled[PreAccess] {
		c.AccessCallback = d.preAccess
	}
}

// postType returns the post hook of a handler's event type.
func postType(et tus.EventType) Type {
	switch et {
	case tus.EventCreated:
		return PostCreate
	case tus.EventProgress:
		return PostReceive
	case tus.EventCompleted:
		return PostFinish
	case tus.EventTerminated:
		return PostTerminate
	}
	return ""
}

// Start subscribes to h's events for the enabled post hooks (created,
// progress, completed and terminated events, through h.Subscribe) and
// starts the goroutines that run them: one that moves events into the
// queue and Config.Workers workers. They belong to d and end in Close. A
// post-receive hook's StopUpload stops or terminates the upload through h.
// Start does nothing if no post hook is enabled, if Start was called
// before, or after Close. It fails only if h is nil.
func (d *Dispatcher) Start(h *tus.Handler) error {
	if h == nil {
		return errors.New("hooks: Start needs the handler whose events run the post hooks")
	}
	var types []tus.EventType
	for _, et := range []tus.EventType{tus.EventCreated, tus.EventProgress, tus.EventCompleted, tus.EventTerminated} {
		if d.enabled[postType(et)] {
			types = append(types, et)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.closed || len(types) == 0 {
		return nil
	}
	d.started = true
	// The consumer only moves events into the queue, so a small buffer
	// is enough to keep requests from waiting for it.
	d.sub = h.Subscribe(64, types...)
	d.handler = h
	d.wg.Add(1 + d.workers)
	go d.consume(d.sub)
	for range d.workers {
		go d.work()
	}
	return nil
}

// consume moves events from sub into the queue, dropping those that do not
// fit, until sub is closed; then it closes the queue.
func (d *Dispatcher) consume(sub *tus.Subscription) {
	defer d.wg.Done()
	defer close(d.queue)
	for ev := range sub.C {
		if ev.Type == tus.EventProgress && len(d.queue) >= cap(d.queue)/2 {
			// Progress comes again; the other post hooks get the rest
			// of the queue.
			d.dropped.Add(1)
			d.log.LogAttrs(context.Background(), slog.LevelDebug, "hook queue half full: post-receive hook dropped",
				slog.String("upload_id", ev.Upload.ID))
			continue
		}
		select {
		case d.queue <- ev:
		default:
			d.dropped.Add(1)
			d.log.LogAttrs(context.Background(), slog.LevelWarn, "hook queue full: post hook dropped",
				slog.String("hook", string(postType(ev.Type))), slog.String("upload_id", ev.Upload.ID))
		}
	}
}

// work runs queued post hooks until the queue is closed and empty.
func (d *Dispatcher) work() {
	defer d.wg.Done()
	for ev := range d.queue {
		t := postType(ev.Type)
		if d.ctx.Err() != nil {
			d.dropped.Add(1)
			d.log.LogAttrs(context.Background(), slog.LevelWarn, "shutting down: post hook dropped",
				slog.String("hook", string(t)), slog.String("upload_id", ev.Upload.ID))
			continue
		}
		resp, err := d.invoke(d.ctx, t, ev.HookEvent, &Event{Expired: ev.Expired})
		if err == nil && t == PostReceive && resp.StopUpload {
			d.stop(ev, resp.HTTPResponse)
		}
	}
}

// stop ends the upload of a post-receive event whose hook asked to stop
// it: the request that is still writing is stopped and answered with the
// hook's response; if that request has ended, the upload is terminated all
// the same, on the server's own decision.
func (d *Dispatcher) stop(ev tus.Event, resp tus.HTTPResponse) {
	id := slog.String("upload_id", ev.Upload.ID)
	if ev.StopUpload(resp) {
		d.log.LogAttrs(context.Background(), slog.LevelInfo, "post-receive hook stopped the upload", id)
		return
	}
	err := d.handler.TerminateUpload(d.ctx, ev.Upload.ID)
	switch {
	case err == nil:
		d.log.LogAttrs(context.Background(), slog.LevelInfo, "post-receive hook stopped the upload after its request ended: terminated", id)
	case errors.Is(err, tus.ErrNotFound):
		// Gone already.
	default:
		d.log.LogAttrs(context.Background(), slog.LevelError, "post-receive hook stopped the upload after its request ended; terminating it failed",
			id, slog.String("error", err.Error()))
	}
}

// Close stops taking events and runs the post hooks already queued, until
// ctx ends: then it cancels the running ones, drops the rest and returns
// ctx's error. Either way it returns only when every goroutine of the
// Dispatcher has ended. Blocking hooks keep working; call Close after the
// HTTP server has shut down so that no event is lost. Close is safe to call
// more than once.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	sub := d.sub
	first := !d.closed
	d.closed = true
	d.mu.Unlock()
	if first && sub != nil {
		sub.Close() // ends consume, which closes the queue
	}
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		d.cancel()
		<-done
	}
	d.cancel()
	return err
}

// invoke runs the hook of type t for ev, logs and counts the outcome.
// extra, if not nil, carries the hook event's fields beyond the upload and
// the request (Access, Expired). A missing hook (ErrNoHook) is an empty
// answer.
func (d *Dispatcher) invoke(ctx context.Context, t Type, ev tus.HookEvent, extra *Event) (Response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var hev Event
	if extra != nil {
		hev = *extra
	}
	hev.Upload, hev.HTTPRequest = ev.Upload, ev.HTTPRequest
	req := Request{Type: t, Event: hev}
	resp, err := d.backend.Invoke(ctx, req)
	if errors.Is(err, ErrNoHook) {
		return Response{}, nil
	}
	if sc := resp.HTTPResponse.StatusCode; err == nil && sc != 0 && (sc < 200 || sc > 599) {
		// net/http would panic on it, or take a 1xx for an interim answer.
		err = fmt.Errorf("hook answered with an invalid HTTP status %d", sc)
	}
	if d.onInvoke != nil {
		d.onInvoke(t, err)
	}
	if err != nil {
		d.log.LogAttrs(ctx, slog.LevelError, "hook failed",
			slog.String("hook", string(t)), slog.String("upload_id", ev.Upload.ID), slog.String("error", err.Error()))
		return Response{}, fmt.Errorf("%s hook failed: %w", t, err)
	}
	d.log.LogAttrs(ctx, slog.LevelDebug, "hook ran",
		slog.String("hook", string(t)), slog.String("upload_id", ev.Upload.ID))
	return resp, nil
}

// preCreate is the PreUploadCreateCallback.
func (d *Dispatcher) preCreate(ev tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
	resp, err := d.invoke(ev.Context, PreCreate, ev, nil)
	if err != nil {
		return tus.HTTPResponse{}, tus.FileInfoChanges{}, err
	}
	if resp.RejectUpload {
		return rejection(resp.HTTPResponse, ErrUploadRejected), tus.FileInfoChanges{}, ErrUploadRejected
	}
	ch := resp.ChangeFileInfo
	if ch.Storage != nil {
		d.log.LogAttrs(ev.Context, slog.LevelWarn, "pre-create hook asked to change the upload's Storage, which is not supported; ignored",
			slog.String("upload_id", ev.Upload.ID))
	}
	return resp.HTTPResponse, tus.FileInfoChanges{ID: ch.ID, MetaData: ch.MetaData}, nil
}

// preFinish is the PreFinishResponseCallback.
func (d *Dispatcher) preFinish(ev tus.HookEvent) (tus.HTTPResponse, error) {
	resp, err := d.invoke(ev.Context, PreFinish, ev, nil)
	if err != nil {
		return tus.HTTPResponse{}, err
	}
	return resp.HTTPResponse, nil
}

// preTerminate is the PreUploadTerminateCallback.
func (d *Dispatcher) preTerminate(ev tus.HookEvent) (tus.HTTPResponse, error) {
	resp, err := d.invoke(ev.Context, PreTerminate, ev, nil)
	if err != nil {
		return tus.HTTPResponse{}, err
	}
	if resp.RejectTermination {
		return rejection(resp.HTTPResponse, ErrTerminationRejected), ErrTerminationRejected
	}
	return resp.HTTPResponse, nil
}

// preAccess is the AccessCallback. The handler turns errors that are not
// *tus.Error into 403, so a failing hook is reported as tus.ErrInternal to
// get the 500 every failing blocking hook gets.
func (d *Dispatcher) preAccess(ev tus.AccessEvent) error {
	access := &Access{Mode: accessMode(ev.Action), Action: ev.Action, Files: []tus.FileInfo{ev.Upload}}
	resp, err := d.invoke(ev.Context, PreAccess, ev.HookEvent, &Event{Access: access})
	if err != nil {
		return fmt.Errorf("%w: %w", tus.ErrInternal, err)
	}
	if !resp.RejectAccess {
		return nil
	}
	denied := *tus.ErrAccessDenied
	if resp.HTTPResponse.StatusCode != 0 {
		denied.Status = resp.HTTPResponse.StatusCode
	}
	if body := strings.TrimSpace(resp.HTTPResponse.Body); body != "" {
		denied.Message = body
	}
	if len(resp.HTTPResponse.Header) > 0 {
		// The hook's headers (WWW-Authenticate, say) go with the refusal.
		return tus.RejectWith(tus.HTTPResponse{Header: resp.HTTPResponse.Header}, &denied)
	}
	return &denied
}

// accessMode returns the tusd access mode of a tus.AccessEvent action.
func accessMode(action string) string {
	switch action {
	case tus.ActionReadOffset, tus.ActionDownload, tus.ActionConcatenate:
		return ModeRead
	}
	return ModeWrite
}

// rejection returns the response refusing a request: the hook's, with the
// status of def if the hook gave a body but no status. (With neither, the
// handler answers with def itself.)
func rejection(resp tus.HTTPResponse, def *tus.Error) tus.HTTPResponse {
	if resp.StatusCode == 0 && resp.Body != "" {
		resp.StatusCode = def.Status
	}
	return resp
}
