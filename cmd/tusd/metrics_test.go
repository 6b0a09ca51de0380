package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads the metrics of the tusd serving base (its /files/ URL).
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := httpClient.Get(strings.TrimSuffix(base, "/files/") + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return families
}

// metricValue returns the value of the metric name whose labels include
// labels (name, value pairs), or -1 if there is none.
func metricValue(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// waitMetric waits until the metric reaches at least want.
func waitMetric(t *testing.T, base string, want float64, name string, labels ...string) {
	t.Helper()
	var got float64
	require.Eventually(t, func() bool {
		got = metricValue(scrape(t, base), name, labels...)
		return got >= want
	}, 20*time.Second, 20*time.Millisecond, "%s%v reached %v, want %v", name, labels, got, want)
}

// TestMetrics checks that the metrics move as uploads happen: requests by
// method, bytes, uploads created, finished and terminated, errors by status
// and code, open connections, and hook invocations and failures.
func TestMetrics(t *testing.T) {
	hooksDir := t.TempDir()
	// post-create succeeds, post-finish fails.
	require.NoError(t, os.WriteFile(filepath.Join(hooksDir, "post-create"), []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(hooksDir, "post-finish"), []byte("#!/bin/sh\ncat >/dev/null\nexit 3\n"), 0o755))
	p, _ := startLocal(t, "-hooks-dir", hooksDir)

	before := scrape(t, p.base)
	assert.Equal(t, 0.0, metricValue(before, "tusd_uploads_created_total"))
	assert.Greater(t, metricValue(before, "go_goroutines"), 0.0, "Go runtime metrics")
	assert.Greater(t, metricValue(before, "process_resident_memory_bytes"), 0.0, "process metrics")

	data := randomBytes(3000, 8)
	_, u1 := uploadThrough(t, httpClient, p.base, data)
	_, u2 := uploadThrough(t, httpClient, p.base, data[:1000])
	res, _ := tusDo(t, http.MethodDelete, u2, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = tusDo(t, http.MethodHead, p.base+"nosuchupload", nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = tusDo(t, http.MethodPatch, u1, []byte("x"), "Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
	require.Equal(t, http.StatusConflict, res.StatusCode)

	// Post hooks run after the responses: wait for them.
	waitMetric(t, p.base, 2, "tusd_hook_failures_total", "hooktype", "post-finish")
	m := scrape(t, p.base)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tusd_requests_total", []string{"method", "POST"}, 2},
		{"tusd_requests_total", []string{"method", "PATCH"}, 3},
		{"tusd_requests_total", []string{"method", "DELETE"}, 1},
		{"tusd_requests_total", []string{"method", "HEAD"}, 1},
		{"tusd_bytes_received_total", nil, 4000}, // the refused PATCH's byte is never read
		{"tusd_uploads_created_total", nil, 2},
		{"tusd_uploads_finished_total", nil, 2},
		{"tusd_uploads_terminated_total", nil, 1},
		{"tusd_errors_total", []string{"status", "404", "code", "ERR_UPLOAD_NOT_FOUND"}, 1},
		{"tusd_errors_total", []string{"status", "409", "code", "ERR_MISMATCHED_OFFSET"}, 1},
		{"tusd_hook_invocations_total", []string{"hooktype", "post-create"}, 2},
		{"tusd_hook_failures_total", []string{"hooktype", "post-create"}, -1},
		{"tusd_hook_invocations_total", []string{"hooktype", "post-finish"}, 2},
		{"tusd_hook_failures_total", []string{"hooktype", "post-finish"}, 2},
		{"tusd_hooks_dropped_total", nil, 0},
	} {
		assert.Equal(t, c.want, metricValue(m, c.name, c.labels...), "%s%v", c.name, c.labels)
	}
	assert.GreaterOrEqual(t, metricValue(m, "tusd_connections_open"), 1.0, "the scrape's own connection is open")
	assert.Equal(t, -1.0, metricValue(m, "tusd_s3_calls_total"), "no S3 calls with the directory store")

	// -expose-metrics=false and -metrics-path.
	off, _ := startLocal(t, "-expose-metrics=false")
	res, _ = do(t, httpClient, http.MethodGet, strings.TrimSuffix(off.base, "/files/")+"/metrics", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	moved, _ := startLocal(t, "-metrics-path", "/internal/metrics")
	res, body := do(t, httpClient, http.MethodGet, strings.TrimSuffix(moved.base, "/files/")+"/internal/metrics", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "tusd_requests_total{method=\"PATCH\"} 0")
}
