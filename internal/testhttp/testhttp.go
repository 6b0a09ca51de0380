// Package testhttp holds the HTTP request helper that the tests of stores,
// the conformance suite (storetest) and tusd share.
package testhttp

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Do sends a request through hc with the given headers (pairs of name and
// value, later ones replacing earlier ones) and returns the response with
// its body read. Any error fails t.
func Do(t testing.TB, hc *http.Client, method, url string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return res, b
}
