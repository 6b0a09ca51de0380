package tus_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      []envOpt
		extension string
		maxSize   string // "" means absent
	}{
		{
			name:      "core only",
			extension: "creation,creation-with-upload,checksum,checksum-trailer",
		},
		{
			name:      "every part, expiration and max size",
			opts:      []envOpt{withAll, withConfig(func(c *tus.Config) { c.Expiration = time.Hour; c.MaxSize = 1 << 30 })},
			extension: "creation,creation-with-upload,creation-defer-length,termination,concatenation,concatenation-unfinished,checksum,checksum-trailer,expiration",
			maxSize:   "1073741824",
		},
		{
			name: "termination and concatenation disabled",
			opts: []envOpt{withAll, withConfig(func(c *tus.Config) {
				c.DisableTermination = true
				c.DisableConcatenation = true
			})},
			extension: "creation,creation-with-upload,creation-defer-length,checksum,checksum-trailer",
		},
		{
			name:      "terminater only",
			opts:      []envOpt{withTerminater},
			extension: "creation,creation-with-upload,termination,checksum,checksum-trailer",
		},
		{
			name:      "concater and deferrer",
			opts:      []envOpt{withConcater, withDeferrer, withConfig(func(c *tus.Config) { c.MaxSize = 7 })},
			extension: "creation,creation-with-upload,creation-defer-length,concatenation,concatenation-unfinished,checksum,checksum-trailer",
			maxSize:   "7",
		},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/some-upload", "/..%2Finvalid"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				e := newMockEnv(t, tt.opts...) // OPTIONS never touches the store
				r := newReq(http.MethodOptions, path, nil, hdr{"Tus-Resumable": ""})
				w := e.serve(r)
				eq(t, "status", w.Code, http.StatusNoContent)
				eq(t, "body", w.Body.String(), "")
				headers(t, w.Header(), map[string]string{
					"Tus-Version":            "1.0.0",
					"Tus-Extension":          tt.extension,
					"Tus-Checksum-Algorithm": "md5,sha1,sha256,sha512,crc32",
				})
				if tt.maxSize == "" {
					absent(t, w.Header(), "Tus-Max-Size")
				} else {
					eq(t, "Tus-Max-Size", w.Header().Get("Tus-Max-Size"), tt.maxSize)
				}
			})
		}
	}
}

// A request with an unsupported Tus-Resumable still gets OPTIONS answered:
// that is how a client discovers the versions.
func TestOptionsIgnoresTusResumable(t *testing.T) {
	e := newMockEnv(t)
	w := e.serve(newReq(http.MethodOptions, "/", nil, hdr{"Tus-Resumable": "0.1.0"}))
	eq(t, "status", w.Code, http.StatusNoContent)
	eq(t, "Tus-Version", w.Header().Get("Tus-Version"), "1.0.0")
}
