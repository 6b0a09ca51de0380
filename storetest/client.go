package storetest

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/tusgo/tus/internal/testhttp"
)

// client speaks tus to a test server and fails the test on transport errors.
type client struct {
	t    testing.TB
	base string // collection URL, ending in "/"
	http *http.Client
}

// do sends a request with the Tus-Resumable header and the given headers
// (pairs of name and value) and returns the response with its body read.
func (c *client) do(method, url string, body []byte, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	return testhttp.Do(c.t, c.http, method, url, body, append([]string{"Tus-Resumable", "1.0.0"}, headers...)...)
}

// create makes an upload of the given length and returns its URL.
func (c *client) create(length int64, headers ...string) string {
	c.t.Helper()
	h := append([]string{"Upload-Length", strconv.FormatInt(length, 10)}, headers...)
	res, body := c.do(http.MethodPost, c.base, nil, h...)
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST: status %d, body %q", res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		c.t.Fatal("POST: no Location")
	}
	return loc
}

// patch sends data at offset and returns the response.
func (c *client) patch(url string, offset int64, data []byte, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	h := append([]string{"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.FormatInt(offset, 10)}, headers...)
	return c.do(http.MethodPatch, url, data, h...)
}

// mustPatch sends data at offset and fails unless the new offset is right.
func (c *client) mustPatch(url string, offset int64, data []byte, headers ...string) {
	c.t.Helper()
	res, body := c.patch(url, offset, data, headers...)
	if res.StatusCode != http.StatusNoContent {
		c.t.Fatalf("PATCH at %d: status %d, body %q", offset, res.StatusCode, body)
	}
	want := strconv.FormatInt(offset+int64(len(data)), 10)
	if got := res.Header.Get("Upload-Offset"); got != want {
		c.t.Fatalf("PATCH at %d: Upload-Offset %q, want %s", offset, got, want)
	}
}

// offset asks for the upload's offset with HEAD.
func (c *client) offset(url string) int64 {
	c.t.Helper()
	res, body := c.do(http.MethodHead, url, nil)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("HEAD: status %d, body %q", res.StatusCode, body)
	}
	n, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		c.t.Fatalf("HEAD: Upload-Offset %q: %v", res.Header.Get("Upload-Offset"), err)
	}
	return n
}

// download fetches the upload's bytes with GET.
func (c *client) download(url string, headers ...string) []byte {
	c.t.Helper()
	res, body := c.do(http.MethodGet, url, nil, headers...)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET: status %d, body %q", res.StatusCode, body)
	}
	return body
}
