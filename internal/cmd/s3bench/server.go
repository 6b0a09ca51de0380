package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/tusgo/tus/internal/benchkit"
)

// childEnv, set to 1 in the child's environment, tells a test binary
// re-executed as the server to run the program instead of the tests.
const childEnv = "S3BENCH_CHILD"

// server is the child tus server as the parent sees it.
type server struct {
	*benchkit.Child
	base   string // collection URL, http://ADDR/files/
	origin string // http://ADDR
}

// startServer starts cfg.exe in serve mode with the store's keys under
// prefix and waits for its address. The credentials go through the
// environment, not the command line.
func startServer(ctx context.Context, cfg config, prefix string, stderr io.Writer) (*server, error) {
	cmd := exec.Command(cfg.exe,
		"-serve",
		"-addr", "127.0.0.1:0",
		"-endpoint", cfg.conn.endpoint,
		"-bucket", cfg.conn.bucket,
		"-prefix", prefix,
		"-part-size", strconv.FormatInt(cfg.partSize, 10),
		"-concurrency", strconv.Itoa(cfg.concurrency),
		"-single-process="+strconv.FormatBool(cfg.single),
		"-disable-content-hashes="+strconv.FormatBool(cfg.noHashes),
	)
	cmd.Env = append(os.Environ(),
		envAccessKey+"="+cfg.conn.accessKey,
		envSecretKey+"="+cfg.conn.secretKey,
		childEnv+"=1",
	)
	cmd.Env = append(cmd.Env, cfg.childEnv...)
	cmd.Stderr = stderr
	child, err := benchkit.StartChild(ctx, "the tus server", cmd)
	if err != nil {
		return nil, err
	}
	return &server{
		Child:  child,
		base:   "http://" + child.Addr + basePath,
		origin: "http://" + child.Addr,
	}, nil
}
