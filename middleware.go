package tus

import (
	"context"
	"net/http"
	"strings"

	"github.com/tusgo/tus/internal/requestid"
)

// prepare does for r what every request needs before it is routed: a
// request ID, X-HTTP-Method-Override, CORS (preflights are answered here),
// the choice of protocol, its version check (412 on a tus version we do not
// speak, 400 on an unknown IETF interop version) and OPTIONS discovery. It
// returns false if it answered r itself.
func (h *Handler) prepare(w http.ResponseWriter, r *http.Request) (*request, bool) {
	hdr := w.Header()
	rid := requestid.Of(r)
	hdr.Set(requestid.Header, rid)
	if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
		r.Method = strings.ToUpper(strings.TrimSpace(m))
	}
	q := h.newRequest(w, r, rid)
	if h.applyCors(w, r) {
		return nil, false // preflight answered
	}
	if h.isIETF(r) {
		v, ok := parseInteropVersion(r.Header.Get("Upload-Draft-Interop-Version"))
		if !ok {
			h.fail(q, errIETFVersion)
			return nil, false
		}
		q.ietf = v
		if r.Method == http.MethodOptions {
			h.ietfOptions(q)
			return nil, false
		}
		return q, true
	}
	hdr.Set("Tus-Resumable", TusVersion)
	if r.Method == http.MethodOptions {
		h.Options(w, r)
		return nil, false
	}
	// Downloads are plain HTTP and need no protocol version.
	if r.Method != http.MethodGet {
		if v := r.Header.Get("Tus-Resumable"); v != TusVersion {
			hdr.Set("Tus-Version", TusVersion)
			msg := ErrUnsupportedVersion
			if v == "" {
				msg = ErrUnsupportedVersion.WithMessage("missing Tus-Resumable header: this server speaks tus 1.0.0")
			}
			h.fail(q, msg)
			return nil, false
		}
	}
	return q, true
}

// Middleware wraps next with what every request needs before the method
// handlers (see prepare): a request ID, X-HTTP-Method-Override, CORS, the
// protocol's version check and OPTIONS discovery. A request that carries
// Upload-Draft-Interop-Version instead of Tus-Resumable is marked for the
// IETF resumable upload protocol (unless Config.DisableIETFDrafts), which
// the method handlers then speak. Use it around the method handlers when
// routing by hand; ServeHTTP does the same by itself.
func (h *Handler) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := h.prepare(w, r)
		if !ok {
			return
		}
		if q.ietf != 0 {
			r = r.WithContext(context.WithValue(r.Context(), ietfKey{}, q.ietf))
		}
		next.ServeHTTP(w, r)
	})
}

// ietfKey is the context key under which Middleware records the interop
// version of an IETF request for the method handlers.
type ietfKey struct{}

// ietfFrom returns the interop version Middleware found on r, if r is an
// IETF request.
func ietfFrom(r *http.Request) (ietfVersion, bool) {
	v, ok := r.Context().Value(ietfKey{}).(ietfVersion)
	return v, ok
}

// isIETF reports whether r speaks the IETF protocol: it names an interop
// version, does not speak tus, and the protocol is enabled.
func (h *Handler) isIETF(r *http.Request) bool {
	return !h.cfg.DisableIETFDrafts && r.Header.Get("Upload-Draft-Interop-Version") != "" &&
		r.Header.Get("Tus-Resumable") == ""
}

// requestIDOf returns the request ID Middleware gave the response, or the
// one to use if it did not run.
func requestIDOf(w http.ResponseWriter, r *http.Request) string {
	if id := w.Header().Get(requestid.Header); id != "" {
		return id
	}
	id := requestid.Of(r)
	w.Header().Set(requestid.Header, id)
	return id
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
