package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Defaults for HTTPBackend fields left zero.
const (
	// DefaultHTTPTimeout is the default HTTPBackend.Timeout.
	DefaultHTTPTimeout = 30 * time.Second
	// DefaultBackoff is the default HTTPBackend.Backoff.
	DefaultBackoff = time.Second
	// DefaultMaxResponseSize is the default HTTPBackend.MaxResponseSize,
	// in bytes.
	DefaultMaxResponseSize = 1 << 20
)

// HTTPBackend runs hooks by POSTing the Request as JSON (Content-Type:
// application/json) to URL; the hook's type is the Request's Type field.
// A 2xx response's body is the hook's Response (an empty body accepts).
//
// An attempt that fails in transport or is answered 5xx or 429 is retried
// Retry times, Backoff apart; any other non-2xx status, and the last failed
// attempt, fail the hook, as does a body longer than MaxResponseSize or one
// that is not valid JSON. Redirects are not followed (they fail the hook).
type HTTPBackend struct {
	// URL is the endpoint. Required.
	URL string
	// Client sends the requests; nil means a client like
	// http.DefaultClient that does not follow redirects. Its own Timeout,
	// if any, applies on top of Timeout.
	Client *http.Client
	// Timeout bounds one attempt, including reading the answer
	// (DefaultHTTPTimeout if zero).
	Timeout time.Duration
	// Retry is how many times a failed attempt is repeated (0: none).
	Retry int
	// Backoff is the wait between attempts (DefaultBackoff if zero).
	Backoff time.Duration
	// MaxResponseSize bounds the answer's body (DefaultMaxResponseSize if
	// zero).
	MaxResponseSize int64
	// ForwardHeaders names headers of the upload request copied onto the
	// hook request (for example Authorization), besides being in the
	// Request's HTTPRequest.Header as always.
	ForwardHeaders []string
}

// noRedirects is the CheckRedirect of the client used when
// HTTPBackend.Client is nil: a redirect is answered as it is, and fails
// the hook as a non-2xx status.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// retryableError marks a failed attempt worth repeating.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// Invoke POSTs req to the endpoint and decodes its answer, retrying as
// described on HTTPBackend. It returns when ctx ends, with ctx's error
// wrapped. It never returns ErrNoHook: every event goes to the endpoint.
// It is safe for concurrent use.
func (b *HTTPBackend) Invoke(ctx context.Context, req Request) (Response, error) {
	if b.URL == "" {
		return Response{}, errors.New("hooks: HTTPBackend.URL is not set")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encoding the hook request: %w", err)
	}
	backoff := b.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	for attempt := 0; ; attempt++ {
		resp, err := b.attempt(ctx, req, body)
		var re *retryableError
		if err == nil || !errors.As(err, &re) || attempt >= b.Retry || ctx.Err() != nil {
			if err != nil && attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return resp, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Response{}, fmt.Errorf("%w (after %d attempts, giving up: %w)", err, attempt+1, ctx.Err())
		}
	}
}

// attempt sends one request.
func (b *HTTPBackend) attempt(ctx context.Context, req Request, body []byte) (Response, error) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("hook request: %w", err)
	}
	for _, name := range b.ForwardHeaders {
		for _, v := range req.Event.HTTPRequest.Header.Values(name) {
			hr.Header.Add(name, v)
		}
	}
	hr.Header.Set("Content-Type", "application/json")
	client := b.Client
	if client == nil {
		// http.DefaultTransport, so connections are reused across calls.
		client = &http.Client{CheckRedirect: noRedirects}
	}
	res, err := client.Do(hr)
	if err != nil {
		return Response{}, &retryableError{err}
	}
	defer res.Body.Close()
	limit := b.MaxResponseSize
	if limit <= 0 {
		limit = DefaultMaxResponseSize
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return Response{}, &retryableError{fmt.Errorf("reading the hook response: %w", err)}
	}
	switch {
	case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
		return Response{}, &retryableError{fmt.Errorf("hook endpoint answered %s", res.Status)}
	case res.StatusCode < 200 || res.StatusCode > 299:
		return Response{}, fmt.Errorf("hook endpoint answered %s", res.Status)
	case int64(len(raw)) > limit:
		return Response{}, fmt.Errorf("hook response exceeds %d bytes", limit)
	}
	return decodeResponse(raw)
}
