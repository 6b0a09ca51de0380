package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tusgo/tus"
)

// tlsModes maps -tls-mode to the TLS settings it stands for.
var tlsModes = map[string]func(*tls.Config){
	"tls12": func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 },
	"tls12-strong": func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{ // forward secrecy and AEAD only (TLS 1.3 suites are always strong)
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		}
	},
	"tls13": func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 },
}

// listen opens the listener of o: a Unix socket with -unix-sock, else TCP
// on -host and -port; with -tls-certificate it speaks TLS. It returns the
// URL clients use (scheme, host and port, without the base path) and the
// address listened on, as configured but with the port actually taken.
// For TCP on a wildcard host (0.0.0.0, ::, empty), which Go prints as
// [::], the URL names localhost, which a person on the same machine can
// open; the listen address keeps the configured host.
func listen(o options) (ln net.Listener, url, listenAddr string, err error) {
	if o.unixSock != "" {
		// A socket file left by a process that died is in the way.
		if st, err := os.Lstat(o.unixSock); err == nil && st.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", o.unixSock); err == nil {
				c.Close()
				return nil, "", "", fmt.Errorf("-unix-sock %s: another process is listening there", o.unixSock)
			}
			_ = os.Remove(o.unixSock)
		}
		l, err := net.Listen("unix", o.unixSock)
		if err != nil {
			return nil, "", "", err
		}
		ln, url, listenAddr = l, "unix:"+o.unixSock, "unix:"+o.unixSock
	} else {
		l, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
		if err != nil {
			return nil, "", "", err
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port) // the one taken with -port 0
		ln, url, listenAddr = l, clientHostPort(o.host, l.Addr()), net.JoinHostPort(o.host, port)
	}
	scheme := "http://"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			return nil, "", "", fmt.Errorf("loading -tls-certificate and -tls-key: %w", err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		tlsModes[o.tlsMode](cfg)
		ln, scheme = tls.NewListener(ln, cfg), "https://"
	}
	if o.unixSock != "" {
		return ln, url, listenAddr, nil
	}
	return ln, scheme + url, listenAddr, nil
}

// clientHostPort returns the host and port a client on this machine
// connects to for a TCP listener opened on host at addr: localhost for a
// wildcard host, else the configured host (a name stays a name), with the
// port addr took.
func clientHostPort(host string, addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	port := strconv.Itoa(tcp.Port)
	if host == "" || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", port)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("localhost", port)
	}
	return net.JoinHostPort(host, port)
}

// newServer returns the HTTP server for handler. With -enable-h2c it also
// speaks HTTP/2 without TLS; with TLS, HTTP/2 is negotiated.
func newServer(o options, handler http.Handler, logger *slog.Logger, connState func(net.Conn, http.ConnState)) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ConnState:         connState,
	}
	if o.h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	}
	return srv
}

// inflight counts the requests being served, so that shutdown can wait for
// the ones whose connections it had to cut: they still store what they
// read.
type inflight struct {
	wg      sync.WaitGroup
	running atomic.Int64  // requests being served
	started atomic.Uint64 // requests ever started
}

func (f *inflight) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.wg.Add(1)
		f.running.Add(1)
		f.started.Add(1)
		defer func() {
			f.running.Add(-1)
			f.wg.Done()
		}()
		next.ServeHTTP(w, r)
	})
}

// wait waits for every request until ctx ends; it reports whether all
// ended.
func (f *inflight) wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false // the goroutine ends with the last request, or with the process
	}
}

// shutdown stops srv within the deadline of ctx: it stops accepting, stops
// the uploads in flight at once (h.Shutdown: their bodies are interrupted,
// what they read is stored, and they are answered 503 ERR_SERVER_SHUTDOWN)
// and lets the other requests finish; shortly before the deadline it cuts
// the connections of those still running, whose handlers then store what
// they read, and waits for them until the deadline. It returns as soon as
// every request has been answered.
func shutdown(ctx context.Context, srv *http.Server, h *tus.Handler, reqs *inflight, logger *slog.Logger) error {
	deadline, _ := ctx.Deadline()
	// Keep a quarter of the time, at most 5 s, for storing after the cut.
	reserve := min(time.Until(deadline)/4, 5*time.Second)
	graceCtx, cancel := context.WithDeadline(ctx, deadline.Add(-reserve))
	defer cancel()
	uploads := make(chan error, 1)
	go func() { uploads <- h.Shutdown(graceCtx) }()
	err := srv.Shutdown(graceCtx)
	if uerr := <-uploads; uerr != nil {
		logger.Warn("shutdown: uploads still running at the grace deadline", "error", uerr)
	}
	if err == nil {
		return nil
	}
	logger.Warn("shutdown: cutting the connections of requests still running; they store what they read")
	err = srv.Close()
	if !reqs.wait(ctx) {
		return errors.Join(err, errors.New("shutdown: requests still storing at the deadline"))
	}
	return err
}
