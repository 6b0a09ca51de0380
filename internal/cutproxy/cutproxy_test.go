package cutproxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// sink is a TCP server that counts the bytes it receives per connection.
type sink struct {
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	got [][]byte
}

func newSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write([]byte("bye"))
				s.mu.Lock()
				s.got = append(s.got, b)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func TestCutsAfterBudget(t *testing.T) {
	s := newSink(t)
	p, err := New(s.ln.Addr().String(), 100, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, werr := c.Write(data) // may fail once cut
		_, _ = io.ReadAll(c)
		c.Close()
		_ = werr
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 5 {
		t.Fatalf("server saw %d connections, want 5", len(s.got))
	}
	for i, b := range s.got {
		if len(b) < 100 || len(b) > 200 {
			t.Errorf("connection %d carried %d bytes, want 100 to 200", i, len(b))
		}
		if !bytes.Equal(b, data[:len(b)]) {
			t.Errorf("connection %d carried altered bytes", i)
		}
	}
	if p.Cuts() != 5 {
		t.Errorf("Cuts = %d, want 5", p.Cuts())
	}
}

func TestForwardsWithoutBudget(t *testing.T) {
	s := newSink(t)
	p, err := New(s.ln.Addr().String(), 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("y"), 5000)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(reply) != "bye" {
		t.Fatalf("reply %q, %v", reply, err)
	}
	if p.Cuts() != 0 {
		t.Errorf("Cuts = %d, want 0", p.Cuts())
	}
}

func TestBadBudget(t *testing.T) {
	if _, err := New("127.0.0.1:1", 0, 10, 1); err == nil {
		t.Error("min 0 accepted")
	}
	if _, err := New("127.0.0.1:1", 20, 10, 1); err == nil {
		t.Error("min > max accepted")
	}
}

// CutResponses loses the server's bytes from the pattern on, for as many
// connections as asked; later ones pass whole.
func TestCutResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { ln.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The pattern comes split over two writes.
			_, _ = c.Write([]byte("HTTP/1.1 104\r\n\r\nHTTP/1.1 204\r\nUpload-Comp"))
			_, _ = c.Write([]byte("lete: ?1\r\n\r\n"))
			c.Close()
		}
	}()
	p, err := New(ln.Addr().String(), 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.CutResponses("HTTP/1.1 204", 1)
	var got []string
	for range 3 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got = append(got, string(b))
	}
	want := []string{"HTTP/1.1 104\r\n\r\n", "HTTP/1.1 104\r\n\r\nHTTP/1.1 204\r\nUpload-Complete: ?1\r\n\r\n"}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[1] {
		t.Errorf("got %q", got)
	}
	if p.ResponseCuts() != 1 {
		t.Errorf("ResponseCuts = %d, want 1", p.ResponseCuts())
	}
	p2, err := New(ln.Addr().String(), 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	p2.CutResponses("Upload-Complete: ?1", 1) // split between the writes
	c, err := net.Dial("tcp", p2.Addr())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if bytes.Contains(b, []byte("\r\n\r\nHTTP/1.1 204\r\nUpload-Complete: ?1\r\n\r\n")) || p2.ResponseCuts() != 1 {
		t.Errorf("split pattern: got %q, %d cuts", b, p2.ResponseCuts())
	}
}
