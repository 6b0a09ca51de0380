package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
)

// smallDisk mounts a 1 MiB tmpfs on a fresh directory and returns it; it is
// unmounted when the test ends. The test is skipped, saying why, when it
// does not run as root or the mount fails.
func smallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipped: mounting a small tmpfs to fill needs root (euid %d)", os.Geteuid())
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs on %s: %v: %s", dir, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
	})
	return dir
}

// fill writes the file at path until the disk is full and returns how many
// bytes it took.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte("f"), 4096)
	var total int64
	for {
		n, err := f.Write(buf)
		total += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// names returns the sorted names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range entries {
		s = append(s, e.Name())
	}
	return s
}

// TestDiskFullPatch runs a PATCH into a disk that fills up: it answers 507
// with the offset the store holds, the upload stays sound, and once space
// is freed it resumes from there and ends byte-exact.
func TestDiskFullPatch(t *testing.T) {
	disk := smallDisk(t)
	dir := filepath.Join(disk, "store")
	srv := newServer(t, dir)
	// Leave about 400 KiB free.
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 600<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 800<<10/16)
	resp, _ := do(t, http.MethodPost, srv.URL+"/files/", map[string]string{"Upload-Length": strconv.Itoa(len(content))}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s", resp.Status)
	}
	url := resp.Header.Get("Location")
	id := url[strings.LastIndexByte(url, '/')+1:]

	resp, body := do(t, http.MethodPatch, url, map[string]string{
		"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, bytes.NewReader(content))
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "ERR_INSUFFICIENT_STORAGE") {
		t.Fatalf("PATCH into a full disk: %s %q, want 507 ERR_INSUFFICIENT_STORAGE", resp.Status, body)
	}
	if strings.Count(body, "\n") != 1 {
		t.Errorf("507 body %q is not one line", body)
	}
	fi, err := os.Stat(filepath.Join(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	stored := fi.Size()
	if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(stored, 10) {
		t.Errorf("507 Upload-Offset = %q, want %d, the bytes stored", got, stored)
	}
	if stored == 0 || stored >= int64(len(content)) {
		t.Fatalf("stored %d of %d bytes; the test wants the disk to fill in the middle", stored, len(content))
	}
	resp, _ = do(t, http.MethodHead, url, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != strconv.FormatInt(stored, 10) {
		t.Fatalf("HEAD after 507: %s, Upload-Offset %q; want 200, %d", resp.Status, resp.Header.Get("Upload-Offset"), stored)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, http.MethodPatch, url, map[string]string{
		"Upload-Offset": strconv.FormatInt(stored, 10), "Content-Type": "application/offset+octet-stream"},
		bytes.NewReader(content[stored:]))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(content)) {
		t.Fatalf("PATCH after space was freed: %s %q, Upload-Offset %q", resp.Status, body, resp.Header.Get("Upload-Offset"))
	}
	resp, body = do(t, http.MethodGet, url, nil, nil)
	if resp.StatusCode != http.StatusOK || body != string(content) {
		t.Errorf("GET: %s with %d bytes; want 200 and the content byte-exact", resp.Status, len(body))
	}
}

// TestDiskFullCreate creates uploads on a full disk: 507, and nothing of
// them is left behind.
func TestDiskFullCreate(t *testing.T) {
	disk := smallDisk(t)
	dir := filepath.Join(disk, "store")
	srv := newServer(t, dir)
	fill(t, filepath.Join(disk, "filler"))
	for _, hdr := range []map[string]string{
		{"Upload-Length": "10"},
		{"Upload-Defer-Length": "1"},
		{"Upload-Length": "5", "Content-Type": "application/offset+octet-stream"},
	} {
		var body io.Reader
		if hdr["Content-Type"] != "" {
			body = strings.NewReader("hello")
		}
		resp, text := do(t, http.MethodPost, srv.URL+"/files/", hdr, body)
		if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(text, "ERR_INSUFFICIENT_STORAGE") {
			t.Errorf("POST %v on a full disk: %s %q, want 507", hdr, resp.Status, text)
		}
		if got := names(t, dir); len(got) != 0 {
			t.Errorf("POST %v on a full disk left %q", hdr, got)
		}
	}
}

// TestDiskFullStore hits a full disk in each operation of the store that
// writes: creating, declaring a length (a new info file) and concatenating.
// Each fails with ErrInsufficientStorage and leaves the uploads as they were.
func TestDiskFullStore(t *testing.T) {
	ctx := context.Background()
	disk := smallDisk(t)
	s, err := filestore.New(filepath.Join(disk, "store"))
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), 100<<10)
	p, err := s.NewUpload(ctx, tus.FileInfo{ID: "p", Size: int64(len(part)), IsPartial: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.WriteChunk(ctx, 0, bytes.NewReader(part)); err != nil || n != int64(len(part)) {
		t.Fatalf("WriteChunk: %d, %v", n, err)
	}
	deferred, err := s.NewUpload(ctx, tus.FileInfo{ID: "d", SizeIsDeferred: true})
	if err != nil {
		t.Fatal(err)
	}
	final, err := s.NewUpload(ctx, tus.FileInfo{ID: "f", Size: int64(len(part)), IsFinal: true, PartialUploads: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, filepath.Join(disk, "filler"))
	before := names(t, s.Dir())

	_, err = s.NewUpload(ctx, tus.FileInfo{ID: "new", Size: 3})
	if !errors.Is(err, tus.ErrInsufficientStorage) {
		t.Errorf("NewUpload = %v, want ErrInsufficientStorage", err)
	}
	err = s.AsLengthDeclarableUpload(deferred).DeclareLength(ctx, 7)
	if !errors.Is(err, tus.ErrInsufficientStorage) {
		t.Errorf("DeclareLength = %v, want ErrInsufficientStorage", err)
	}
	if info, err := deferred.GetInfo(ctx); err != nil || !info.SizeIsDeferred {
		t.Errorf("GetInfo after failed DeclareLength = %+v, %v", info, err)
	}
	err = s.AsConcatableUpload(final).ConcatUploads(ctx, []tus.Upload{p})
	if !errors.Is(err, tus.ErrInsufficientStorage) {
		t.Errorf("ConcatUploads = %v, want ErrInsufficientStorage", err)
	}
	if info, err := final.GetInfo(ctx); err != nil || info.Offset != 0 {
		t.Errorf("GetInfo after failed ConcatUploads = %+v, %v; want offset 0", info, err)
	}
	if after := names(t, s.Dir()); !slices.Equal(before, after) {
		t.Errorf("the store's directory went from %q to %q", before, after)
	}
	for _, id := range []string{"p", "d", "f"} {
		up, err := s.GetUpload(ctx, id)
		if err == nil {
			_, err = up.GetInfo(ctx)
		}
		if err != nil {
			t.Errorf("upload %s after the disk filled up: %v", id, err)
		}
	}
}
