package benchkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childModeEnv makes the re-executed test binary act as a child server.
const childModeEnv = "BENCHKIT_TEST_CHILD"

// TestMain runs a child server instead of the tests when the test binary
// is re-executed by TestChild.
func TestMain(m *testing.M) {
	switch os.Getenv(childModeEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") })
		if err := ServeChild("127.0.0.1:0", h, ChildLogger(os.Stderr, "test")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "garbage":
		fmt.Println("no address here")
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(2)
}

func childCmd(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestChild(t *testing.T) {
	c, err := StartChild(t.Context(), "test server", childCmd(t, "serve"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if c.PID() <= 0 || c.Alive() != nil {
		t.Fatalf("pid %d, alive: %v", c.PID(), c.Alive())
	}
	res, err := http.Get("http://" + c.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	Drain(res)
	if string(body) != "hello" {
		t.Errorf("the child answered %q", body)
	}

	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d >= StopTimeout {
		t.Errorf("the child took %v to exit after its stdin closed", d)
	}
	if err := c.Alive(); err == nil || !strings.HasPrefix(err.Error(), "test server exited") {
		t.Errorf("Alive after Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

func TestChildWithoutAddress(t *testing.T) {
	_, err := StartChild(t.Context(), "test server", childCmd(t, "garbage"))
	if err == nil || !strings.HasPrefix(err.Error(), "reading test server's address") {
		t.Errorf("a child printing no address: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := StartChild(ctx, "test server", exec.Command("sleep", "60")); err == nil {
		t.Error("a canceled context: no error")
	}
}
