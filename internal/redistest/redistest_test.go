package redistest

import (
	"strings"
	"testing"
)

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/0") {
		t.Errorf("URL() = %q", s.URL())
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}

	s.Pause()
	if err := ping(s.Addr()); err == nil {
		t.Error("a paused server answered PING")
	}
	s.Resume()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}

	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}

	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Error("a stopped server answered PING")
	}
	s.Stop() // stopping twice is harmless
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after restarting a stopped server: %v", err)
	}
}

// A paused server is stopped cleanly at the end of the test.
func TestStopPaused(t *testing.T) {
	s := Start(t)
	s.Pause()
	s.Stop()
}

// Two servers run side by side on different ports.
func TestTwoServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
	for _, s := range []*Server{a, b} {
		if err := ping(s.Addr()); err != nil {
			t.Errorf("PING %s: %v", s.Addr(), err)
		}
	}
}
