package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/tusgo/tus/internal/benchkit"
)

// Server kinds, in the order they are reported.
const (
	kindRaw  = "raw"
	kindSDK  = "sdk"
	kindOurs = "ours"
	kindTusd = "tusd"
	kindNode = "node"
)

// childEnv, set to 1 in a server's environment, tells a test binary
// re-executed as the raw server to run the program instead of the tests.
const childEnv = "TUSBENCH_CHILD"

// server is a running server (or, for kindSDK, the SDK in this process).
type server struct {
	kind   string
	label  string // kind, with the state for the scale workload
	tus    bool
	p      *proc // nil for the SDK
	dir    string
	bucket string
	client *client
}

// s3Target says how servers reach S3: through the counting proxy.
type s3Target struct {
	endpoint  string // the proxy
	accessKey string
	secretKey string
}

// startServer starts a server of kind storing into dir or, with s3 set,
// into bucket.
func (e *env) startServer(ctx context.Context, kind, label, dir, bucket string, s3 *s3Target) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ps := strconv.Itoa(port)
	var cmd *exec.Cmd
	switch kind {
	case kindRaw:
		cmd = exec.Command(e.exe, "-serve-raw", dir, "-addr", "127.0.0.1:"+ps)
	case kindOurs:
		args := []string{"-host", "127.0.0.1", "-port", ps}
		if s3 != nil {
			args = append(args, "-s3-bucket", bucket, "-s3-endpoint", s3.endpoint)
		} else {
			args = append(args, "-dir", dir)
		}
		cmd = exec.Command(e.ours, args...)
	case kindTusd:
		args := []string{"-host", "127.0.0.1", "-port", ps}
		if s3 != nil {
			args = append(args, "-s3-bucket", bucket, "-s3-endpoint", s3.endpoint)
		} else {
			args = append(args, "-upload-dir", dir)
		}
		cmd = exec.Command(e.peers.tusd, args...)
	case kindNode:
		mode, target := "disk", dir
		if s3 != nil {
			mode, target = "s3", bucket
		}
		cmd = exec.Command("node", "tusbench-server.mjs", mode, target, ps)
		cmd.Dir = e.peers.nodeDir
	default:
		return nil, fmt.Errorf("unknown server %q", kind)
	}
	// childEnv lets a test binary re-executed as the raw server run main.
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if s3 != nil {
		cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+s3.accessKey, "AWS_SECRET_ACCESS_KEY="+s3.secretKey,
			"AWS_REGION="+region, "S3_ENDPOINT="+s3.endpoint)
	}
	storage := "disk"
	if s3 != nil {
		storage = "s3"
	}
	base := "http://127.0.0.1:" + ps + "/files/"
	p, err := startProc(ctx, label+" ("+storage+")", cmd, filepath.Join(e.work, "logs", label+"-"+storage+".log"), base)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "started %s (%s) pid %d at %s\n", label, storage, p.pid(), base)
	return &server{
		kind: kind, label: label, tus: kind != kindRaw, p: p, dir: dir, bucket: bucket,
		client: newClient(base, kind != kindRaw, 256, e.gen),
	}, nil
}

// stop stops the server.
func (s *server) stop() error {
	if s.p == nil {
		return nil
	}
	s.client.close()
	return s.p.stop()
}

// cpu returns the server's CPU time so far, or -1 if unknown.
func (s *server) cpu() float64 {
	if s.p == nil {
		return -1
	}
	d, err := benchkit.ReadCPU(s.p.pid())
	if err != nil {
		return -1
	}
	return d.Seconds()
}

// peakRSS returns the server's VmHWM in MiB, or -1 if unknown.
func (s *server) peakRSS() float64 {
	if s.p == nil {
		return -1
	}
	m, err := benchkit.ReadMem(s.p.pid())
	if err != nil {
		return -1
	}
	return m.HWMMiB()
}

// alive reports an error if the server exited.
func (s *server) alive() error {
	if s.p == nil {
		return nil
	}
	return s.p.alive()
}
