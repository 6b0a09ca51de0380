package tus_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

func corsEnv(t *testing.T, cors *tus.CorsConfig) *mockEnv {
	return newMockEnv(t, withAll, withConfig(func(c *tus.Config) { c.Cors = cors }))
}

func preflight(path, origin, method string) *http.Request {
	r := newReq(http.MethodOptions, path, nil, hdr{
		"Tus-Resumable":                  "",
		"Origin":                         origin,
		"Access-Control-Request-Method":  method,
		"Access-Control-Request-Headers": "tus-resumable, upload-length, upload-metadata",
	})
	return r
}

func TestCorsPreflight(t *testing.T) {
	def := tus.DefaultCorsConfig()
	restricted := tus.DefaultCorsConfig()
	restricted.AllowOrigin = regexp.MustCompile(`^https://app\.example\.com$`)
	restricted.AllowCredentials = true
	restricted.MaxAge = 90 * time.Second

	tests := []struct {
		name        string
		cors        *tus.CorsConfig
		origin      string
		allowed     bool
		credentials bool
		maxAge      string
	}{
		{"default config, any origin", nil, "https://anything.test", true, false, "86400"},
		{"explicit default", def, "http://localhost:3000", true, false, "86400"},
		{"restricted, allowed origin", restricted, "https://app.example.com", true, true, "90"},
		{"restricted, other origin", restricted, "https://evil.example.com", false, false, ""},
		{"restricted, suffix attack", restricted, "https://app.example.com.evil.test", false, false, ""},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/up1"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				e := corsEnv(t, tt.cors) // preflights never reach the store
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, preflight(path, tt.origin, "PATCH"))
				eq(t, "status", w.Code, http.StatusNoContent)
				eq(t, "body", w.Body.String(), "")
				h := w.Header()
				contains(t, "Vary", strings.Join(h.Values("Vary"), ","), "Origin")
				// A preflight is not a tus request: no tus discovery headers.
				absent(t, h, "Tus-Extension", "Tus-Max-Size")
				if !tt.allowed {
					absent(t, h, "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
						"Access-Control-Allow-Headers", "Access-Control-Allow-Credentials")
					return
				}
				headers(t, h, map[string]string{
					"Access-Control-Allow-Origin":  tt.origin,
					"Access-Control-Allow-Methods": "POST, HEAD, PATCH, OPTIONS, GET, DELETE",
					"Access-Control-Max-Age":       tt.maxAge,
				})
				allowHeaders := h.Get("Access-Control-Allow-Headers")
				for _, want := range []string{"Tus-Resumable", "Upload-Length", "Upload-Offset",
					"Upload-Metadata", "Upload-Defer-Length", "Upload-Concat", "Upload-Checksum",
					"X-HTTP-Method-Override", "Content-Type"} {
					contains(t, "Access-Control-Allow-Headers", allowHeaders, want)
				}
				if tt.credentials {
					eq(t, "Access-Control-Allow-Credentials", h.Get("Access-Control-Allow-Credentials"), "true")
				} else {
					absent(t, h, "Access-Control-Allow-Credentials")
				}
				absent(t, h, "Access-Control-Expose-Headers")
			})
		}
	}
}

func TestCorsActualRequest(t *testing.T) {
	restricted := tus.DefaultCorsConfig()
	restricted.AllowOrigin = regexp.MustCompile(`^https://app\.example\.com$`)

	t.Run("allowed origin gets expose headers", func(t *testing.T) {
		e := corsEnv(t, restricted)
		e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 3})
		w := e.serve(newReq(http.MethodHead, "/up1", nil, hdr{"Origin": "https://app.example.com"}))
		eq(t, "status", w.Code, http.StatusOK)
		eq(t, "Access-Control-Allow-Origin", w.Header().Get("Access-Control-Allow-Origin"), "https://app.example.com")
		expose := w.Header().Get("Access-Control-Expose-Headers")
		for _, want := range []string{"Upload-Offset", "Location", "Upload-Length", "Tus-Resumable",
			"Upload-Expires", "Upload-Metadata", "Upload-Concat", "Tus-Version", "Tus-Extension"} {
			contains(t, "Access-Control-Expose-Headers", expose, want)
		}
		absent(t, w.Header(), "Access-Control-Allow-Methods")
	})
	t.Run("disallowed origin is served without CORS headers", func(t *testing.T) {
		e := corsEnv(t, restricted)
		e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 3})
		w := e.serve(newReq(http.MethodHead, "/up1", nil, hdr{"Origin": "https://evil.example.com"}))
		eq(t, "status", w.Code, http.StatusOK)
		absent(t, w.Header(), "Access-Control-Allow-Origin", "Access-Control-Expose-Headers")
	})
	t.Run("no Origin means no CORS headers", func(t *testing.T) {
		e := corsEnv(t, nil)
		e.upload(tus.FileInfo{ID: "up1", Size: 10, Offset: 3})
		w := e.serve(newReq(http.MethodHead, "/up1", nil, nil))
		absent(t, w.Header(), "Access-Control-Allow-Origin", "Vary")
	})
	t.Run("plain OPTIONS with Origin is tus discovery", func(t *testing.T) {
		e := corsEnv(t, nil)
		w := e.serve(newReq(http.MethodOptions, "/", nil, hdr{"Origin": "https://x.test", "Tus-Resumable": ""}))
		eq(t, "status", w.Code, http.StatusNoContent)
		eq(t, "Access-Control-Allow-Origin", w.Header().Get("Access-Control-Allow-Origin"), "https://x.test")
		contains(t, "Tus-Extension", w.Header().Get("Tus-Extension"), "creation")
	})
	t.Run("disabled CORS: preflight is plain OPTIONS", func(t *testing.T) {
		e := corsEnv(t, &tus.CorsConfig{Disable: true})
		w := e.serve(preflight("/", "https://app.example.com", "POST"))
		eq(t, "status", w.Code, http.StatusNoContent)
		absent(t, w.Header(), "Access-Control-Allow-Origin", "Access-Control-Allow-Methods")
		eq(t, "Tus-Version", w.Header().Get("Tus-Version"), tusVersion)
	})
}

// TestCorsAllowsIETFHeaders checks that a browser may send every request
// header an IETF draft client uses, Content-Disposition (the file name of a
// creation) included.
func TestCorsAllowsIETFHeaders(t *testing.T) {
	allow := strings.Split(tus.DefaultCorsConfig().AllowHeaders, ", ")
	for _, want := range []string{"Upload-Complete", "Upload-Incomplete", "Upload-Draft-Interop-Version",
		"Upload-Offset", "Upload-Length", "Content-Type", "Content-Disposition"} {
		found := false
		for _, a := range allow {
			found = found || strings.EqualFold(a, want)
		}
		if !found {
			t.Errorf("default AllowHeaders %q lacks %s", tus.DefaultCorsConfig().AllowHeaders, want)
		}
	}
}
