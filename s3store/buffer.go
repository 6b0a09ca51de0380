package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// blockSize is the unit in which part buffers take memory (or disk) from the
// store's budget, so a buffer holds only what it has read.
const blockSize = 1 << 20

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

// partBuffer holds bytes of one part in the order they arrive. It holds
// budget (taken with reserve or grow, in whole blocks) for the bytes it may
// take, and memory blocks only for those it holds: a block comes from the
// pool when the first byte is read into it.
//
// One request uses a buffer; the budget may shrink its reservation from
// another goroutine (see shrink), so what both touch is under mu.
type partBuffer struct {
	bufs    *buffers
	file    *os.File
	scratch []byte // what a Read fills before it goes to file

	mu         sync.Mutex
	blocks     []*[blockSize]byte
	n          int64     // bytes held
	taken      int64     // budget held
	reading    int64     // room a Read in progress may fill
	reservedAt time.Time // when reserve last took budget
	reservedN  int64     // n then
	filledAt   time.Time // when a Read last brought bytes, or reservedAt
}

func (b *buffers) newPart() *partBuffer { return &partBuffer{bufs: b} }

// Len returns the number of bytes held.
func (p *partBuffer) Len() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// room returns how many more bytes the buffer can take without more budget.
func (p *partBuffer) room() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken - p.n
}

// holds reports whether the buffer holds budget.
func (p *partBuffer) holds() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken > 0
}

// reserve takes budget for n more bytes, rounded up to whole blocks and
// capped at the store's whole budget, waiting in line for it (when the
// budget is stuck, it may get less, see budget). The room it will not fill
// soon may be reclaimed after reclaimAfter (see shrink).
func (p *partBuffer) reserve(ctx context.Context, n int64) error {
	b := p.bufs.budget
	want := min(max(ceilDiv(n, blockSize), 1)*blockSize, b.total/blockSize*blockSize)
	if want <= 0 {
		want = blockSize
	}
	got, err := b.acquire(ctx, want)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.taken += got
	p.reservedAt, p.reservedN = time.Now(), p.n
	p.filledAt = p.reservedAt
	p.mu.Unlock()
	b.register(p)
	return nil
}

// tryGrow takes one more block of budget if it is free and nobody waits
// for budget.
func (p *partBuffer) tryGrow() bool {
	if !p.bufs.budget.tryAcquire(blockSize) {
		return false
	}
	p.mu.Lock()
	p.taken += blockSize
	p.mu.Unlock()
	return true
}

// shrink implements reclaimable: if the buffer reserved its budget more
// than age ago, it keeps the blocks it holds bytes in or is reading into,
// and room for what its client would send within age at the pace it has
// shown since then, and gives the rest back. A client that stalls keeps
// only its blocks; one fast enough to fill the part within age keeps all.
func (p *partBuffer) shrink(age time.Duration) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	stalled := p.reading > 0 && time.Since(p.filledAt) > age
	since := time.Since(p.reservedAt)
	if p.taken == 0 || since <= age {
		return 0, stalled
	}
	pace := float64(p.n-p.reservedN) / since.Seconds() // bytes per second
	soon := int64(min(pace*age.Seconds(), float64(p.taken)))
	keep := max(ceilDiv(p.n+max(p.reading, soon), blockSize)*blockSize, int64(len(p.blocks))*blockSize)
	if p.taken <= keep {
		return 0, stalled
	}
	freed := p.taken - keep
	p.taken = keep
	return freed, stalled
}

// readFrom makes one Read of r into the buffer's room, of at most max
// bytes. It reads nothing if the buffer has no room.
func (p *partBuffer) readFrom(r io.Reader, max int64) (int64, error) {
	p.mu.Lock()
	want := min(max, p.taken-p.n)
	if want <= 0 {
		p.mu.Unlock()
		return 0, nil
	}
	var dst []byte
	if p.bufs.dir == "" {
		i := int(p.n / blockSize)
		if i == len(p.blocks) {
			p.blocks = append(p.blocks, p.bufs.pool.Get().(*[blockSize]byte))
		}
		at := p.n % blockSize
		dst = p.blocks[i][at : at+min(want, blockSize-at)]
	} else {
		if p.scratch == nil {
			p.scratch = make([]byte, 256<<10)
		}
		dst = p.scratch[:min(want, int64(len(p.scratch)))]
	}
	p.reading = int64(len(dst))
	off := p.n
	p.mu.Unlock()
	k, err := r.Read(dst)
	if k > 0 && p.bufs.dir != "" {
		if werr := p.writeFile(dst[:k], off); werr != nil {
			k, err = 0, werr
		}
	}
	p.mu.Lock()
	p.n += int64(k)
	p.reading = 0
	if k > 0 {
		p.filledAt = time.Now()
	}
	p.mu.Unlock()
	return int64(k), err
}

func (p *partBuffer) writeFile(b []byte, off int64) error {
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
	_, err := p.file.WriteAt(b, off)
	return err
}

// ReadAt implements io.ReaderAt over the bytes held.
func (p *partBuffer) ReadAt(b []byte, off int64) (int, error) {
	p.mu.Lock()
	n, blocks := p.n, p.blocks
	p.mu.Unlock()
	if off >= n {
		return 0, io.EOF
	}
	if p.file != nil {
		b = b[:min(int64(len(b)), n-off)]
		k, err := p.file.ReadAt(b, off)
		if err == nil && off+int64(k) == n {
			err = io.EOF
		}
		return k, err
	}
	return readBlocks(blocks, n, b, off)
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
	p.bufs.budget.unregister(p)
	p.mu.Lock()
	blocks, taken := p.blocks, p.taken
	p.blocks, p.taken, p.n = nil, 0, 0
	p.mu.Unlock()
	for _, blk := range blocks {
		p.bufs.pool.Put(blk)
	}
	if p.file != nil {
		_ = p.file.Close()
		p.file = nil
	}
	p.bufs.budget.release(taken)
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
