package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// client uploads to one server over keep-alive connections. For a tus
// server it speaks tus 1.0.0 and checks Upload-Offset in every answer; for
// the baseline it sends the same requests without tus headers.
type client struct {
	hc   *http.Client
	tr   *http.Transport
	base string
	tus  bool
	gen  *benchkit.Generator
}

// newClient returns a client for the collection URL base that keeps up to
// conns idle connections.
func newClient(base string, tus bool, conns int, gen *benchkit.Generator) *client {
	tr := benchkit.NewTransport(conns, 10*time.Minute)
	return &client{hc: &http.Client{Transport: tr}, tr: tr, base: base, tus: tus, gen: gen}
}

// close drops the idle connections.
func (c *client) close() { c.tr.CloseIdleConnections() }

// create makes an upload of length bytes and returns its URL. With n > 0 it
// sends the first n bytes along (tus creation-with-upload).
func (c *client) create(ctx context.Context, length, n int64) (string, error) {
	var body io.Reader = http.NoBody
	if n > 0 {
		body = c.gen.Reader(0, n)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = n
	if n > 0 {
		req.Header.Set("Content-Type", benchkit.OffsetOctetStream)
	}
	if c.tus {
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusCreated {
		return "", statusError(res, http.StatusCreated)
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("POST %s: 201 without Location", c.base)
	}
	u, err := res.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("POST %s: bad Location %q: %w", c.base, loc, err)
	}
	// tusd v2 sends no Upload-Offset when the POST carried no bytes.
	if c.tus && (n > 0 || res.Header.Get("Upload-Offset") != "") {
		if err := checkOffset(res, n); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}

// patch appends n bytes of the pattern at offset to the upload at url.
func (c *client) patch(ctx context.Context, url string, offset, n int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, url, c.gen.Reader(offset, n))
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", benchkit.OffsetOctetStream)
	if c.tus {
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusNoContent {
		return statusError(res, http.StatusNoContent)
	}
	if c.tus {
		return checkOffset(res, offset+n)
	}
	return nil
}

// head asks for the offset of the upload at url and checks that it is
// want.
func (c *client) head(ctx context.Context, url string, want int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return err
	}
	if c.tus {
		req.Header.Set("Tus-Resumable", "1.0.0")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
		return statusError(res, http.StatusOK)
	}
	return checkOffset(res, want)
}

// checkOffset checks the Upload-Offset of a tus answer.
func checkOffset(res *http.Response, want int64) error {
	if got := res.Header.Get("Upload-Offset"); got != strconv.FormatInt(want, 10) {
		return fmt.Errorf("%s %s: Upload-Offset %q, want %d", res.Request.Method, res.Request.URL, got, want)
	}
	return nil
}

// statusError describes an unexpected status, with the start of the body.
func statusError(res *http.Response, want int) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	return fmt.Errorf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL, res.StatusCode, want, strings.TrimSpace(string(b)))
}
