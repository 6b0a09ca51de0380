package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPprof checks that the profiles are not served by default, and are
// with -expose-pprof at -pprof-path: the index, a named profile, the
// command line and a short CPU profile.
func TestPprof(t *testing.T) {
	off, _ := startLocal(t)
	origin := strings.TrimSuffix(off.base, "/files/")
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		res, body := do(t, httpClient, http.MethodGet, origin+p, nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, "GET %s without -expose-pprof: %s", p, body)
	}

	on, _ := startLocal(t, "-expose-pprof", "-pprof-mutex-profile-rate", "1")
	origin = strings.TrimSuffix(on.base, "/files/")
	res, body := do(t, httpClient, http.MethodGet, origin+"/debug/pprof/", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "goroutine")
	assert.Contains(t, string(body), "heap")
	res, body = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/goroutine?debug=1", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "goroutine profile: total")
	res, body = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/cmdline", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "-expose-pprof")
	res, body = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/profile?seconds=1", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "application/octet-stream", res.Header.Get("Content-Type"))
	assert.NotEmpty(t, body)
	res, body = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/mutex?debug=1", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "sampling period=1", "-pprof-mutex-profile-rate 1")
	res, _ = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/nosuchprofile", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	// Elsewhere with -pprof-path; the default path is then not served.
	moved, _ := startLocal(t, "-expose-pprof", "-pprof-path", "/internal/pprof")
	origin = strings.TrimSuffix(moved.base, "/files/")
	res, body = do(t, httpClient, http.MethodGet, origin+"/internal/pprof/heap?debug=1", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "heap profile")
	res, _ = do(t, httpClient, http.MethodGet, origin+"/debug/pprof/", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestPprofFlags(t *testing.T) {
	def := defaults(t)
	assert.False(t, def.exposePprof)
	assert.Equal(t, "/debug/pprof/", def.pprofPath)
	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-expose-pprof", "-pprof-path", "/"}, `-pprof-path "/"`},
		{[]string{"-expose-pprof", "-pprof-path", "/p{x}"}, `-pprof-path "/p{x}/"`},
		{[]string{"-expose-pprof", "-pprof-path", "/files/pprof"}, "overlap"},
		{[]string{"-expose-pprof", "-pprof-path", "/debug", "-metrics-path", "/debug/metrics"}, "lies under -pprof-path"},
		{[]string{"-expose-pprof", "-pprof-path", "/demo/pprof"}, "demo page"},
		{[]string{"-pprof-mutex-profile-rate", "5"}, "need -expose-pprof"},
		{[]string{"-expose-pprof", "-pprof-block-profile-rate", "-1"}, "must not be negative"},
	} {
		_, err := parseFlags(c.args, noEnv, io.Discard)
		if assert.Error(t, err, "%v", c.args) {
			assert.Contains(t, err.Error(), c.wantErr, "%v", c.args)
		}
	}
	o, err := parseFlags([]string{"-expose-pprof", "-pprof-path", "debug/prof"}, noEnv, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/debug/prof/", o.pprofPath)
	// Without -expose-pprof the path is not checked: it is not served.
	_, err = parseFlags([]string{"-pprof-path", "/"}, noEnv, io.Discard)
	assert.NoError(t, err)
	o, err = parseFlags(nil, func(name string) string {
		if name == "TUSD_EXPOSE_PPROF" {
			return "true"
		}
		return ""
	}, io.Discard)
	require.NoError(t, err)
	assert.True(t, o.exposePprof)
}
