package benchkit

import (
	"io"
	"net"
	"net/http"
	"path"
	"time"
)

// OffsetOctetStream is the Content-Type of tus PATCH bodies.
const OffsetOctetStream = "application/offset+octet-stream"

// NewTransport returns the HTTP transport of a benchmark client: no proxy,
// keep-alive connections (up to conns idle ones), no compression, and
// answers expected within headerTimeout.
func NewTransport(conns int, headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: headerTimeout,
	}
}

// Drain reads (up to 64 KiB of) and closes a response body so the
// connection is reused.
func Drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	_ = res.Body.Close()
}

// UploadID returns the last path segment of an upload URL: the tus upload
// ID, or the name a plain upload server gave the file.
func UploadID(url string) string { return path.Base(url) }
