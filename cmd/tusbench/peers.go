package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Versions of the peers.
const (
	tusdModule   = "github.com/tus/tusd/v2"
	tusdPackage  = "github.com/tus/tusd/v2/cmd/tusd"
	tusdVersion  = "v2.9.1"
	nodeServer   = "2.4.5" // @tus/server
	nodeFile     = "2.1.1" // @tus/file-store
	nodeS3       = "2.0.7" // @tus/s3-store
	minioBinName = "minio"
)

// nodeScript is the @tus/server program: node tusbench-server.mjs disk DIR
// PORT, or s3 BUCKET PORT with the endpoint and credentials in the
// environment.
//
//go:embed node_server.mjs
var nodeScript []byte

// defaultCacheDir is where peers are installed, as scripts/s3-servers
// installs MinIO.
func defaultCacheDir() string {
	if d := os.Getenv("TUS_CACHE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "tusgo-cache")
	}
	return filepath.Join(home, ".cache", "tusgo")
}

// peers are the installed peer programs.
type peers struct {
	tusd    string // binary
	nodeDir string // holds node_modules and the script
	minio   string // binary
}

// installPeers installs what is missing into cacheDir.
func installPeers(ctx context.Context, cacheDir string, log io.Writer) (peers, error) {
	bin := filepath.Join(cacheDir, "bin")
	p := peers{
		tusd:    filepath.Join(bin, "tusd-"+tusdVersion),
		nodeDir: filepath.Join(cacheDir, "node-tus-server-"+nodeServer),
		minio:   filepath.Join(bin, minioBinName),
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return p, err
	}
	var errs []error
	if !goBinaryOf(ctx, p.tusd, tusdModule, tusdVersion) {
		fmt.Fprintf(log, "installing tusd: go install %s@%s (GOBIN in %s)\n", tusdPackage, tusdVersion, bin)
		errs = append(errs, goInstall(ctx, bin, tusdPackage+"@"+tusdVersion, "tusd", p.tusd, log))
	}
	if !nodeInstalled(p.nodeDir) {
		fmt.Fprintf(log, "installing @tus/server %s, @tus/file-store %s, @tus/s3-store %s: npm install into %s\n", nodeServer, nodeFile, nodeS3, p.nodeDir)
		errs = append(errs, npmInstall(ctx, p.nodeDir, log))
	}
	if _, err := os.Stat(p.minio); err != nil {
		fmt.Fprintln(log, "installing MinIO: scripts/s3-servers install")
		root, err := moduleRoot(ctx)
		if err == nil {
			cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "s3-servers"), "install")
			cmd.Env = append(os.Environ(), "TUS_CACHE_DIR="+cacheDir)
			cmd.Stdout, cmd.Stderr = log, log
			err = cmd.Run()
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	return p, os.WriteFile(filepath.Join(p.nodeDir, "tusbench-server.mjs"), nodeScript, 0o644)
}

// goBinaryOf reports whether bin was built from module at version.
func goBinaryOf(ctx context.Context, bin, module, version string) bool {
	out, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && f[1] == module && f[2] == version {
			return true
		}
	}
	return false
}

// goInstall runs go install pkg in an empty directory (no go.mod around)
// with GOBIN a fresh directory in bin, then moves binary name to dst, so
// that an interrupted build leaves nothing half-written.
func goInstall(ctx context.Context, bin, pkg, name, dst string, log io.Writer) error {
	tmp, err := os.MkdirTemp(bin, ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", pkg)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s: %w", pkg, err)
	}
	return os.Rename(filepath.Join(tmp, name), dst)
}

// nodeInstalled reports whether dir holds the three packages at their
// versions.
func nodeInstalled(dir string) bool {
	for name, version := range map[string]string{"server": nodeServer, "file-store": nodeFile, "s3-store": nodeS3} {
		raw, err := os.ReadFile(filepath.Join(dir, "node_modules", "@tus", name, "package.json"))
		if err != nil {
			return false
		}
		var pkg struct{ Version string }
		if json.Unmarshal(raw, &pkg) != nil || pkg.Version != version {
			return false
		}
	}
	return true
}

// npmInstall installs the packages at their exact versions into dir.
func npmInstall(ctx context.Context, dir string, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private":true}`+"\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--save-exact",
		"@tus/server@"+nodeServer, "@tus/file-store@"+nodeFile, "@tus/s3-store@"+nodeS3)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install: %w", err)
	}
	return nil
}

// moduleRoot returns the directory of this module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull || filepath.Base(mod) != "go.mod" {
		return "", errors.New("not inside the module github.com/tusgo/tus: run tusbench from its checkout, or give -ours-bin")
	}
	return filepath.Dir(mod), nil
}

// buildOurs builds cmd/tusd of this checkout into dir.
func buildOurs(ctx context.Context, dir string, log io.Writer) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "tusd-ours")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/tusd")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tusd: %w", err)
	}
	fmt.Fprintf(log, "built ours (cmd/tusd of %s) in %.1fs\n", root, time.Since(start).Seconds())
	return out, nil
}
