package tus

import (
	"net/http"
	"strings"
)

// uploadURL returns the absolute URL of upload id as seen by the client of r.
func (h *Handler) uploadURL(r *http.Request, id string) string {
	if h.baseOrigin != "" {
		return h.baseOrigin + h.basePath + id
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if h.cfg.RespectForwardedHeaders {
		scheme, host = forwardedOrigin(r, scheme, host)
	}
	return scheme + "://" + host + h.basePath + id
}

// forwardedOrigin reads the scheme and host from Forwarded (RFC 7239, first
// element) or else from X-Forwarded-Proto and X-Forwarded-Host. Values that
// are not plain are ignored.
func forwardedOrigin(r *http.Request, scheme, host string) (string, string) {
	if fwd := r.Header.Get("Forwarded"); fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		for pair := range strings.SplitSeq(first, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "proto":
				if p := strings.ToLower(v); p == "http" || p == "https" {
					scheme = p
				}
			case "host":
				if validHost(v) {
					host = v
				}
			}
		}
		return scheme, host
	}
	if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	if v := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(v) {
		host = v
	}
	return scheme, host
}

// firstValue returns the first element of a comma-separated header.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost reports whether v looks like host[:port] and nothing more.
func validHost(v string) bool {
	if v == "" || len(v) > 255 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
