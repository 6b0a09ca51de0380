package main

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/hooks"
)

// metrics are tusd's Prometheus metrics, in a registry of their own.
type metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec // by method
	errors          *prometheus.CounterVec // by status and code
	slowTransfers   prometheus.Counter
	bytesReceived   prometheus.Counter
	created         prometheus.Counter
	finished        prometheus.Counter
	terminated      prometheus.Counter
	expired         prometheus.Counter
	openConnections prometheus.Gauge
	hookCalls       *prometheus.CounterVec // by hook
	hookFailures    *prometheus.CounterVec // by hook
	s3Calls         *prometheus.CounterVec // by operation and outcome
	s3Duration      *prometheus.HistogramVec
	locks           *lockMetrics // of the Redis locker
}

// newMetrics registers every metric, and the Go runtime and process
// collectors, in a new registry.
func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_requests_total", Help: "HTTP requests received by the tus handler, by method.",
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_errors_total", Help: "Error responses of the tus handler, by HTTP status and error code.",
		}, []string{"status", "code"}),
		slowTransfers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_slow_transfers_total", Help: "Upload requests ended because their body arrived slower than -min-transfer-rate (answered 408 ERR_TRANSFER_TOO_SLOW).",
		}),
		bytesReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_bytes_received_total", Help: "Bytes of upload request bodies read from clients.",
		}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_uploads_created_total", Help: "Uploads created.",
		}),
		finished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_uploads_finished_total", Help: "Uploads that received their last byte and were finished.",
		}),
		terminated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_uploads_terminated_total", Help: "Uploads terminated (deleted), by a request or because they expired.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_uploads_expired_total", Help: "Unfinished uploads removed by the expiry sweep because they expired (also counted in tusd_uploads_terminated_total).",
		}),
		openConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tusd_connections_open", Help: "Client connections open now.",
		}),
		hookCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_hook_invocations_total", Help: "Hook invocations, by hook type.",
		}, []string{"hooktype"}), // the reference server's label
		hookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_hook_failures_total", Help: "Hook invocations that failed, by hook type.",
		}, []string{"hooktype"}), // the reference server's label
		s3Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_s3_calls_total", Help: "Calls to the S3 API, by operation and outcome (ok or error).",
		}, []string{"operation", "outcome"}),
		s3Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tusd_s3_call_duration_seconds", Help: "Duration of S3 API calls with the SDK's retries, by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		locks: newLockMetrics(),
	}
	for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodGet, http.MethodDelete, http.MethodOptions, "OTHER"} {
		m.requests.WithLabelValues(method) // shown as 0 before the first request
	}
	m.reg.MustRegister(m.requests, m.errors, m.slowTransfers, m.bytesReceived, m.created, m.finished, m.terminated, m.expired,
		m.openConnections, m.hookCalls, m.hookFailures, m.s3Calls, m.s3Duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.locks.collectors()...)
	return m
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeError is tus.Config.ErrorObserver.
func (m *metrics) observeError(_ *http.Request, status int, code string) {
	m.errors.WithLabelValues(strconv.Itoa(status), code).Inc()
	if code == tus.ErrTransferTooSlow.Code {
		m.slowTransfers.Inc()
	}
}

// observeHook is the hook dispatcher's OnInvoke.
func (m *metrics) observeHook(t hooks.Type, err error) {
	m.hookCalls.WithLabelValues(string(t)).Inc()
	if err != nil {
		m.hookFailures.WithLabelValues(string(t)).Inc()
	}
}

// countDroppedHooks exports the number of post hooks d did not run (a
// full queue, or shutdown).
func (m *metrics) countDroppedHooks(d *hooks.Dispatcher) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tusd_hooks_dropped_total", Help: "Post hooks not run because their queue was full or the server shut down.",
	}, func() float64 { return float64(d.Dropped()) }))
}

// observeS3Call is s3store.Options.ObserveCall.
func (m *metrics) observeS3Call(op string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.s3Calls.WithLabelValues(op, outcome).Inc()
	m.s3Duration.WithLabelValues(op).Observe(d.Seconds())
}

// connState is http.Server.ConnState: it counts open connections.
func (m *metrics) connState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		m.openConnections.Inc()
	case http.StateClosed, http.StateHijacked:
		m.openConnections.Dec()
	}
}

// instrument counts the requests of the tus handler next.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if o := r.Header.Get("X-HTTP-Method-Override"); o != "" {
			method = o
		}
		m.requests.WithLabelValues(knownMethod(method)).Inc()
		next.ServeHTTP(w, r)
	})
}

// bodyRead counts bytes read from request bodies (all of which are the
// tus handler's: the other routes take none).
func (m *metrics) bodyRead(n int) { m.bytesReceived.Add(float64(n)) }

// knownMethod bounds the method label's values: unknown methods count as
// OTHER.
func knownMethod(m string) string {
	switch m {
	case http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodGet, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// countUploads counts created, finished and terminated uploads from h's
// events until stop is called; stop waits for the counting goroutine.
func (m *metrics) countUploads(h *tus.Handler) (stop func()) {
	sub := h.Subscribe(256, tus.EventCreated, tus.EventCompleted, tus.EventTerminated)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range sub.C {
			switch ev.Type {
			case tus.EventCreated:
				m.created.Inc()
			case tus.EventCompleted:
				m.finished.Inc()
			case tus.EventTerminated:
				m.terminated.Inc()
				if ev.Expired {
					m.expired.Inc()
				}
			}
		}
	}()
	return func() {
		sub.Close() // closes sub.C: the goroutine ends
		wg.Wait()
	}
}
