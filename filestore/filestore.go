// Package filestore keeps tus uploads as plain files in one local directory,
// and provides FileLocker, an flock(2)-based locker that lets several
// processes on one host share that directory.
//
// For an upload with ID id the store keeps two files in its directory:
//
//	<id>       the bytes received so far; its size is the upload's offset
//	<id>.info  the upload's tus.FileInfo as JSON
//
// Temporary files start with '.', a character no valid upload ID contains,
// so they can never collide with the files of an upload. The locker adds
// <id>.lock and <id>.release; the store never touches those.
//
// Every ID is checked with tus.ValidID before it is turned into a file name,
// so no operation ever reaches a path outside the directory.
//
// An upload exists while its info file does. Info files are checked when
// they are read: a damaged one (truncated, not JSON, or inconsistent), or
// one whose data file is missing, gives an upload whose GetInfo fails with
// an error wrapping tus.ErrCorruptUpload that says what is wrong, and that
// Terminate removes (see FileStore.GetUpload). A data file without an info
// file, left by a creation or termination that a crash cut short, is not an
// upload: GetUpload answers tus.ErrNotFound and Usage does not count it.
// RemoveLeftovers, which the handler's expiry sweep (tus.Handler.SweepExpired)
// calls, removes such files and temporary files once they are older than
// the expiration.
//
// A full disk (ENOSPC, EDQUOT) makes every operation that writes fail with
// an error wrapping tus.ErrInsufficientStorage, which the handler answers
// with 507; what was written before is kept and counted, and a creation
// that fails leaves no file.
package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tusgo/tus"
)

const (
	// dirPerm is the mode of a directory the store or locker creates.
	dirPerm = 0o750
	// filePerm is the mode of the files the store and locker create.
	filePerm = 0o640
	// infoSuffix ends the name of an upload's info file.
	infoSuffix = ".info"
	// storageType is FileInfo.Storage["Type"] for uploads of this store.
	storageType = "filestore"
	// defaultBufferSize is the size of the copy buffer WriteChunk uses. It
	// was picked with BenchmarkWriteChunkBuffer (32, 128 and 256 KiB): on
	// ext4, 64 MiB chunks went about 20% faster than with 32 KiB and 10%
	// faster than with 128 KiB; on tmpfs all sizes were equal. It costs
	// 256 KiB per concurrently running WriteChunk, pooled, for at most
	// maxLargeBuffers of them.
	defaultBufferSize = 256 << 10
	// maxLargeBuffers is how many WriteChunk calls at once copy through
	// buffers of defaultBufferSize. Calls beyond them use buffers of
	// smallBufferSize: 100 concurrent uploads would otherwise hold 25 MiB
	// of buffers, and with that many the disk, not the copy, sets the pace.
	maxLargeBuffers = 8
	// smallBufferSize is the size of the copy buffers of WriteChunk calls
	// beyond maxLargeBuffers (io.Copy's size).
	smallBufferSize = 32 << 10
)

// Options tunes a FileStore. The zero value gives the safe defaults.
type Options struct {
	// Sync is the store's sync policy: SyncFinish (the zero value) makes
	// FinishUpload and DeclareLength durable; SyncNone skips every fsync,
	// so that uploads survive a crash of the process but not a crash of the
	// kernel or a power loss (see SyncPolicy).
	Sync SyncPolicy
	// NoSync is the same as Sync: SyncNone, which it predates. Either one
	// disables fsync.
	NoSync bool
}

// FileStore is a tus data store that keeps every upload as files in one
// directory. It implements tus.DataStore, tus.TerminaterDataStore,
// tus.ConcaterDataStore, tus.LengthDeferrerDataStore and
// tus.ContentServerDataStore. It is safe for concurrent use by many
// goroutines, and keeps no state of its own between calls besides a buffer
// pool and, with SyncFinish on Linux, the data files it is flushing in the
// background (see Close). Requests for the same upload must be serialised
// with a tus.Locker, such as FileLocker.
//
// Create a FileStore with New or NewWithOptions and do not copy it.
type FileStore struct {
	dir     string
	noSync  bool
	bufSize int
	bufs    sync.Pool // of *[]byte, each bufSize long
	small   sync.Pool // of *[]byte, each at most bufSize long
	large   atomic.Int32
	flush   flusher
	dirs    dirSyncer // group commit of directory fsyncs
}

// Close waits for the background flushes the store is running. While an
// upload streams in with SyncFinish, the store forces its data file to disk
// every few MiB in a goroutine of its own (on Linux), so that the fsync at
// the end has little left to write; that goroutine ends by itself when it
// has nothing to do, and Close waits for it and starts no more. The store
// stays usable after Close, without background flushes. Close never fails;
// it returns an error only to match the usual signature.
func (s *FileStore) Close() error {
	s.flush.close()
	return nil
}

// New returns a durable FileStore keeping its uploads in dir; it is
// NewWithOptions with the zero Options.
func New(dir string) (*FileStore, error) {
	return NewWithOptions(dir, Options{})
}

// NewWithOptions returns a FileStore keeping its uploads in dir, tuned by
// opts. It creates dir and its parents (mode 0750) if they are missing, and
// resolves dir to an absolute path, so later changes of the working
// directory do not affect the store.
func NewWithOptions(dir string, opts Options) (*FileStore, error) {
	abs, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if opts.Sync != SyncFinish && opts.Sync != SyncNone {
		return nil, fmt.Errorf("filestore: unknown sync policy %d", int(opts.Sync))
	}
	s := &FileStore{dir: abs, noSync: opts.NoSync || opts.Sync == SyncNone}
	s.dirs.init(abs)
	s.setBufferSize(defaultBufferSize)
	return s, nil
}

// prepareDir makes dir absolute and creates it if it is missing.
func prepareDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return "", fmt.Errorf("create directory: %w", err)
	}
	return abs, nil
}

// Dir returns the absolute path of the directory holding the uploads.
func (s *FileStore) Dir() string { return s.dir }

// UseIn registers the store in c as core store, terminater, concater, length
// deferrer, content server, usage reporter, lister, leftover remover and
// extender (sliding expiry). It does not set a locker; use a FileLocker or
// another tus.Locker for that.
func (s *FileStore) UseIn(c *tus.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseConcater(s)
	c.UseLengthDeferrer(s)
	c.UseContentServer(s)
	c.UseUsageReporter(s)
	c.UseLister(s)
	c.UseLeftoverRemover(s)
	c.UseExtender(s)
}

// setBufferSize sets the size of the buffers WriteChunk copies through. It
// must be called before the store is used; the benchmarks use it.
func (s *FileStore) setBufferSize(n int) {
	s.bufSize = n
	s.bufs.New = func() any {
		b := make([]byte, n)
		return &b
	}
	s.small.New = func() any {
		b := make([]byte, min(n, smallBufferSize))
		return &b
	}
}

// getBuffer returns a copy buffer, of bufSize bytes while fewer than
// maxLargeBuffers are out and smaller otherwise, and the function that
// gives it back.
func (s *FileStore) getBuffer() ([]byte, func()) {
	if s.large.Add(1) <= maxLargeBuffers {
		bp := s.bufs.Get().(*[]byte)
		return *bp, func() { s.bufs.Put(bp); s.large.Add(-1) }
	}
	s.large.Add(-1)
	bp := s.small.Get().(*[]byte)
	return *bp, func() { s.small.Put(bp) }
}

// dataPath returns the path of the data file of id, which must be valid.
func (s *FileStore) dataPath(id string) string { return filepath.Join(s.dir, id) }

// infoPath returns the path of the info file of id, which must be valid.
func (s *FileStore) infoPath(id string) string { return filepath.Join(s.dir, id+infoSuffix) }

// tempInfoPath returns the path of the temporary info file of upload id
// (see writeInfo).
func (s *FileStore) tempInfoPath(id string) string {
	return filepath.Join(s.dir, "."+id+infoSuffix+".tmp")
}

// shownID returns id for an error message, shortened if an invalid ID is
// unreasonably long.
func shownID(id string) string {
	const limit = tus.MaxIDLength + 8
	if len(id) > limit {
		return fmt.Sprintf("%q...", id[:limit])
	}
	return fmt.Sprintf("%q", id)
}
