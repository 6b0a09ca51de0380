package tus

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/tusgo/tus/internal/requestid"
)

// prepare does for r what every request needs before it is routed: a
// request ID, CORS (preflights are answered here), the choice of protocol
// and its version check (412 on a tus version we do not speak, 400 on an
// unknown IETF interop version), the refusal of conflicting singleton
// headers (checkSingletons), X-HTTP-Method-Override (methodOverride) and
// OPTIONS discovery. It returns false if it answered r itself.
func (h *Handler) prepare(w http.ResponseWriter, r *http.Request) (*request, bool) {
	hdr := w.Header()
	rid := requestid.Of(r)
	hdr.Set(requestid.Header, rid)
	q := h.newRequest(w, r, rid)
	// CORS sees the method the client sent: an override can never make a
	// request a preflight.
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
	} else {
		hdr.Set("Tus-Resumable", TusVersion)
	}
	if err := checkSingletons(r); err != nil {
		h.fail(q, err)
		return nil, false
	}
	if err := methodOverride(r); err != nil {
		h.fail(q, err)
		return nil, false
	}
	if q.ietf != 0 {
		if r.Method == http.MethodOptions {
			h.ietfOptions(q)
			return nil, false
		}
		return q, true
	}
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

// singletonHeaders are the request headers that carry one value. A request
// that repeats one with different values is ambiguous (a server that took
// the first and a proxy that took the last would disagree about the
// upload), so it is refused; an identical repeat, which some proxies and
// clients produce and which means the same, is accepted. The names are in
// canonical form, so looking them up allocates nothing.
var singletonHeaders = [...]string{
	"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Defer-Length",
	"Upload-Concat", "Upload-Metadata", "Upload-Checksum",
	"Upload-Complete", "Upload-Incomplete", "Upload-Draft-Interop-Version",
	"X-Http-Method-Override",
}

// errConflictingHeader answers a request that repeats a singleton header
// with different values, or overrides its method where that is not
// honoured.
var errConflictingHeader = NewError(http.StatusBadRequest, "ERR_INVALID_HEADER", "invalid header")

// checkSingletons refuses a request that repeats a singleton header
// (singletonHeaders; Content-Type on POST and PATCH, where it says what the
// body is) with different values.
func checkSingletons(r *http.Request) error {
	for _, name := range singletonHeaders {
		if conflicting(r.Header[name]) {
			return errConflictingHeader.WithMessage("conflicting " + name + " headers: the request repeats it with different values")
		}
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPatch) && conflicting(r.Header["Content-Type"]) {
		return errConflictingHeader.WithMessage("conflicting Content-Type headers: the request repeats it with different values")
	}
	return nil
}

// conflicting reports whether vs holds two different values.
func conflicting(vs []string) bool {
	for i := 1; i < len(vs); i++ {
		if vs[i] != vs[0] {
			return true
		}
	}
	return false
}

// methodOverride applies X-HTTP-Method-Override, which exists for clients
// that cannot send PATCH or DELETE (tus 1.0, "X-HTTP-Method-Override"): it
// is honoured on a POST request, to PATCH or DELETE (in any case, with
// surrounding spaces), and a value that names the request's own method
// changes nothing. Anything else is refused with 400: every client can
// send GET, HEAD and OPTIONS itself, and a response framed for a HEAD
// (headers announcing a body that is not sent) breaks the connection of a
// client that sent a GET or a POST.
func methodOverride(r *http.Request) error {
	vs, ok := r.Header["X-Http-Method-Override"]
	if !ok {
		return nil
	}
	m := ""
	if len(vs) > 0 {
		m = strings.TrimSpace(vs[0])
	}
	switch {
	case strings.EqualFold(m, r.Method):
		return nil
	case r.Method == http.MethodPost && strings.EqualFold(m, http.MethodPatch):
		r.Method = http.MethodPatch
	case r.Method == http.MethodPost && strings.EqualFold(m, http.MethodDelete):
		r.Method = http.MethodDelete
	default:
		return errConflictingHeader.WithMessage("X-HTTP-Method-Override " + strconv.Quote(truncate(m, 20)) +
			" is not honoured on a " + r.Method + " request: only a POST may be overridden, to PATCH or DELETE")
	}
	return nil
}

// Middleware wraps next with what every request needs before the method
// handlers (see prepare): a request ID, CORS, X-HTTP-Method-Override, the
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
