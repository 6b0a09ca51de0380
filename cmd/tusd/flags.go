package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/hooks"
	"github.com/tusgo/tus/s3store"
)

// options are the command-line settings.
type options struct {
	// Listening.
	host        string
	port        int
	unixSock    string
	basePath    string
	behindProxy bool
	tlsCert     string
	tlsKey      string
	tlsMode     string
	h2c         bool

	// Protocol.
	maxSize              int64
	maxMetadataSize      int64
	disableIETF          bool
	disableDownload      bool
	disableTermination   bool
	disableConcatenation bool
	expiration           time.Duration
	expirationSliding    bool
	cleanupInterval      time.Duration
	cors                 corsOptions

	// Storage.
	dir       string
	fileSync  filestore.SyncPolicy
	storeSize int64
	s3        s3Options
	redis     redisOptions

	// Timeouts.
	networkTimeout        time.Duration
	minTransferRate       int64
	minTransferRateWindow time.Duration
	shutdownTimeout       time.Duration
	acquireLockTimeout    time.Duration

	// Hooks.
	hooks hookOptions

	// Metrics.
	exposeMetrics bool
	metricsPath   string

	// Profiling.
	exposePprof    bool
	pprofPath      string
	pprofBlockRate int
	pprofMutexRate int

	// Operations.
	logFormat   string
	verbose     bool
	version     bool
	disableDemo bool
}

// corsOptions are the cross-origin settings.
type corsOptions struct {
	disable          bool
	allowOrigin      string // a regular expression matched against the whole Origin
	allowCredentials bool
	allowMethods     string
	allowHeaders     string // added to the defaults
	exposeHeaders    string // added to the defaults
	maxAge           time.Duration
}

// s3Options are the settings of the S3 store; bucket empty means the
// directory store.
type s3Options struct {
	bucket                string
	endpoint              string
	objectPrefix          string
	partSize              int64
	minPartSize           int64
	maxParts              int
	concurrentPartUploads int
	maxBufferedBytes      int64
	disablePartCopy       bool
	disableContentHashes  bool
	callTimeout           time.Duration
	partTimeout           time.Duration
}

// hookOptions are the settings of the hook system.
type hookOptions struct {
	dir              string
	fileTimeout      time.Duration
	httpURL          string
	httpRetry        int
	httpBackoff      time.Duration
	httpTimeout      time.Duration
	forwardHeaders   string
	maxResponseSize  int64
	enabledEvents    string
	progressInterval time.Duration
}

// flagGroup is a heading of -help and the flags listed under it.
type flagGroup struct {
	title string
	names []string
}

// flagGroups orders -help. Every defined flag is in exactly one group
// (TestHelpListsEveryFlag).
var flagGroups = []flagGroup{
	{"Listening", []string{"host", "port", "unix-sock", "base-path", "behind-proxy", "tls-certificate", "tls-key", "tls-mode", "enable-h2c"}},
	{"Protocol", []string{"max-size", "max-metadata-size", "disable-ietf-drafts", "disable-download", "disable-termination", "disable-concatenation", "expiration", "expiration-sliding", "cleanup-interval"}},
	{"CORS", []string{"disable-cors", "cors-allow-origin", "cors-allow-credentials", "cors-allow-methods", "cors-allow-headers", "cors-expose-headers", "cors-max-age"}},
	{"Storage", []string{"dir", "filestore-sync", "store-size"}},
	{"Storage: S3 and S3-compatible services", []string{"s3-bucket", "s3-endpoint", "s3-object-prefix", "s3-part-size", "s3-min-part-size", "s3-max-parts", "s3-concurrent-part-uploads", "s3-max-buffered-bytes", "s3-disable-part-copy", "s3-disable-content-hashes", "s3-call-timeout", "s3-part-timeout"}},
	{"Several instances", []string{"redis-url", "redis-lock-lease", "redis-key-prefix"}},
	{"Timeouts", []string{"network-timeout", "min-transfer-rate", "min-transfer-rate-window", "shutdown-timeout", "acquire-lock-timeout"}},
	{"Hooks", []string{"hooks-dir", "hooks-file-timeout", "hooks-http", "hooks-http-retry", "hooks-http-backoff", "hooks-http-timeout", "hooks-http-forward-headers", "hooks-http-max-response-size", "hooks-enabled-events", "progress-hooks-interval"}},
	{"Metrics and profiling", []string{"expose-metrics", "metrics-path", "expose-pprof", "pprof-path", "pprof-block-profile-rate", "pprof-mutex-profile-rate"}},
	{"Operations", []string{"log-format", "verbose", "version", "disable-demo"}},
}

// usageHeader comes before the flag list of -help.
const usageHeader = `Usage: tusd [flags]

Serves resumable uploads at http://HOST:PORT/BASE-PATH, over tus 1.0 and the
IETF resumable upload drafts (interop versions 3 to 8), stored in a
local directory (-dir) or, with -s3-bucket, in an S3 bucket. GET / serves a
demo page (-disable-demo turns it off) and -metrics-path Prometheus metrics.

Every flag but -version can also be set by an environment variable: TUSD_
and the flag's name in capitals with '_' for '-' (TUSD_S3_BUCKET for
-s3-bucket). A flag on the command line wins over its variable, and an empty
variable counts as unset. TUSD_PORT of the form tcp://IP:PORT, as Kubernetes
sets it for a Service named tusd, is ignored.

S3 credentials and region come from the standard AWS environment variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
AWS_PROFILE, ...) and shared config files (~/.aws/config, ~/.aws/credentials);
without a configured region, us-east-1 is used. With S3, upload locks are held
in this process's memory unless -redis-url names a Redis server: then any
number of tusd instances may serve one bucket (or one shared -dir) behind any
load balancer.

Hooks: see README.md, "Hooks", for the events and the JSON both backends
exchange.
`

// envName returns the environment variable that sets flag name.
func envName(name string) string {
	return "TUSD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// newFlagSet defines every flag on a new FlagSet that fills o.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tusd", flag.ContinueOnError)
	fs.SetOutput(stderr)

	fs.StringVar(&o.host, "host", "0.0.0.0", "host or address to listen on")
	fs.IntVar(&o.port, "port", 1080, "port to listen on (0 picks a free one)")
	fs.StringVar(&o.unixSock, "unix-sock", "", "listen on this Unix domain socket `path` instead of -host and -port")
	fs.StringVar(&o.basePath, "base-path", "/files/", "URL `path` the uploads are served under")
	fs.BoolVar(&o.behindProxy, "behind-proxy", false, "trust X-Forwarded-Host, X-Forwarded-Proto and Forwarded for upload URLs (only behind a proxy that sets them)")
	fs.StringVar(&o.tlsCert, "tls-certificate", "", "`file` with the PEM certificate (chain) to serve HTTPS with; needs -tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "`file` with the PEM private key of -tls-certificate")
	fs.StringVar(&o.tlsMode, "tls-mode", "tls12", "TLS versions and ciphers: tls12 (TLS 1.2 and 1.3), tls12-strong (TLS 1.2 with AEAD ECDHE ciphers only, and 1.3) or tls13 (TLS 1.3 only)")
	fs.BoolVar(&o.h2c, "enable-h2c", false, "also serve HTTP/2 without TLS (h2c, prior knowledge), e.g. behind a proxy speaking HTTP/2 to tusd")

	fs.Int64Var(&o.maxSize, "max-size", 0, "largest upload accepted, in `bytes` (0: no limit)")
	fs.Int64Var(&o.maxMetadataSize, "max-metadata-size", tus.DefaultMaxMetadataSize, "largest Upload-Metadata of an upload, in `bytes`, as sent or as it would be sent back; a creation with more is refused with 400 (0: the default)")
	fs.BoolVar(&o.disableIETF, "disable-ietf-drafts", false, "serve only tus 1.0, not the IETF resumable upload drafts (interop versions 3 to 8, chosen by Upload-Draft-Interop-Version)")
	fs.BoolVar(&o.disableDownload, "disable-download", false, "do not serve uploads with GET")
	fs.BoolVar(&o.disableTermination, "disable-termination", false, "do not let clients delete uploads (termination extension)")
	fs.BoolVar(&o.disableConcatenation, "disable-concatenation", false, "turn the concatenation extension off")
	fs.DurationVar(&o.expiration, "expiration", 0, "how long an unfinished upload lives after its creation, e.g. 24h (0: forever); expired uploads answer 410 and are removed by a sweep every -cleanup-interval, with what crashes left behind")
	fs.BoolVar(&o.expirationSliding, "expiration-sliding", false, "renew an unfinished upload's expiry on every PATCH: it expires -expiration after its last PATCH (needs -expiration)")
	fs.DurationVar(&o.cleanupInterval, "cleanup-interval", 0, "how often the sweep removes expired uploads, with -expiration (0: a tenth of -expiration, at least 1s and at most 1h); instances sharing a store and a locker take turns")

	fs.BoolVar(&o.cors.disable, "disable-cors", false, "send no CORS headers and answer preflight requests as plain OPTIONS")
	fs.StringVar(&o.cors.allowOrigin, "cors-allow-origin", ".*", "regular `expression` that a whole Origin must match to be allowed")
	fs.BoolVar(&o.cors.allowCredentials, "cors-allow-credentials", false, "send Access-Control-Allow-Credentials: true (needs a -cors-allow-origin narrower than .*)")
	fs.StringVar(&o.cors.allowMethods, "cors-allow-methods", "POST, HEAD, PATCH, OPTIONS, GET, DELETE", "comma-separated `methods` allowed in cross-origin requests")
	fs.StringVar(&o.cors.allowHeaders, "cors-allow-headers", "", "comma-separated request `headers` allowed in addition to the tus ones")
	fs.StringVar(&o.cors.exposeHeaders, "cors-expose-headers", "", "comma-separated response `headers` exposed in addition to the tus ones")
	o.cors.maxAge = 24 * time.Hour
	fs.Var((*secondsOrDuration)(&o.cors.maxAge), "cors-max-age", "how long browsers may cache a preflight answer: a `duration` (10m) or, as the reference server takes it, seconds (600)")

	fs.StringVar(&o.dir, "dir", "./data", "directory to store uploads in (created if missing); not with -s3-bucket")
	fs.TextVar(&o.fileSync, "filestore-sync", filestore.SyncFinish, "when the directory store fsyncs: `finish` (before the response that completes an upload, which then survives a power loss) or none (never: a power loss or kernel crash may lose uploads that were acknowledged); not with -s3-bucket")
	fs.Int64Var(&o.storeSize, "store-size", 0, "total `bytes` all uploads may take, with -dir or -s3-bucket; a new upload that does not fit is refused with 507 (0: no limit). Uploads already in the store count from the start")

	fs.StringVar(&o.s3.bucket, "s3-bucket", "", "store uploads in this S3 `bucket` instead of -dir (locks are in memory, one tusd per bucket, unless -redis-url)")
	fs.StringVar(&o.s3.endpoint, "s3-endpoint", "", "`URL` of an S3-compatible service (MinIO, versitygw, R2, ...), addressed path-style (default: AWS)")
	fs.StringVar(&o.s3.objectPrefix, "s3-object-prefix", "", "`prefix` of every object key the S3 store writes, e.g. uploads/")
	fs.Int64Var(&o.s3.partSize, "s3-part-size", 0, "preferred size of an S3 part, in `bytes` (0: 16 MiB)")
	fs.Int64Var(&o.s3.minPartSize, "s3-min-part-size", 0, "smallest part the S3 service accepts but for the last, in `bytes` (0: 5 MiB)")
	fs.IntVar(&o.s3.maxParts, "s3-max-parts", 0, "most parts the S3 service allows in one multipart upload (0: 10000)")
	fs.IntVar(&o.s3.concurrentPartUploads, "s3-concurrent-part-uploads", 0, fmt.Sprintf("parts one request uploads to S3 at the same time (0: %d)", s3store.DefaultConcurrentPartUploads))
	fs.Int64Var(&o.s3.maxBufferedBytes, "s3-max-buffered-bytes", 0, fmt.Sprintf("memory, in `bytes`, for the parts of all requests together; a request reserves a whole part before reading it and waits in line (0: %d MiB)", s3store.DefaultMaxBufferedBytes>>20))
	fs.BoolVar(&o.s3.disablePartCopy, "s3-disable-part-copy", false, "concatenate uploads by streaming them instead of UploadPartCopy")
	fs.BoolVar(&o.s3.disableContentHashes, "s3-disable-content-hashes", false, "send upload bytes to S3 without a SHA-256 in the signature, to save CPU (the CRC32 checksum still guards them; use with HTTPS)")
	fs.DurationVar(&o.s3.callTimeout, "s3-call-timeout", 0, "time limit of each S3 call without upload bytes, retries included; the request then answers 503 with Retry-After (0: 15s)")
	fs.DurationVar(&o.s3.partTimeout, "s3-part-timeout", 0, "time limit of each S3 part upload, per started 64 MiB, retries included; the request then answers 503 with Retry-After (0: 2m)")

	fs.StringVar(&o.redis.url, "redis-url", "", "keep upload locks in the Redis server at this `URL` (redis:// or rediss://, with password and DB: redis://:PASSWORD@HOST:6379/0), so that several tusd instances serve one bucket or shared directory")
	fs.DurationVar(&o.redis.lease, "redis-lock-lease", 30*time.Second, "with -redis-url: how long a lock outlives an instance that died holding it; holders renew it while they live")
	fs.StringVar(&o.redis.keyPrefix, "redis-key-prefix", "tus:lock:", "with -redis-url: `prefix` of the lock keys and channels, to share one Redis among several services")

	fs.DurationVar(&o.networkTimeout, "network-timeout", 60*time.Second, "how long a request body may send nothing before the request ends; the bytes read are kept (0: no limit)")
	fs.Int64Var(&o.minTransferRate, "min-transfer-rate", 0, "least rate, in `bytes` per second, at which a request body must arrive over every -min-transfer-rate-window (time the store takes does not count); a slower one ends with 408 ERR_TRANSFER_TOO_SLOW, the bytes read are kept (0: no minimum)")
	fs.DurationVar(&o.minTransferRateWindow, "min-transfer-rate-window", time.Minute, "the period over which -min-transfer-rate is measured")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown may take: uploads in progress are stopped at once (their bytes kept, answered 503 ERR_SERVER_SHUTDOWN); other requests may finish until a quarter of it (at most 5s) is left, then their connections are cut")
	fs.DurationVar(&o.acquireLockTimeout, "acquire-lock-timeout", 20*time.Second, "how long a request waits for an upload's lock held by another request (after asking it to let go)")

	fs.StringVar(&o.hooks.dir, "hooks-dir", "", "`directory` of executable file hooks, one per event, named like it (pre-create, post-finish, ...)")
	fs.DurationVar(&o.hooks.fileTimeout, "hooks-file-timeout", 30*time.Second, "how long a file hook may run before it is killed and counted as failed")
	fs.StringVar(&o.hooks.httpURL, "hooks-http", "", "`URL` that every hook event is POSTed to as JSON")
	fs.IntVar(&o.hooks.httpRetry, "hooks-http-retry", 3, "how often a failed HTTP hook (no answer, 429 or 5xx) is retried")
	o.hooks.httpBackoff = time.Second
	fs.Var((*secondsOrDuration)(&o.hooks.httpBackoff), "hooks-http-backoff", "wait between two attempts of an HTTP hook: a `duration` (500ms) or seconds (2)")
	fs.DurationVar(&o.hooks.httpTimeout, "hooks-http-timeout", 30*time.Second, "how long one attempt of an HTTP hook may take")
	fs.StringVar(&o.hooks.forwardHeaders, "hooks-http-forward-headers", "", "comma-separated `headers` of the upload request sent along with HTTP hooks (e.g. Authorization)")
	fs.Int64Var(&o.hooks.maxResponseSize, "hooks-http-max-response-size", 1<<20, "largest hook reply read, in `bytes`; a larger one fails the hook")
	fs.StringVar(&o.hooks.enabledEvents, "hooks-enabled-events", strings.Join(typeNames(hooks.DefaultEnabled()), ","), "comma-separated `events` that fire hooks, of "+strings.Join(typeNames(hooks.AllTypes()), ", "))
	fs.DurationVar(&o.hooks.progressInterval, "progress-hooks-interval", time.Second, "least time between two post-receive hooks of one request")

	fs.BoolVar(&o.exposeMetrics, "expose-metrics", true, "serve Prometheus metrics at -metrics-path")
	fs.StringVar(&o.metricsPath, "metrics-path", "/metrics", "URL `path` of the metrics")
	fs.BoolVar(&o.exposePprof, "expose-pprof", false, "serve the Go runtime's profiles (net/http/pprof: CPU, heap, goroutines, execution trace, ...) at -pprof-path on the same listener; anyone who reaches it can read them and load the CPU, so keep it behind a proxy or firewall")
	fs.StringVar(&o.pprofPath, "pprof-path", "/debug/pprof/", "URL `path` of the profiles, with -expose-pprof")
	fs.IntVar(&o.pprofBlockRate, "pprof-block-profile-rate", 0, "with -expose-pprof: record in the block profile one blocking event per this many `nanoseconds` spent blocked (runtime.SetBlockProfileRate; 1 records every event; 0: none, the profile stays empty)")
	fs.IntVar(&o.pprofMutexRate, "pprof-mutex-profile-rate", 0, "with -expose-pprof: record in the mutex profile one in this many mutex contention `events` (runtime.SetMutexProfileFraction; 0: none, the profile stays empty)")

	fs.StringVar(&o.logFormat, "log-format", "text", "log line `format`: text or json")
	fs.BoolVar(&o.verbose, "verbose", false, "also log debug details (refused requests, hooks that ran)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.disableDemo, "disable-demo", false, "do not serve the demo page at GET /")

	fs.Usage = func() { printUsage(fs) }
	return fs
}

// secondsOrDuration is a duration flag that also takes a plain number of
// seconds, as the reference server's -cors-max-age and (before its v2)
// -hooks-http-backoff do.
type secondsOrDuration time.Duration

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }

func (d *secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) {
			return errors.New("too large")
		}
		*d = secondsOrDuration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 10m, or seconds")
	}
	*d = secondsOrDuration(v)
	return nil
}

// typeNames returns the names of hook types.
func typeNames(ts []hooks.Type) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = string(t)
	}
	return names
}

// printUsage writes -help: the header, then every flag by group, each with
// its default and environment variable.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, usageHeader)
	for _, g := range flagGroups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, name := range g.names {
			f := fs.Lookup(name)
			if f == nil {
				continue // a group names a flag that does not exist: TestHelpListsEveryFlag fails
			}
			arg, usage := flag.UnquoteUsage(f)
			line := "  -" + f.Name
			if arg != "" {
				line += " " + arg
			}
			fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
				if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
					fmt.Fprintf(w, " (default %q)", f.DefValue)
				} else {
					fmt.Fprintf(w, " (default %s)", f.DefValue)
				}
			}
			fmt.Fprintf(w, "\n    \t[env %s]\n", envName(f.Name))
		}
	}
}

// parseFlags reads the command line, then the TUSD_ environment variables
// (getenv) of the flags the command line did not set, and checks the
// result.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil || f.Name == "version" {
			return // -version is an action, not a setting
		}
		if v, ok := lookupEnv(getenv, envName(f.Name)); ok {
			if f.Name == "port" && strings.HasPrefix(v, "tcp://") {
				// Kubernetes sets TUSD_PORT=tcp://IP:PORT for a Service
				// named tusd: that is not a setting of ours.
				return
			}
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid value %q of %s for -%s: %v", v, envName(f.Name), f.Name, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := o.check(fs); err != nil {
		return o, err
	}
	return o, nil
}

// lookupEnv returns the variable's value and whether it is set and not
// empty.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// check validates o and normalises paths. fs tells which flags were set
// (on the command line or by the environment).
func (o *options) check(fs *flag.FlagSet) error {
	if o.version {
		return nil
	}
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"-max-size", o.maxSize}, {"-max-metadata-size", o.maxMetadataSize}, {"-store-size", o.storeSize},
		{"-min-transfer-rate", o.minTransferRate},
		{"-hooks-http-retry", int64(o.hooks.httpRetry)}, {"-hooks-http-max-response-size", o.hooks.maxResponseSize},
		{"-s3-part-size", o.s3.partSize}, {"-s3-min-part-size", o.s3.minPartSize},
		{"-s3-max-parts", int64(o.s3.maxParts)}, {"-s3-concurrent-part-uploads", int64(o.s3.concurrentPartUploads)},
		{"-s3-max-buffered-bytes", o.s3.maxBufferedBytes},
		{"-pprof-block-profile-rate", int64(o.pprofBlockRate)}, {"-pprof-mutex-profile-rate", int64(o.pprofMutexRate)},
	} {
		if v.n < 0 {
			return fmt.Errorf("%s must not be negative", v.name)
		}
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{
		{"-expiration", o.expiration}, {"-cleanup-interval", o.cleanupInterval}, {"-network-timeout", o.networkTimeout}, {"-shutdown-timeout", o.shutdownTimeout},
		{"-min-transfer-rate-window", o.minTransferRateWindow},
		{"-acquire-lock-timeout", o.acquireLockTimeout}, {"-cors-max-age", o.cors.maxAge},
		{"-hooks-http-backoff", o.hooks.httpBackoff}, {"-hooks-http-timeout", o.hooks.httpTimeout},
		{"-hooks-file-timeout", o.hooks.fileTimeout}, {"-progress-hooks-interval", o.hooks.progressInterval},
		{"-s3-call-timeout", o.s3.callTimeout}, {"-s3-part-timeout", o.s3.partTimeout},
	} {
		if v.d < 0 {
			return fmt.Errorf("%s must not be negative", v.name)
		}
	}
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"-acquire-lock-timeout", int64(o.acquireLockTimeout)}, {"-progress-hooks-interval", int64(o.hooks.progressInterval)},
		{"-min-transfer-rate-window", int64(o.minTransferRateWindow)},
		{"-hooks-http-timeout", int64(o.hooks.httpTimeout)}, {"-hooks-file-timeout", int64(o.hooks.fileTimeout)},
		{"-hooks-http-backoff", int64(o.hooks.httpBackoff)}, {"-hooks-http-max-response-size", o.hooks.maxResponseSize},
	} {
		if v.n == 0 {
			return fmt.Errorf("%s must be positive", v.name)
		}
	}
	if o.expirationSliding && o.expiration == 0 {
		return errors.New("-expiration-sliding needs -expiration")
	}
	if o.cleanupInterval != 0 && o.expiration == 0 {
		return errors.New("-cleanup-interval needs -expiration: without it nothing expires")
	}
	if o.port < 0 || o.port > 65535 {
		return errors.New("-port must be between 0 and 65535")
	}
	o.basePath = slashed(o.basePath)
	if !plainPath.MatchString(o.basePath) {
		return fmt.Errorf("-base-path %q: use letters, digits and - . _ ~ / only", o.basePath)
	}
	if !plainPath.MatchString(o.metricsPath) || o.metricsPath == "/" {
		return fmt.Errorf("-metrics-path %q: a path below / of letters, digits and - . _ ~ / only", o.metricsPath)
	}
	if !o.disableDemo && (strings.HasPrefix(o.basePath, demoPrefix) || strings.HasPrefix(o.metricsPath, demoPrefix)) {
		return fmt.Errorf("%s is the demo page's: choose another -base-path or -metrics-path, or -disable-demo", demoPrefix)
	}
	if o.exposeMetrics && strings.HasPrefix(strings.TrimSuffix(o.metricsPath, "/")+"/", o.basePath) {
		return fmt.Errorf("-metrics-path %q lies under -base-path %q", o.metricsPath, o.basePath)
	}
	if err := o.checkPprofPath(); err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("-tls-certificate and -tls-key go together")
	}
	if _, ok := tlsModes[o.tlsMode]; !ok {
		return fmt.Errorf("-tls-mode %q is not one of tls12, tls12-strong, tls13", o.tlsMode)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("-log-format %q is not text or json", o.logFormat)
	}
	if _, err := regexp.Compile(o.cors.allowOrigin); err != nil {
		return fmt.Errorf("-cors-allow-origin is not a regular expression: %v", err)
	}
	if o.cors.allowCredentials && !o.cors.disable && (o.cors.allowOrigin == ".*" || o.cors.allowOrigin == "") {
		return errors.New("-cors-allow-credentials needs a -cors-allow-origin narrower than .*: credentials for every origin would let any site act for your users")
	}
	if err := o.hooks.check(); err != nil {
		return err
	}
	if err := checkRedisFlags(fs, o.redis); err != nil {
		return err
	}
	return checkS3Flags(fs, o.s3)
}

// checkRedisFlags refuses a -redis-url that cannot be used, a lease too
// short to renew, and the other Redis flags without -redis-url.
func checkRedisFlags(fs *flag.FlagSet, r redisOptions) error {
	if r.url == "" {
		var err error
		fs.Visit(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "redis-") && err == nil {
				err = fmt.Errorf("-%s needs -redis-url", f.Name)
			}
		})
		return err
	}
	if _, err := redis.ParseURL(r.url); err != nil {
		return fmt.Errorf("-redis-url %s: %v", redactURL(r.url), err)
	}
	if r.lease < time.Second {
		return errors.New("-redis-lock-lease must be at least 1s: holders renew it a few times per lease")
	}
	if r.keyPrefix == "" {
		return errors.New("-redis-key-prefix must not be empty")
	}
	return nil
}

// plainPath matches the URL paths tusd serves at: nothing that a
// ServeMux pattern would read as a wildcard, a method or a host.
var plainPath = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)

// demoPrefix holds the demo page's files.
const demoPrefix = "/demo/"

// slashed returns p with a leading and a trailing slash.
func slashed(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// check validates the hook settings.
func (h hookOptions) check() error {
	if h.dir != "" && h.httpURL != "" {
		return errors.New("-hooks-dir and -hooks-http exclude each other: choose one hook backend")
	}
	if h.httpURL != "" {
		u, err := url.Parse(h.httpURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-hooks-http %q is not an http:// or https:// URL", redactURL(h.httpURL))
		}
	}
	if h.dir != "" {
		st, err := os.Stat(h.dir)
		if err != nil {
			return fmt.Errorf("-hooks-dir: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("-hooks-dir %q is not a directory", h.dir)
		}
	}
	_, err := hooks.ParseTypes(h.enabledEvents)
	if err != nil {
		return fmt.Errorf("-hooks-enabled-events: %w", err)
	}
	return nil
}

// redactURL returns u for logs and errors: without its password and its
// query, either of which may hold a secret.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if p.RawQuery != "" {
		p.RawQuery = "redacted"
	}
	return p.Redacted()
}

// checkS3Flags reports S3 settings that cannot work, and S3 flags given
// without -s3-bucket or together with -dir.
func checkS3Flags(fs *flag.FlagSet, s s3Options) error {
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	for _, name := range set {
		switch {
		case name == "dir" && s.bucket != "":
			return errors.New("-dir and -s3-bucket exclude each other: uploads go to the bucket")
		case name == "filestore-sync" && s.bucket != "":
			return errors.New("-filestore-sync is for -dir, not -s3-bucket")
		case name != "s3-bucket" && strings.HasPrefix(name, "s3-") && s.bucket == "":
			return fmt.Errorf("-%s needs -s3-bucket", name)
		}
	}
	if s.bucket == "" {
		return nil
	}
	if strings.TrimSpace(s.bucket) != s.bucket || strings.ContainsAny(s.bucket, "/ ") {
		return fmt.Errorf("-s3-bucket %q is not a bucket name", s.bucket)
	}
	if s.endpoint != "" {
		u, err := url.Parse(s.endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fmt.Errorf("-s3-endpoint %q is not an http:// or https:// URL", s.endpoint)
		case u.User != nil:
			// The SDK would ignore them; keep secrets off the command line.
			return errors.New("-s3-endpoint must not contain credentials: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
	}
	return nil
}
