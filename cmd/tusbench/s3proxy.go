package main

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// countingProxy is a reverse proxy in front of an S3 server that counts the
// requests going through it by bucket and operation. Every side of the S3
// workloads talks to S3 through it, so their calls are counted alike.
// Signatures stay valid: the Host header is passed on as the client sent
// it.
type countingProxy struct {
	srv *http.Server
	ln  net.Listener
	url string

	mu     sync.Mutex
	counts map[string]map[string]int64 // bucket → operation → requests
	done   chan error
}

// startProxy starts a counting proxy to target on 127.0.0.1.
func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, url: "http://" + ln.Addr().String(), counts: map[string]map[string]int64{}, done: make(chan error, 1)}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	rp.FlushInterval = -1
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.count(r)
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// count records r.
func (p *countingProxy) count(r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	op := s3Operation(r.Method, key != "", r.URL.Query())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts[bucket] == nil {
		p.counts[bucket] = map[string]int64{}
	}
	p.counts[bucket][op]++
}

// snapshot returns the counts of bucket so far.
func (p *countingProxy) snapshot(bucket string) map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts[bucket])
}

// close stops the proxy.
func (p *countingProxy) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// s3Operation names the S3 operation of a path-style request from its
// method, whether it names an object, and its query.
func s3Operation(method string, object bool, q url.Values) string {
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch {
	case !object && method == http.MethodGet && has("uploads"):
		return "ListMultipartUploads"
	case !object && method == http.MethodGet:
		return "ListObjects"
	case !object && method == http.MethodPost && has("delete"):
		return "DeleteObjects"
	case !object:
		return method + " bucket"
	case method == http.MethodPost && has("uploads"):
		return "CreateMultipartUpload"
	case method == http.MethodPost && has("uploadId"):
		return "CompleteMultipartUpload"
	case method == http.MethodPut && has("partNumber") && has("uploadId"):
		return "UploadPart"
	case method == http.MethodPut:
		return "PutObject"
	case method == http.MethodGet && has("uploadId"):
		return "ListParts"
	case method == http.MethodGet:
		return "GetObject"
	case method == http.MethodHead:
		return "HeadObject"
	case method == http.MethodDelete && has("uploadId"):
		return "AbortMultipartUpload"
	case method == http.MethodDelete:
		return "DeleteObject"
	}
	return method + " object"
}
