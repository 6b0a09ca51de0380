package tus

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Config configures a Handler. Only StoreComposer is required; every other
// field has a working default.
//
// One rule for numbers: a zero size or duration means the field's default,
// and a negative one is refused by NewHandler, except NetworkTimeout, where
// a negative value turns the timeout off.
type Config struct {
	// StoreComposer holds the storage parts. Its Core is required.
	StoreComposer *StoreComposer
	// BasePath is the URL path the handler is mounted at, used to build the
	// Location of new uploads ("/files/" by default). It may also be an
	// absolute URL ("https://uploads.example.com/files/"), which is then used
	// as it is.
	BasePath string
	// MaxSize is the largest upload length accepted, announced as
	// Tus-Max-Size; 0 means no limit.
	MaxSize int64
	// MaxMetadataSize bounds the metadata of an upload, in bytes
	// (DefaultMaxMetadataSize, 64 KiB, when zero; negative values are
	// refused). A creation whose Upload-Metadata header is longer, or
	// whose metadata as a whole (with what an IETF creation says in
	// Content-Type and Content-Disposition) would be longer encoded as an
	// Upload-Metadata header, is refused with 400 ERR_INVALID_METADATA;
	// its decoded keys and values are then shorter too. A HEAD never
	// sends an Upload-Metadata header longer than it: metadata that grew
	// past it otherwise (a PreUploadCreateCallback's, or an upload created
	// under a larger limit) is sent as the pairs that fit, in key order,
	// and the rest is left out.
	MaxMetadataSize int64
	// DisableDownload turns GET requests off.
	DisableDownload bool
	// DisableTermination turns DELETE requests off even if the store
	// supports them.
	DisableTermination bool
	// DisableConcatenation turns the concatenation extension off even if
	// the store supports it.
	DisableConcatenation bool
	// RespectForwardedHeaders makes Location URLs honour X-Forwarded-Host,
	// X-Forwarded-Proto and Forwarded (RFC 7239). Enable it only behind a
	// proxy that sets or strips them.
	RespectForwardedHeaders bool
	// NetworkTimeout bounds how long a request body may send nothing before
	// the request ends; the bytes read so far are kept. It is a rolling read
	// deadline (60 s by default; negative disables it).
	NetworkTimeout time.Duration
	// MinTransferRate is the least rate, in bytes per second, at which a
	// request body must arrive, measured over every MinTransferRateWindow
	// of time spent waiting for the client (time the store takes does not
	// count). A body that falls short in a window ends the request, which
	// is answered 408 with code ERR_TRANSFER_TOO_SLOW; the bytes read so
	// far are kept, and the upload can be resumed. It frees the upload's
	// lock and the connection from a client that trickles (NetworkTimeout
	// only ends bodies that send nothing at all). 0, the default, turns
	// the check off.
	MinTransferRate int64
	// MinTransferRateWindow is the period over which MinTransferRate is
	// measured (60 s by default); a window may end up to a sixteenth of it
	// early.
	MinTransferRateWindow time.Duration
	// AcquireLockTimeout bounds how long a request waits for an upload's
	// lock, after asking the holder to let go (20 s by default). Negative
	// values are refused.
	AcquireLockTimeout time.Duration
	// Expiration is how long an unfinished upload lives after its creation
	// (or, with ExpirationSliding, after its last PATCH); 0 means forever.
	// Expired unfinished uploads answer 410 Gone, and Handler.SweepExpired
	// (Handler.RunCleaner) removes them. Negative values are refused.
	Expiration time.Duration
	// ExpirationSliding makes every PATCH that leaves an upload unfinished
	// renew its expiry to Expiration from then, and Upload-Expires moves
	// with it (the stored expiry is rewritten once at least a hundredth of
	// Expiration, and at least a second, has passed since the last
	// renewal). It needs Expiration and a store that can move an expiry
	// (StoreComposer.Extender).
	ExpirationSliding bool
	// ProgressInterval is the least time between two progress events of one
	// request (1 s by default). It also paces the progress 104 responses of
	// the IETF protocol (interop version 5 on). Both count the bytes the
	// store has taken from the request, not those of a read in progress.
	ProgressInterval time.Duration
	// Cors configures cross-origin requests. Nil means the defaults of
	// DefaultCorsConfig: every origin allowed, no credentials.
	Cors *CorsConfig
	// Logger receives the handler's logs; nil discards them.
	Logger *slog.Logger
	// DisableIETFDrafts turns off the IETF resumable upload protocol
	// (draft-ietf-httpbis-resumable-upload, interop versions 3 to 8). It is
	// on by default: a request that carries Upload-Draft-Interop-Version and
	// no Tus-Resumable is served by that protocol, over the same stores,
	// locks, callbacks and events as tus 1.0. With it set, such requests
	// are refused like any request without Tus-Resumable.
	DisableIETFDrafts bool

	// PreUploadCreateCallback runs before an upload is created. It may
	// reject the request, or change the ID and metadata; when it accepts,
	// its HTTPResponse is merged into the 201 response. See HookEvent.
	PreUploadCreateCallback func(event HookEvent) (HTTPResponse, FileInfoChanges, error)
	// PreFinishResponseCallback runs after the last byte is stored and
	// before the response is sent; its HTTPResponse is merged into it, and an
	// error turns the response into that error.
	PreFinishResponseCallback func(event HookEvent) (HTTPResponse, error)
	// PreUploadTerminateCallback runs before an upload is deleted and may
	// reject the deletion.
	PreUploadTerminateCallback func(event HookEvent) (HTTPResponse, error)
	// AccessCallback runs on every request that touches an upload: creation
	// (with the upload about to be created, before PreUploadCreateCallback),
	// HEAD, PATCH, GET, DELETE, and for a final upload each partial it
	// names, after the upload is found and before anything is done. An error refuses the
	// request; return an *Error (for example ErrAccessDenied) to choose the
	// status, or RejectWith to add headers or a body. Use it for per-user
	// authorisation.
	AccessCallback func(event AccessEvent) error

	// ErrorObserver, if set, is told of every error response: its status
	// and the code of the protocol error (ERR_INTERNAL_SERVER_ERROR for
	// failures that are not protocol errors; for a response a callback
	// shaped, the code of the error it returned, or ERR_CALLBACK_REJECTED).
	// It runs on the request path and must return quickly; use it for
	// metrics.
	ErrorObserver func(r *http.Request, status int, code string)
}

// CorsConfig configures cross-origin resource sharing.
type CorsConfig struct {
	// Disable turns CORS handling off: no CORS headers, and preflight
	// requests are answered as plain OPTIONS.
	Disable bool
	// AllowOrigin matches the origins that may use the handler; nil allows
	// all.
	AllowOrigin *regexp.Regexp
	// AllowCredentials sets Access-Control-Allow-Credentials.
	AllowCredentials bool
	// AllowMethods, AllowHeaders and ExposeHeaders are comma-separated lists.
	AllowMethods  string
	AllowHeaders  string
	ExposeHeaders string
	// MaxAge is how long a browser may cache a preflight answer; 0 sends no
	// Access-Control-Max-Age. Negative values are refused.
	MaxAge time.Duration
}

// DefaultCorsConfig returns the CORS settings used when Config.Cors is nil.
// Callers may change the returned value and pass it in Config.Cors.
func DefaultCorsConfig() *CorsConfig {
	return &CorsConfig{
		AllowMethods: "POST, HEAD, PATCH, OPTIONS, GET, DELETE",
		AllowHeaders: strings.Join([]string{
			"Authorization", "Origin", "X-Requested-With", "X-Request-ID",
			"X-HTTP-Method-Override", "Content-Type", "Upload-Length",
			"Upload-Offset", "Tus-Resumable", "Upload-Metadata",
			"Upload-Defer-Length", "Upload-Concat", "Upload-Checksum",
			"Upload-Complete", "Upload-Incomplete", "Upload-Draft-Interop-Version",
			"Content-Disposition",
		}, ", "),
		ExposeHeaders: strings.Join([]string{
			"Upload-Offset", "Location", "Upload-Length", "Tus-Version",
			"Tus-Resumable", "Tus-Max-Size", "Tus-Extension",
			"Tus-Checksum-Algorithm", "Upload-Metadata", "Upload-Defer-Length",
			"Upload-Concat", "Upload-Expires", "Upload-Complete", "Upload-Incomplete", "Upload-Limit",
			"Upload-Draft-Interop-Version", "X-Request-ID",
		}, ", "),
		MaxAge: 24 * time.Hour,
	}
}

// Defaults for Config fields left zero.
const (
	DefaultBasePath           = "/files/"
	DefaultNetworkTimeout     = 60 * time.Second
	DefaultAcquireLockTimeout = 20 * time.Second
	DefaultProgressInterval   = time.Second
	DefaultMaxMetadataSize    = 64 << 10
	// DefaultMinTransferRateWindow is the window of Config.MinTransferRate.
	DefaultMinTransferRateWindow = time.Minute
)

// withDefaults returns a copy of c with zero fields set to their defaults,
// or an error if c cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.StoreComposer == nil || c.StoreComposer.Core == nil {
		return c, errors.New("tus: Config.StoreComposer with a Core data store is required")
	}
	if c.MaxSize < 0 {
		return c, errors.New("tus: Config.MaxSize must not be negative")
	}
	switch {
	case c.MaxMetadataSize < 0:
		return c, errors.New("tus: Config.MaxMetadataSize must not be negative")
	case c.MaxMetadataSize == 0:
		c.MaxMetadataSize = DefaultMaxMetadataSize
	}
	if c.MinTransferRate < 0 {
		return c, errors.New("tus: Config.MinTransferRate must not be negative")
	}
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if !strings.Contains(c.BasePath, "://") && !strings.HasPrefix(c.BasePath, "/") {
		c.BasePath = "/" + c.BasePath
	}
	if !strings.HasSuffix(c.BasePath, "/") {
		c.BasePath += "/"
	}
	if c.NetworkTimeout == 0 {
		c.NetworkTimeout = DefaultNetworkTimeout
	}
	for _, f := range [...]struct {
		name string
		d    time.Duration
	}{{"AcquireLockTimeout", c.AcquireLockTimeout}, {"ProgressInterval", c.ProgressInterval}, {"Expiration", c.Expiration},
		{"MinTransferRateWindow", c.MinTransferRateWindow}} {
		if f.d < 0 {
			return c, errors.New("tus: Config." + f.name + " must not be negative")
		}
	}
	if c.ExpirationSliding && c.Expiration == 0 {
		return c, errors.New("tus: Config.ExpirationSliding needs Config.Expiration")
	}
	if c.ExpirationSliding && !c.StoreComposer.UsesExtender() {
		return c, errors.New("tus: Config.ExpirationSliding needs a store that can move an upload's expiry (StoreComposer.Extender)")
	}
	if c.Cors != nil && c.Cors.MaxAge < 0 {
		return c, errors.New("tus: Config.Cors.MaxAge must not be negative")
	}
	if c.AcquireLockTimeout == 0 {
		c.AcquireLockTimeout = DefaultAcquireLockTimeout
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.MinTransferRateWindow == 0 {
		c.MinTransferRateWindow = DefaultMinTransferRateWindow
	}
	if c.Cors == nil {
		c.Cors = DefaultCorsConfig()
	}
	if c.Cors.AllowCredentials && c.Cors.AllowOrigin == nil && !c.Cors.Disable {
		return c, errors.New("tus: Config.Cors.AllowCredentials needs an AllowOrigin pattern: credentials for every origin would let any site act for your users")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
