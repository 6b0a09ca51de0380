// Package cutproxy is a TCP proxy for tests that cuts every connection
// after a random number of bytes from the client, as a flaky network does.
package cutproxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
)

// Proxy forwards connections to a target address. Each connection is cut
// (both directions closed) once the client has sent a random number of
// bytes between Min and Max; what the server sends back is forwarded until
// then.
type Proxy struct {
	ln     net.Listener
	target string
	min    int64
	max    int64

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[net.Conn]struct{}
	cuts   int
	closed bool
	wg     sync.WaitGroup
}

// New starts a proxy on a free local port forwarding to target. Budgets
// are drawn from [min, max] with a generator seeded with seed, so a test
// can be repeated; max <= 0 forwards without cutting.
func New(target string, min, max int64, seed uint64) (*Proxy, error) {
	if max > 0 && (min < 1 || min > max) {
		return nil, errors.New("cutproxy: want 1 <= min <= max")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		ln: ln, target: target, min: min, max: max,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns: make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cuts returns how many connections were cut so far.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Close stops the proxy, closes every connection and waits for its
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers c so Close can close it; it fails once closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// budget draws how many client bytes the next connection may carry.
func (p *Proxy) budget() int64 {
	if p.max <= 0 {
		return -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.min + p.rng.Int64N(p.max-p.min+1)
}

// serve forwards one connection until either side closes or the budget is
// spent.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(server) {
		return
	}
	defer p.untrack(server)

	budget := p.budget()
	done := make(chan struct{})
	go func() { // owned: serve waits for done below
		defer close(done)
		_, _ = io.Copy(client, server)
		_ = client.Close()
	}()
	cut := false
	if budget < 0 {
		_, _ = io.Copy(server, client)
	} else {
		n, _ := io.CopyN(server, client, budget)
		cut = n == budget
	}
	if cut {
		p.mu.Lock()
		p.cuts++
		p.mu.Unlock()
		_ = server.Close()
		_ = client.Close()
	} else if tc, ok := server.(*net.TCPConn); ok {
		// The client finished sending: pass that on and let the answer
		// come back.
		_ = tc.CloseWrite()
	}
	<-done
}
