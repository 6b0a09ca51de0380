package tus

import (
	"net/http"
	"strconv"
)

// applyCors sets the CORS headers of r's response. It answers a preflight
// request itself and then returns true.
func (h *Handler) applyCors(w http.ResponseWriter, r *http.Request) bool {
	c := h.cfg.Cors
	origin := r.Header.Get("Origin")
	if c.Disable || origin == "" {
		return false
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if c.AllowOrigin != nil && !c.AllowOrigin.MatchString(origin) {
		if preflight {
			// Without CORS headers the browser refuses the real request.
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		return false
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	if c.AllowCredentials {
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	if preflight {
		hdr.Add("Vary", "Access-Control-Request-Method")
		hdr.Add("Vary", "Access-Control-Request-Headers")
		hdr.Set("Access-Control-Allow-Methods", c.AllowMethods)
		hdr.Set("Access-Control-Allow-Headers", c.AllowHeaders)
		if c.MaxAge > 0 {
			hdr.Set("Access-Control-Max-Age", strconv.FormatInt(int64(c.MaxAge.Seconds()), 10))
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	hdr.Set("Access-Control-Expose-Headers", c.ExposeHeaders)
	return false
}
