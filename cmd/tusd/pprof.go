package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
)

// pprofHandler serves the Go runtime's profiles below path (which ends in
// a slash), as net/http/pprof serves them below /debug/pprof/: the index
// at path itself, cmdline, profile (CPU, ?seconds=N), symbol, trace, and
// every named profile of runtime/pprof (heap, allocs, goroutine, block,
// mutex, threadcreate). Unlike pprof.Index, it works at any path.
func pprofHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, path)
		switch name {
		case "":
			if r.URL.Path != path {
				http.NotFound(w, r) // the path without its slash
				return
			}
			pprof.Index(w, r)
		case "cmdline":
			pprof.Cmdline(w, r)
		case "profile":
			pprof.Profile(w, r)
		case "symbol":
			pprof.Symbol(w, r)
		case "trace":
			pprof.Trace(w, r)
		default:
			pprof.Handler(name).ServeHTTP(w, r)
		}
	})
}

// checkPprofPath checks the profiling flags: -pprof-path (made to end in a slash) when
// -expose-pprof is on: a plain path of its own, not under the uploads, the
// metrics or the demo page.
func (o *options) checkPprofPath() error {
	if !o.exposePprof {
		if o.pprofBlockRate != 0 || o.pprofMutexRate != 0 {
			return errors.New("-pprof-block-profile-rate and -pprof-mutex-profile-rate need -expose-pprof")
		}
		return nil
	}
	o.pprofPath = slashed(o.pprofPath)
	switch {
	case !plainPath.MatchString(o.pprofPath) || o.pprofPath == "/":
		return fmt.Errorf("-pprof-path %q: a path below / of letters, digits and - . _ ~ / only", o.pprofPath)
	case strings.HasPrefix(o.pprofPath, o.basePath) || strings.HasPrefix(o.basePath, o.pprofPath):
		return fmt.Errorf("-pprof-path %q and -base-path %q overlap", o.pprofPath, o.basePath)
	case o.exposeMetrics && strings.HasPrefix(strings.TrimSuffix(o.metricsPath, "/")+"/", o.pprofPath):
		return fmt.Errorf("-metrics-path %q lies under -pprof-path %q", o.metricsPath, o.pprofPath)
	case !o.disableDemo && strings.HasPrefix(o.pprofPath, demoPrefix):
		return fmt.Errorf("%s is the demo page's: choose another -pprof-path, or -disable-demo", demoPrefix)
	}
	return nil
}
