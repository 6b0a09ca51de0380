package demo_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tusgo/tus/cmd/tusd/internal/demo"
)

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestHandlerRoutes(t *testing.T) {
	h := demo.Handler("/files/")
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string // prefix of Content-Type
		body         string // part of the body
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `data-upload-path="/files/"`},
		{"GET", "/demo/app.js", 200, "text/javascript", "Tus-Resumable"},
		{"GET", "/demo/style.css", 200, "text/css", "progress"},
		{"GET", "/demo/icon.svg", 200, "image/svg+xml", "<svg"},
		{"HEAD", "/", 200, "text/html", ""},
		{"HEAD", "/demo/app.js", 200, "text/javascript", ""},
		{"GET", "/index.html", 404, "text/plain", "not found"},
		{"GET", "/demo/", 404, "text/plain", "not found"},
		{"GET", "/demo/page.html", 404, "text/plain", "not found"},
		{"GET", "/demo/missing.js", 404, "text/plain", "not found"},
		{"GET", "/favicon.ico", 404, "text/plain", "not found"},
		{"POST", "/nowhere", 404, "text/plain", "not found"},
		{"POST", "/", 405, "text/plain", "Method Not Allowed"},
		{"DELETE", "/demo/app.js", 405, "text/plain", "Method Not Allowed"},
		{"OPTIONS", "/", 405, "text/plain", "Method Not Allowed"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := serve(h, tc.method, tc.path)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			hdr := w.Header()
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %q…", ct, tc.ctype)
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("body lacks %q:\n%.300s", tc.body, w.Body.String())
			}
			if tc.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD answered with a %d-byte body", w.Body.Len())
			}
			if tc.method == "HEAD" && hdr.Get("Content-Length") == "0" {
				t.Errorf("HEAD says Content-Length 0")
			}
			if allow := hdr.Get("Allow"); (tc.status == 405) != (allow == "GET, HEAD") {
				t.Errorf("Allow %q with status %d", allow, tc.status)
			}
			if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			csp := hdr.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
			}
		})
	}
}

// The page has no inline script or style, which the policy would block.
func TestPageHasNoInlineCode(t *testing.T) {
	body := serve(demo.Handler("/files/"), "GET", "/").Body.String()
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(body, `<script src="demo/app.js" defer></script>`) {
		t.Errorf("page does not load its script:\n%s", body)
	}
}

func TestUploadPathEscaped(t *testing.T) {
	for path, want := range map[string]string{
		"/files/":                   `data-upload-path="/files/"`,
		"/up/loads/":                `data-upload-path="/up/loads/"`,
		`/a"><script>alert(1)</x>/`: `data-upload-path="/a&#34;&gt;&lt;script&gt;alert(1)&lt;/x&gt;/"`,
		"/a&b'c/":                   `data-upload-path="/a&amp;b&#39;c/"`,
	} {
		body := serve(demo.Handler(path), "GET", "/").Body.String()
		if !strings.Contains(body, want) {
			t.Errorf("Handler(%q): page lacks %s", path, want)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("Handler(%q): the path broke out of its attribute", path)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	h := demo.Handler("/files/")
	first := serve(h, "GET", "/demo/app.js")
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header().Get("Cache-Control"))
	}
	r := httptest.NewRequest("GET", "/demo/app.js", nil)
	r.Header.Set("If-None-Match", etag)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: status %d, want 304", w.Code)
	}
}
