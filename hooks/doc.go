// Package hooks tells programs or HTTP endpoints of what happens to the
// uploads of a tus.Handler, and lets them shape or refuse the requests
// behind it. It is the hook system of the tusd server, usable by any
// service that embeds the handler.
//
// # Events
//
// Every hook has a Type, spelled as the reference server tusd spells it:
//
//	pre-access     blocking  every request that names an upload, and creations; may refuse it
//	pre-create     blocking  before an upload is created; may reject it or change its ID and metadata
//	post-create              after an upload is created
//	post-receive             while a PATCH body is read (paced by tus.Config.ProgressInterval); may stop the upload
//	pre-finish     blocking  after the last byte is stored, before the response; may add to the response
//	post-finish              after an upload is complete
//	pre-terminate  blocking  before an upload is deleted; may refuse the deletion
//	post-terminate           after an upload is deleted
//
// Only the types listed in Config.Enabled fire; DefaultEnabled returns
// tusd's default set.
//
// A hook receives a Request: its Type and the Event (the upload's
// tus.FileInfo, the HTTP request that caused it, and for pre-access the
// Access asked for). It may answer with a Response; every field is optional
// and the zero Response accepts. Both travel as JSON in the format of
// tusd v2, so existing hook scripts and endpoints keep working.
//
// # Blocking hooks and post hooks
//
// Blocking hooks (Type.Blocking) run on the request path, inside the
// callbacks of tus.Config, and the client waits for them. Their answer can
// refuse the request (RejectUpload, RejectTermination, RejectAccess, with
// HTTPResponse as the client's response or a protocol error such as
// ErrUploadRejected), change the upload about to be created
// (ChangeFileInfo), or add headers and a body to the client's response
// (HTTPResponse). A blocking hook that fails (cannot run, exits non-zero,
// times out, answers with invalid JSON, or an HTTP hook that cannot be
// reached or answers with an error status) fails the request with 500; the
// cause is logged, never sent to the client.
//
// Post hooks run after the fact, from a subscription to the handler's
// events, on a fixed pool of workers behind a bounded queue, so they never
// delay a client. When the queue is full new post hooks are dropped,
// logged and counted (Dispatcher.Dropped). A post-receive hook may still
// stop its upload (StopUpload): the PATCH still running is ended with the
// hook's HTTPResponse, and the upload is terminated.
//
// # Backends
//
// A Backend runs the hooks. Two are provided:
//
//   - FileBackend runs the executable Dir/<type> (for example
//     Dir/pre-create) with the Request on stdin and reads the Response
//     from stdout. A missing program is no hook.
//   - HTTPBackend POSTs the Request to one URL and reads the Response from
//     the answer's body, retrying failed attempts.
//
// Any other type implementing Backend works too, such as one calling a Go
// function or a message queue.
//
// # Wiring it into a tus.Handler
//
// A Dispatcher connects a Backend to a handler in three steps:
//
//	d, err := hooks.New(hooks.Config{Backend: backend, Enabled: hooks.DefaultEnabled(), Logger: logger})
//	cfg := tus.Config{StoreComposer: composer}
//	d.Configure(&cfg) // the blocking hooks
//	h, err := tus.NewHandler(cfg)
//	err = d.Start(h)  // the post hooks
//
// Configure sets the tus.Config callbacks of the enabled blocking hooks:
// PreUploadCreateCallback (pre-create), PreFinishResponseCallback
// (pre-finish), PreUploadTerminateCallback (pre-terminate) and
// AccessCallback (pre-access), replacing those already set. Start
// subscribes to the handler's events (tus.Handler.Subscribe) for the
// enabled post hooks: EventCreated (post-create), EventProgress
// (post-receive), EventCompleted (post-finish) and EventTerminated
// (post-terminate).
//
// # Closing
//
// Dispatcher.Close ends the subscription, runs the post hooks already
// queued until its context ends, and returns once every goroutine of the
// Dispatcher has stopped. Shut the HTTP server down first
// (http.Server.Shutdown), so that the events of the last requests are
// queued before Close; blocking hooks keep working after Close. The
// backends start no goroutines of their own and need no closing.
//
// Logs go to the *slog.Logger of Config.Logger (and of FileBackend.Logger
// for the programs' stderr); Config.OnInvoke reports every invocation and
// its outcome, for metrics.
package hooks
