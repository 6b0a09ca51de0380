package hooks_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusgo/tus/hooks"
)

// endpoint starts an HTTP hook endpoint served by fn and counts its
// requests.
func endpoint(t *testing.T, fn func(n int64, w http.ResponseWriter, r *http.Request)) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(calls.Add(1), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

// TestHTTPHookRetries: an endpoint that answers 503 twice and then 200 is
// reached on the third attempt; one that always answers 503 fails the
// request after Retry+1 attempts; a 4xx is not retried.
func TestHTTPHookRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   func(n int64) int
		retry    int
		want     int // status of the POST
		attempts int64
	}{
		{"recovers", func(n int64) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, 3, http.StatusCreated, 3},
		{"too many requests", func(n int64) int {
			if n == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		}, 1, http.StatusCreated, 2},
		{"always 503", func(int64) int { return http.StatusServiceUnavailable }, 2, http.StatusInternalServerError, 3},
		{"404 not retried", func(int64) int { return http.StatusNotFound }, 2, http.StatusInternalServerError, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, calls := endpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(tc.status(n))
			})
			backend := &hooks.HTTPBackend{URL: url, Retry: tc.retry, Backoff: time.Millisecond}
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
			res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
			check(t, "status", res.status, tc.want)
			check(t, "attempts", calls.Load(), tc.attempts)
			wantFailures := 0
			if tc.want != http.StatusCreated {
				wantFailures = 1
				contains(t, "log", e.logs.String(), "hook endpoint answered")
			}
			check(t, "failures", e.failures(hooks.PreCreate), wantFailures)
			check(t, "invocations", len(e.invocations()), 1)
		})
	}
}

// TestHTTPHookTransportRetry retries when the endpoint cannot be reached.
func TestHTTPHookTransportRetry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	e := newEnv(t, hooks.Config{Backend: &hooks.HTTPBackend{URL: url, Retry: 2, Backoff: time.Millisecond}, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	contains(t, "log", e.logs.String(), "after 3 attempts")
}

// TestHTTPHookResponseSize accepts a body of exactly MaxResponseSize bytes
// and fails one byte more, without retrying.
func TestHTTPHookResponseSize(t *testing.T) {
	const limit = 100
	for _, tc := range []struct {
		name string
		size int
		want int
	}{
		{"at the limit", limit, http.StatusCreated},
		{"over the limit", limit + 1, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix, suffix := `{"HTTPResponse":{"Header":{"X-Pad":"`, `"}}}`
			body := prefix + strings.Repeat("x", tc.size-len(prefix)-len(suffix)) + suffix
			url, calls := endpoint(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, body)
			})
			backend := &hooks.HTTPBackend{URL: url, Retry: 3, Backoff: time.Millisecond, MaxResponseSize: limit}
			e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
			res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
			check(t, "status", res.status, tc.want)
			check(t, "attempts", calls.Load(), int64(1))
			if tc.want != http.StatusCreated {
				contains(t, "log", e.logs.String(), "exceeds 100 bytes")
				check(t, "failures", e.failures(hooks.PreCreate), 1)
			}
		})
	}
}

// TestHTTPHookTimeout fails an attempt that takes longer than Timeout and
// retries it.
func TestHTTPHookTimeout(t *testing.T) {
	release := make(chan struct{})
	url, calls := endpoint(t, func(_ int64, _ http.ResponseWriter, r *http.Request) {
		// The connection's end is noticed only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select { // answers only when the hook gives up
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	backend := &hooks.HTTPBackend{URL: url, Timeout: 50 * time.Millisecond, Retry: 1, Backoff: time.Millisecond}
	e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	check(t, "attempts", calls.Load(), int64(2))
	contains(t, "log", e.logs.String(), "deadline exceeded")
}

// TestHTTPHookRequest checks the hook request: POST, JSON, the forwarded
// headers of the upload request and only those, and that an empty 2xx body
// accepts.
func TestHTTPHookRequest(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	var payload hooks.Request
	url, _ := endpoint(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = r
		if err := json.NewDecoder(r.Body).Decode(&payload); err != nil {
			t.Errorf("decoding: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	backend := &hooks.HTTPBackend{URL: url, ForwardHeaders: []string{"Authorization", "x-tenant"}}
	e := newEnv(t, hooks.Config{Backend: backend, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{
		"Upload-Length": "3",
		"Authorization": "Bearer token",
		"X-Tenant":      "acme",
		"X-Other":       "private",
	})
	check(t, "status", res.status, http.StatusCreated)
	mu.Lock()
	defer mu.Unlock()
	check(t, "method", got.Method, http.MethodPost)
	check(t, "Content-Type", got.Header.Get("Content-Type"), "application/json")
	check(t, "Authorization", got.Header.Get("Authorization"), "Bearer token")
	check(t, "X-Tenant", got.Header.Get("X-Tenant"), "acme")
	check(t, "X-Other", got.Header.Get("X-Other"), "")
	check(t, "type", payload.Type, hooks.PreCreate)
	check(t, "payload header", payload.Event.HTTPRequest.Header.Get("X-Other"), "private")
}

// TestHTTPHookRedirectFails: a redirect is not followed.
func TestHTTPHookRedirectFails(t *testing.T) {
	url, calls := endpoint(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	e := newEnv(t, hooks.Config{Backend: &hooks.HTTPBackend{URL: url}, Enabled: []hooks.Type{hooks.PreCreate}}, nil)
	res := e.do(http.MethodPost, "", nil, map[string]string{"Upload-Length": "3"})
	check(t, "status", res.status, http.StatusInternalServerError)
	check(t, "requests", calls.Load(), int64(1))
}
