package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// blockSize is the unit in which part buffers take memory (or disk) from the
// store's budget, so a buffer holds only what it has read.
const blockSize = 1 << 20

// budget is a counting semaphore of bytes shared by every request of a store.
type budget struct {
	mu      sync.Mutex
	free    int64
	waiters []chan struct{} // woken (closed) whenever bytes are returned
}

func newBudget(n int64) *budget { return &budget{free: n} }

// tryAcquire takes n bytes if they are free.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free >= n {
		b.free -= n
		return true
	}
	return false
}

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		b.waiters = append(b.waiters, ch)
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n bytes and wakes every waiter to try again.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.free += n
	ws := b.waiters
	b.waiters = nil
	b.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

// buffers hands out part buffers backed by memory blocks or, with a
// directory, by unnamed temporary files.
type buffers struct {
	budget *budget
	dir    string    // "" for memory
	pool   sync.Pool // of *[blockSize]byte
}

// tempPattern names the temporary files of part buffers. They are unlinked
// right after creation; New removes leftovers of a crash in between.
const tempPattern = "tus-s3-part-*"

func newBuffers(limit int64, dir string) (*buffers, error) {
	b := &buffers{budget: newBudget(limit), dir: dir}
	b.pool.New = func() any { return new([blockSize]byte) }
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("s3store: temporary directory: %w", err)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, tempPattern))
		for _, f := range leftovers {
			_ = os.Remove(f)
		}
	}
	return b, nil
}

// partBuffer holds bytes of one part in the order they arrive. It takes
// budget block by block as it grows and returns it on release.
type partBuffer struct {
	bufs   *buffers
	blocks []*[blockSize]byte
	file   *os.File
	n      int64 // bytes held
	taken  int64 // budget held
}

func (b *buffers) newPart() *partBuffer { return &partBuffer{bufs: b} }

// Len returns the number of bytes held.
func (p *partBuffer) Len() int64 { return p.n }

// room reports whether the buffer can take more bytes without more budget.
func (p *partBuffer) room() int64 { return p.taken - p.n }

// grow takes one more block of budget, without waiting if wait is false.
func (p *partBuffer) grow(ctx context.Context, wait bool) (bool, error) {
	if wait {
		if err := p.bufs.budget.acquire(ctx, blockSize); err != nil {
			return false, err
		}
	} else if !p.bufs.budget.tryAcquire(blockSize) {
		return false, nil
	}
	p.taken += blockSize
	if p.bufs.dir == "" {
		p.blocks = append(p.blocks, p.bufs.pool.Get().(*[blockSize]byte))
	}
	return true, nil
}

// readFrom reads from r into the buffer's room, at most max bytes, until the
// room is full, max is reached, or r fails (io.EOF included).
func (p *partBuffer) readFrom(r io.Reader, max int64) (int64, error) {
	var total int64
	for total < max && p.room() > 0 {
		want := min(max-total, p.room())
		var dst []byte
		if p.bufs.dir == "" {
			blk := p.blocks[p.n/blockSize]
			at := p.n % blockSize
			dst = blk[at : at+min(want, blockSize-at)]
		} else {
			dst = make([]byte, min(want, 256<<10))
		}
		k, err := r.Read(dst)
		if k > 0 && p.bufs.dir != "" {
			if werr := p.writeFile(dst[:k]); werr != nil {
				return total, werr
			}
		}
		p.n += int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *partBuffer) writeFile(b []byte) error {
	if p.file == nil {
		f, err := os.CreateTemp(p.bufs.dir, tempPattern)
		if err != nil {
			return fmt.Errorf("s3store: part buffer: %w", err)
		}
		// Unnamed from now on: the space is freed when the file is closed,
		// or by the kernel if the process dies.
		_ = os.Remove(f.Name())
		p.file = f
	}
	_, err := p.file.WriteAt(b, p.n)
	return err
}

// ReadAt implements io.ReaderAt over the bytes held.
func (p *partBuffer) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.n {
		return 0, io.EOF
	}
	if p.file != nil {
		b = b[:min(int64(len(b)), p.n-off)]
		k, err := p.file.ReadAt(b, off)
		if err == nil && off+int64(k) == p.n {
			err = io.EOF
		}
		return k, err
	}
	return readBlocks(p.blocks, p.n, b, off)
}

// readBlocks implements io.ReaderAt over the n bytes held in blocks, laid
// end to end, for an off below n.
func readBlocks(blocks []*[blockSize]byte, n int64, b []byte, off int64) (int, error) {
	if off >= n {
		return 0, io.EOF
	}
	total := 0
	for len(b) > 0 && off < n {
		blk := blocks[off/blockSize]
		at := off % blockSize
		end := min(int64(blockSize), at+(n-off))
		k := copy(b, blk[at:end])
		b = b[k:]
		off += int64(k)
		total += k
	}
	if off == n {
		return total, io.EOF
	}
	return total, nil
}

// release returns the buffer's blocks and budget. The buffer is empty after.
func (p *partBuffer) release() {
	for _, blk := range p.blocks {
		p.bufs.pool.Put(blk)
	}
	p.blocks = nil
	if p.file != nil {
		_ = p.file.Close()
		p.file = nil
	}
	if p.taken > 0 {
		p.bufs.budget.release(p.taken)
	}
	p.taken, p.n = 0, 0
}

// piece is a run of bytes readable at offsets.
type piece struct {
	r io.ReaderAt
	n int64
}

// sections is an io.ReadSeeker over pieces laid end to end: the body of a
// part made of cached tail bytes and a part buffer. The SDK seeks it to
// retry and to compute checksums.
type sections struct {
	pieces []piece
	size   int64
	pos    int64
}

func newSections(pieces ...piece) *sections {
	s := &sections{}
	for _, p := range pieces {
		if p.n > 0 {
			s.pieces = append(s.pieces, p)
			s.size += p.n
		}
	}
	return s
}

func (s *sections) Read(b []byte) (int, error) {
	if s.pos >= s.size {
		return 0, io.EOF
	}
	off := s.pos
	for _, p := range s.pieces {
		if off >= p.n {
			off -= p.n
			continue
		}
		b = b[:min(int64(len(b)), p.n-off)]
		k, err := p.r.ReadAt(b, off)
		s.pos += int64(k)
		if err == io.EOF && k > 0 {
			err = nil
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return k, err
	}
	return 0, io.EOF
}

func (s *sections) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("s3store: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("s3store: negative position")
	}
	s.pos = offset
	return offset, nil
}
