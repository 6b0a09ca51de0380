// Package cutproxy is a TCP proxy for tests that cuts every connection
// after a random number of bytes from the client, as a flaky network does,
// and can also cut the server's side: a connection is cut instead of
// passing on bytes of the server that match a pattern (CutResponses), so a
// response the server sent after doing its work is lost.
package cutproxy

import (
	"bytes"
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

	mu       sync.Mutex
	rng      *rand.Rand
	conns    map[net.Conn]struct{}
	cuts     int
	closed   bool
	wg       sync.WaitGroup
	match    []byte // server bytes that cut the connection, while respLeft > 0
	respLeft int
	respCuts int
}

// CutResponses makes the proxy cut the next n connections whose server side
// sends match (for instance a header line of the response to lose), before
// the client gets the bytes from match on: the client sees its connection
// break although the server answered. Call it before the connections it is
// meant for are made.
func (p *Proxy) CutResponses(match string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match, p.respLeft = []byte(match), n
}

// ResponseCuts returns how many connections CutResponses cut so far.
func (p *Proxy) ResponseCuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.respCuts
}

// pattern returns the server bytes to cut on, or nil.
func (p *Proxy) pattern() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.respLeft <= 0 {
		return nil
	}
	return p.match
}

// takeResponseCut reports whether a connection whose server sent the
// pattern is to be cut, and counts the cut.
func (p *Proxy) takeResponseCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.respLeft <= 0 {
		return false
	}
	p.respLeft--
	p.respCuts++
	return true
}

// copyResponses forwards the server's bytes to the client until either
// side closes, or until the server sends the CutResponses pattern: then
// the bytes before it are forwarded and both connections are closed.
func (p *Proxy) copyResponses(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	var tail []byte // the last bytes forwarded, to find a pattern split between reads
	for {
		n, rerr := server.Read(buf)
		chunk := buf[:n]
		if m := p.pattern(); n > 0 && m != nil {
			joined := append(tail, chunk...)
			if i := bytes.Index(joined, m); i >= 0 && p.takeResponseCut() {
				if before := i - len(tail); before > 0 {
					_, _ = client.Write(chunk[:before])
				}
				_ = server.Close()
				_ = client.Close()
				return
			}
			tail = append([]byte(nil), joined[max(0, len(joined)-len(m)+1):]...)
		}
		if n > 0 {
			if _, err := client.Write(chunk); err != nil {
				return
			}
		}
		if rerr != nil {
			return
		}
	}
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
		p.copyResponses(client, server)
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
