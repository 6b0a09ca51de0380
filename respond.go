package tus

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// sendError answers r with err. A callback's rejection is answered with
// its response (sendCallbackError); a protocol *Error is sent as it is;
// anything else is logged with the request ID and answered with a bare
// 500, so no internals reach the client.
func (h *Handler) sendError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *callbackError
	if errors.As(err, &ce) {
		h.sendCallbackError(w, r, ce.resp, ce.err)
		return
	}
	e := asError(err)
	rid := w.Header().Get("X-Request-ID")
	switch {
	case e == nil:
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			h.log.LogAttrs(r.Context(), slog.LevelDebug, "request canceled by client",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", r.URL.Path))
		} else {
			h.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
				slog.String("request_id", rid), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		}
		e = ErrInternal.WithMessage(ErrInternal.Message + " (request ID " + rid + ")")
	case e.Status >= 500:
		h.log.LogAttrs(r.Context(), slog.LevelError, "server error",
			slog.String("request_id", rid), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	default:
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused",
			slog.String("request_id", rid), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	h.observeError(r, e.Status, e.Code)
	writeText(w, r, e.Status, e.Error())
}

// observeError tells Config.ErrorObserver of an error response.
func (h *Handler) observeError(r *http.Request, status int, code string) {
	if h.cfg.ErrorObserver != nil {
		h.cfg.ErrorObserver(r, status, code)
	}
}

// codeCallbackRejected is the code reported to Config.ErrorObserver for a
// callback's response that carries no protocol error.
const codeCallbackRejected = "ERR_CALLBACK_REJECTED"

// writeText sends a one-line plain-text response.
func writeText(w http.ResponseWriter, r *http.Request, status int, msg string) {
	hdr := w.Header()
	body := msg + "\n"
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// sendCallbackError answers a request refused by a callback: with the
// callback's response if it set a status, else like sendError; the
// callback's headers are sent either way.
func (h *Handler) sendCallbackError(w http.ResponseWriter, r *http.Request, resp HTTPResponse, err error) {
	setCallbackHeaders(w, resp.Header)
	if resp.StatusCode == 0 {
		h.sendError(w, r, err)
		return
	}
	body, code := resp.Body, codeCallbackRejected
	e := asError(err)
	if e != nil {
		code = e.Code
	}
	if body == "" {
		body = http.StatusText(resp.StatusCode) + "\n"
		if e != nil {
			body = e.Error() + "\n"
		}
	}
	h.observeError(r, resp.StatusCode, code)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// applyResponse merges a callback's response into a successful one and
// returns the status to send.
func applyResponse(w http.ResponseWriter, resp HTTPResponse, status int) (int, string) {
	setCallbackHeaders(w, resp.Header)
	if resp.StatusCode != 0 {
		status = resp.StatusCode
	}
	return status, resp.Body
}

// setCallbackHeaders adds a callback's headers to the response, but for
// those that frame the message, which the handler sets itself.
func setCallbackHeaders(w http.ResponseWriter, hdr map[string]string) {
	for k, v := range hdr {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Trailer", "Upgrade", "Keep-Alive":
			continue
		}
		w.Header().Set(k, v)
	}
}

// finishResponse writes a success status and an optional body.
func finishResponse(w http.ResponseWriter, r *http.Request, status int, body string) {
	if body != "" {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	w.WriteHeader(status)
	if body != "" && r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
