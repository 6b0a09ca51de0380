// Package tus serves resumable uploads over HTTP: the tus protocol 1.0 with
// all its extensions, and the IETF "Resumable Uploads for HTTP" drafts
// (interop versions 3 to 8), over the same stores, locks, callbacks and
// events. A client that loses its connection asks how much arrived and
// sends only the rest.
//
// # Mounting
//
// A Handler is an http.Handler. Build a StoreComposer from a store and a
// locker, pass it to NewHandler and mount the handler below its base path:
//
//	composer := tus.NewStoreComposer()
//	store.UseIn(composer)              // core storage and its extensions
//	memorylocker.New().UseIn(composer) // one lock per upload
//	h, err := tus.NewHandler(tus.Config{StoreComposer: composer, BasePath: "/files/"})
//	mux.Handle("/files/", http.StripPrefix("/files/", h))
//
// Routers that match methods themselves wrap the method handlers (PostFile,
// HeadFile, PatchFile, GetFile, DelFile) in Handler.Middleware instead.
//
// # How a request flows
//
// Every request takes the same path, whichever protocol it speaks:
//
//  1. Preparation: a request ID (X-Request-ID), CORS (preflights end
//     here) and the choice of protocol: a request with Tus-Resumable is tus
//     1.0; one with Upload-Draft-Interop-Version and no Tus-Resumable is
//     IETF, in the version it names. A version the server does not speak
//     ends here, and so do a singleton header repeated with different
//     values and an X-HTTP-Method-Override that is not a POST's to PATCH
//     or DELETE (both 400), and OPTIONS (discovery).
//  2. Routing: the path names the collection (POST creates an upload) or
//     one upload by its ID, which is validated once, before any store sees
//     it. One switch picks, per method, the protocol's handler.
//  3. The protocol's edge reads its headers into a FileInfo and the
//     request's intent: tus headers for tus, Upload-Complete, Upload-Offset
//     and Upload-Length as the client's interop version defines them for
//     IETF. Malformed input is refused here, before anything changes.
//  4. The shared machinery does the work, the same for both protocols:
//     creating an upload (access check, PreUploadCreateCallback, the
//     store's NewUpload), taking the upload's lock (asking an older request
//     that holds it to let go), appending the body (read with a rolling
//     timeout and checksums, stopped at the upload's length, every byte
//     that arrived stored and counted even when the client breaks off),
//     finishing a complete upload (the store's FinishUpload,
//     PreFinishResponseCallback, EventCompleted), concatenating partial
//     uploads, reporting the offset, terminating, downloading.
//  5. The edge writes the result in its protocol: tus headers and status
//     codes, or the draft's state headers, 104 responses and RFC 9457
//     problem details. Errors are answered by their status (see Errors).
//
// A request carries what it needs in one value (the request, the response
// writer, the upload ID, the protocol and version, a logger with the request
// ID, the upload's lock). In the source, handler.go routes; middleware.go
// prepares; tus.go and ietf.go (with ietf_headers.go and ietf_versions.go)
// are the two edges; create.go, append.go, body.go, checksum.go,
// finish.go, concat.go, offset.go, terminate.go, download.go, access.go,
// lock.go and active.go (the upload requests in flight, for HEAD and
// Shutdown) are the shared machinery; respond.go writes answers.
//
// # Stores
//
// A store implements DataStore (create and find uploads) and Upload (read
// the state, append a chunk, finish); datastore.go states the contract.
// Optional capabilities are parts of the StoreComposer, registered by the
// store's UseIn, and the handler finds them there and nowhere else:
// termination, concatenation, length deferral, downloads, finish reports
// and usage reports. The handler advertises exactly the extensions whose
// parts are present. Locking is a part too (Locker), so a store and a
// locker of different origin can be combined.
//
// Two signals in the contract have their own names: a reader that fails
// with an error matching ErrDiscardChunk asks the store to keep nothing of
// the chunk (a checksum mismatch, a chunk past the upload's length), and
// FileInfo.AnnouncedSize is a length an IETF client announced but has not
// made final. A store that wraps another composition (to count, limit or
// observe) embeds StoreWrapper, which forwards every part it does not
// override.
//
// Package storetest checks a store against this contract, directly and
// over HTTP; package storetest/memstore is a store in memory that passes
// it, a model for store authors and a store for unit tests.
//
// # Errors
//
// Every protocol error is an *Error that carries its HTTP status, a stable
// code and a one-line message, and matches its sentinel (ErrNotFound,
// ErrMismatchOffset, ...) with errors.Is. Stores wrap the sentinels with
// %w; the handler answers with their status. Any other error is logged
// with the request ID and answered 500 without internals.
//
// # Callbacks and events
//
// Config's callbacks run on the request path and may refuse it or shape
// the response: AccessCallback on every request that touches an upload,
// PreUploadCreateCallback before a creation, PreFinishResponseCallback
// after the last byte, PreUploadTerminateCallback before a deletion.
// Handler.Subscribe delivers created, progress, completed and terminated
// events on a bounded channel; a progress event's StopUpload stops its
// request. The package github.com/tusgo/tus/hooks runs file and HTTP hooks
// on top of both.
//
// # Expiry
//
// With Config.Expiration, an unfinished upload answers 410 Gone once it
// expires (Config.ExpirationSliding renews the expiry on every PATCH).
// Handler.SweepExpired removes expired uploads, through the termination
// path and under their locks, and what crashes left in the store;
// Handler.RunCleaner runs it every interval until its context ends, in a
// goroutine the caller owns (sweep.go).
//
// # Concurrency
//
// A Handler is safe for concurrent use and starts no goroutine. Requests
// for one upload are serialised by its lock: a newer request asks the
// holder to let go, and the holder stores what it read and ends, so a
// client resuming after a dropped connection gets in at once. A HEAD is
// the exception when a request of this process is writing the upload and
// its body keeps moving: the HEAD, a monitor's, is answered from the
// store's state without the lock (see HeadFile). A request holds at most
// its own upload's lock and one partial upload's, taken in that order, so
// requests cannot deadlock.
//
// A body is read with a rolling timeout (Config.NetworkTimeout) and,
// optionally, a minimum transfer rate (Config.MinTransferRate), both kept
// with the connection's read deadline. An answer sent before the body
// ended closes the connection (HTTP/1), so that it reaches a slow client
// at once. Handler.Shutdown stops every body being read, for a server
// shutting down: each upload stores what it read and answers 503.
package tus
