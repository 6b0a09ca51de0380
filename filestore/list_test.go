package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tusgo/tus"
)

func TestListUploads(t *testing.T) {
	s, _ := testStore(t, Options{NoSync: true})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	// More than one batch of directory entries (each upload has two).
	const n = 3*listBatch + 7
	want := map[string]tus.ListedUpload{}
	for i := range n {
		id := fmt.Sprintf("up%04d", i)
		info := tus.FileInfo{ID: id, Size: 2, ExpiresAt: exp}
		if i%3 == 1 {
			info.Size, info.SizeIsDeferred = 0, true
		}
		up, err := s.NewUpload(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // complete
			write(t, up, 0, []byte("ab"))
			want[id] = tus.ListedUpload{ID: id, Finished: true}
		default: // deferred, or one byte of two
			if i%3 == 2 {
				write(t, up, 0, []byte("a"))
			}
			want[id] = tus.ListedUpload{ID: id, ExpiresAt: exp}
		}
	}
	// A damaged record, a leftover data file and a temporary file.
	if err := os.WriteFile(s.infoPath("damaged"), []byte("{"), filePerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.dataPath("damaged"), nil, filePerm); err != nil {
		t.Fatal(err)
	}
	want["damaged"] = tus.ListedUpload{ID: "damaged"}
	if err := os.WriteFile(s.dataPath("orphan"), nil, filePerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, ".x.info.1.tmp"), nil, filePerm); err != nil {
		t.Fatal(err)
	}

	got := map[string]tus.ListedUpload{}
	err := s.ListUploads(ctx, func(lu tus.ListedUpload) error {
		if _, dup := got[lu.ID]; dup {
			t.Errorf("%q listed twice", lu.ID)
		}
		got[lu.ID] = lu
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("listed %d uploads, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok || g.ID != w.ID || g.Finished != w.Finished || !g.ExpiresAt.Equal(w.ExpiresAt) {
			t.Errorf("%q listed as %+v (present %v), want %+v", id, g, ok, w)
		}
	}

	// fn's error stops the listing and comes back.
	stop := errors.New("stop")
	calls := 0
	err = s.ListUploads(ctx, func(tus.ListedUpload) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListUploads with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
	if err := s.ListUploads(cancelled(), func(tus.ListedUpload) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ListUploads with a cancelled context = %v", err)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	s, root := testStore(t, Options{NoSync: true})
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	age := func(name string) {
		t.Helper()
		if err := os.Chtimes(filepath.Join(s.dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	put := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte("x"), filePerm); err != nil {
			t.Fatal(err)
		}
	}
	up := create(t, s, "kept", 4)
	write(t, up, 0, []byte("ab"))
	age("kept")
	age("kept.info")
	put("orphan") // data file of a creation a crash cut short
	age("orphan")
	put(".kept.info.123.tmp") // temporary info file
	age(".kept.info.123.tmp")
	put("young") // a creation in progress
	put("other.txt")
	age("other.txt")
	put("kept.lock") // the locker's
	age("kept.lock")
	if err := os.Mkdir(filepath.Join(s.dir, "sub"), dirPerm); err != nil {
		t.Fatal(err)
	}

	n, err := s.RemoveLeftovers(ctx, time.Now().Add(-time.Minute))
	if err != nil || n != 2 {
		t.Errorf("RemoveLeftovers = %d, %v; want 2, nil", n, err)
	}
	got := listDir(t, s.dir)
	want := []string{"kept", "kept.info", "kept.lock", "other.txt", "sub", "young"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("store holds %q, want %q", got, want)
	}
	if offsetOf(t, up) != 2 {
		t.Error("the kept upload changed")
	}
	assertOnlyStore(t, root)
}

func TestExtendExpiry(t *testing.T) {
	s, _ := testStore(t, Options{})
	ctx := context.Background()
	up := create(t, s, "up", 4)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := s.AsExtendableUpload(up).ExtendExpiry(ctx, exp); err != nil {
		t.Fatal(err)
	}
	again, err := s.GetUpload(ctx, "up")
	if err != nil {
		t.Fatal(err)
	}
	info, err := again.GetInfo(ctx)
	if err != nil || !info.ExpiresAt.Equal(exp) {
		t.Errorf("after ExtendExpiry the record says %v (%v), want %v", info.ExpiresAt, err, exp)
	}
	if err := s.AsTerminatableUpload(up).Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AsExtendableUpload(up).ExtendExpiry(ctx, exp); !errors.Is(err, tus.ErrNotFound) {
		t.Errorf("ExtendExpiry of a terminated upload = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(s.infoPath("up")); !errors.Is(err, os.ErrNotExist) {
		t.Error("ExtendExpiry brought a terminated upload's record back")
	}
	if err := s.AsExtendableUpload(fakeUpload{}).ExtendExpiry(ctx, exp); err == nil {
		t.Error("ExtendExpiry of a foreign upload succeeded")
	}
}
