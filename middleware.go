package tus

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// Middleware wraps next with what every tus request needs: a request ID,
// X-HTTP-Method-Override, CORS (preflights are answered here), the
// Tus-Resumable check (412 on a version we do not speak) and OPTIONS
// discovery. A request that carries Upload-Draft-Interop-Version instead of
// Tus-Resumable is marked for the IETF resumable upload protocol (unless
// Config.DisableIETFDrafts), which the method handlers then speak. Use it
// around the method handlers when routing by hand.
func (h *Handler) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Request-ID", requestID(r))
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = strings.ToUpper(strings.TrimSpace(m))
		}
		if h.applyCors(w, r) {
			return // preflight answered
		}
		if h.isIETF(r) {
			h.ietfMiddleware(w, r, next)
			return
		}
		hdr.Set("Tus-Resumable", TusVersion)
		if r.Method == http.MethodOptions {
			h.Options(w, r)
			return
		}
		// Downloads are plain HTTP and need no protocol version.
		if r.Method != http.MethodGet {
			if v := r.Header.Get("Tus-Resumable"); v != TusVersion {
				hdr.Set("Tus-Version", TusVersion)
				msg := ErrUnsupportedVersion
				if v == "" {
					msg = ErrUnsupportedVersion.WithMessage("missing Tus-Resumable header: this server speaks tus 1.0.0")
				}
				h.sendError(w, r, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Options answers an OPTIONS request with the server's capabilities. Unless
// Config.DisableIETFDrafts, it also says Accept-Patch:
// application/partial-upload, by which IETF draft clients that send no
// interop version discover resumable uploads.
func (h *Handler) Options(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if !h.cfg.DisableIETFDrafts {
		hdr.Set("Accept-Patch", PartialUploadType)
	}
	hdr.Set("Tus-Version", TusVersion)
	hdr.Set("Tus-Extension", h.extensions)
	hdr.Set("Tus-Checksum-Algorithm", checksumAlgorithms)
	if h.cfg.MaxSize > 0 {
		hdr.Set("Tus-Max-Size", formatInt(h.cfg.MaxSize))
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestID returns the client's X-Request-ID when it is short and plain,
// else a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 64 && isToken(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// isToken reports whether s holds only letters, digits and "-_.".
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
