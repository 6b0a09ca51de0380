package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/tusgo/tus/internal/benchkit"
)

// server is a child server process as the parent sees it.
type server struct {
	*benchkit.Child
	name   string
	isTus  bool
	dir    string // the child's storage directory, owned by the parent
	base   string // collection URL, http://ADDR/files/
	client *client
}

// startServer creates a fresh storage directory, starts exe in serve mode
// for kind and waits for its address. On error nothing is left behind.
func startServer(ctx context.Context, exe, tmpDir, kind, profile string, conns int, gen *benchkit.Generator) (*server, error) {
	dir, err := os.MkdirTemp(tmpDir, "uploadbench-"+kind+"-")
	if err != nil {
		return nil, err
	}
	args := []string{"-serve", kind, "-dir", dir, "-addr", "127.0.0.1:0", "-cleanup"}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	child, err := benchkit.StartChild(ctx, kind+" server", cmd)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	s := &server{
		Child: child,
		name:  kind,
		isTus: kind != kindBaseline,
		dir:   dir,
		base:  "http://" + child.Addr + basePath,
	}
	s.client = newClient(s.base, s.isTus, conns, gen)
	return s, nil
}

// stop ends the child (see benchkit.Child.Stop) and removes its directory.
// It is safe to call more than once.
func (s *server) stop() error {
	s.client.close()
	err := s.Stop()
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// profilePath returns where the child of kind writes its CPU profile, or ""
// without profiling.
func profilePath(dir, kind string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, kind+".pprof")
}
