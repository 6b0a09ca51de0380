package tus

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// fail answers q with err in q's protocol, without the upload's state.
func (h *Handler) fail(q *request, err error) {
	if q.ietf != 0 {
		h.ietfError(q, err, nil, 0)
		return
	}
	h.sendError(q, err)
}

// sendError answers q with err as plain text. A callback's rejection is
// answered with its response (sendCallbackError); a protocol *Error is sent
// as it is; anything else is logged with the request ID and answered with
// a bare 500, so no internals reach the client.
func (h *Handler) sendError(q *request, err error) {
	var ce *callbackError
	if errors.As(err, &ce) {
		h.sendCallbackError(q, ce.resp, ce.err)
		return
	}
	e := h.logError(q, err)
	if e == nil {
		e = ErrInternal.WithMessage(ErrInternal.Message + " (request ID " + q.rid + ")")
	}
	if ra := e.retryAfterHeader(); ra != "" {
		q.w.Header().Set("Retry-After", ra)
	}
	h.observeError(q, e.Status, e.Code)
	writeText(q, e.Status, e.Error())
}

// logError logs err as its kind deserves and returns the protocol error it
// is, or nil for an internal error: a refusal (and an upload stopped by a
// shutdown) at debug level, a server error at error level, a client that
// went away at debug level.
func (h *Handler) logError(q *request, err error) *Error {
	e := asError(err)
	ctx := q.ctx()
	switch {
	case e == nil && errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		q.log().LogAttrs(ctx, slog.LevelDebug, "request canceled by client")
	case e == nil:
		q.log().LogAttrs(ctx, slog.LevelError, "internal error", slog.String("error", err.Error()))
	case e.Status >= 500 && !errors.Is(e, ErrServerShutdown):
		q.log().LogAttrs(ctx, slog.LevelError, "server error", slog.String("error", err.Error()))
	default:
		q.log().LogAttrs(ctx, slog.LevelDebug, "request refused", slog.String("error", err.Error()))
	}
	return e
}

// observeError tells Config.ErrorObserver of an error response.
func (h *Handler) observeError(q *request, status int, code string) {
	if h.cfg.ErrorObserver != nil {
		h.cfg.ErrorObserver(q.r, status, code)
	}
}

// codeCallbackRejected is the code reported to Config.ErrorObserver for a
// callback's response that carries no protocol error.
const codeCallbackRejected = "ERR_CALLBACK_REJECTED"

// writeText sends a one-line plain-text response.
func writeText(q *request, status int, msg string) {
	hdr := q.w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	writeBody(q, status, msg+"\n")
}

// writeBody sends status with body (which may be empty), never a body for
// HEAD; the caller has set Content-Type.
func writeBody(q *request, status int, body string) {
	if body != "" {
		q.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	closeIfBodyLeft(q)
	q.w.WriteHeader(status)
	if body != "" && q.r.Method != http.MethodHead {
		_, _ = q.w.Write([]byte(body))
	}
}

// earlyAnswerGrace is how long the server still reads (and drops) what a
// client sends after an answer that came before the end of its body (see
// closeIfBodyLeft): time for the client to read the answer before the
// connection closes under it.
const earlyAnswerGrace = time.Second

// closeIfBodyLeft is called by every answer just before its status is
// written. An answer to an HTTP/1 request whose body was not read to its
// end (a refusal before the body was read, a body stopped on the way: past
// the upload's length, interrupted, too slow, shut down, a client that
// broke off) carries Connection: close, and the connection's read deadline
// is set earlyAnswerGrace ahead. Without that, net/http would read up to
// 256 KiB more of the body, at the client's pace, before sending the
// answer: a client that sends slowly would not learn for a long time (or
// ever) that its request was refused. With it, the answer is sent at once
// and the connection closes after it. HTTP/2 needs neither: a stream's
// answer does not wait for its body.
func closeIfBodyLeft(q *request) {
	r := q.r
	if r.ProtoMajor != 1 || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	var rc *http.ResponseController
	if b := q.body; b != nil {
		if b.consumed(r.ContentLength) {
			return
		}
		rc = b.rc
	} else {
		rc = http.NewResponseController(q.w)
	}
	q.w.Header().Set("Connection", "close")
	_ = rc.SetReadDeadline(time.Now().Add(earlyAnswerGrace))
}

// sendCallbackError answers a request refused by a callback: with the
// callback's response if it set a status, else like sendError; the
// callback's headers are sent either way.
func (h *Handler) sendCallbackError(q *request, resp HTTPResponse, err error) {
	setCallbackHeaders(q.w, resp.Header)
	if resp.StatusCode == 0 {
		h.sendError(q, err)
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
	h.observeError(q, resp.StatusCode, code)
	if q.w.Header().Get("Content-Type") == "" {
		q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	writeBody(q, resp.StatusCode, body) // body is never empty here
}

// applyResponse merges a callback's response into a successful one and
// returns the status and body to send.
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

// respond sends a success status merged with a callback's response.
func respond(q *request, status int, resp HTTPResponse) {
	status, body := applyResponse(q.w, resp, status)
	if body != "" && q.w.Header().Get("Content-Type") == "" {
		q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	writeBody(q, status, body)
}

// callbackError carries a callback's rejection and its response.
type callbackError struct {
	resp HTTPResponse
	err  error
}

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
