package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/golang/mock/gomock"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/limitedstore"
	"github.com/tusgo/tus/s3store"
)

// prefixVariants are the prefix settings the enumeration tests run with:
// one listing for every key, and info objects apart from the others.
var prefixVariants = []struct {
	name string
	opts s3store.Options
}{
	{"equal-prefixes", s3store.Options{}},
	{"distinct-prefixes", s3store.Options{ObjectPrefix: "o/", InfoPrefix: "i/"}},
}

// forEachVariant runs fn for every prefix variant on every server.
func forEachVariant(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, v := range prefixVariants {
		t.Run(v.name, func(t *testing.T) { forEachServer(t, v.opts, fn) })
	}
}

// createWith makes an upload of size bytes (-1: deferred) expiring at exp.
func (e *env) createWith(s *s3store.Store, id string, size int64, exp time.Time) {
	e.t.Helper()
	info := tus.FileInfo{ID: id, Size: size, ExpiresAt: exp}
	if size < 0 {
		info.Size, info.SizeIsDeferred = 0, true
	}
	_, err := s.NewUpload(context.Background(), info)
	require.NoError(e.t, err)
}

// put writes an object with body b.
func (e *env) put(key string, b []byte) {
	e.t.Helper()
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.bucket, Key: aws.String(key), Body: bytes.NewReader(b)})
	require.NoError(e.t, err)
}

// list returns every upload ListUploads reports, in the order reported.
func list(t *testing.T, s *s3store.Store) []tus.ListedUpload {
	t.Helper()
	var out []tus.ListedUpload
	require.NoError(t, s.ListUploads(context.Background(), func(u tus.ListedUpload) error {
		out = append(out, u)
		return nil
	}))
	return out
}

// byID indexes listed uploads, failing the test on an ID reported twice.
func byID(t *testing.T, ups []tus.ListedUpload) map[string]tus.ListedUpload {
	t.Helper()
	m := map[string]tus.ListedUpload{}
	for _, u := range ups {
		_, dup := m[u.ID]
		require.False(t, dup, "upload %q reported twice", u.ID)
		m[u.ID] = u
	}
	return m
}

// pages returns how many listing calls of page size p list n keys: at
// least ceil(n/p), and one more when n is a multiple of p on services that
// mark the page ending with the last key as truncated (MinIO).
func pages(n, p int) (least, most int64) { return int64(max(1, (n+p-1)/p)), int64(n/p + 1) }

// TestListUploads creates finished, unfinished, deferred, damaged and
// terminated uploads whose IDs nest ("a", "a-", "a-b", "a-b-c": '-' sorts
// before '.', so their keys interleave) beside keys that are not the
// store's, and lists them with another Store two keys per page: every
// upload is reported exactly once with its state and expiry, the
// terminated one not at all, and the calls are the documented ones:
// ceil(keys/page) listings per prefix and one GetObject per unfinished
// upload.
func TestListUploads(t *testing.T) {
	forEachVariant(t, func(t *testing.T, e *env) {
		exp := time.Date(2031, 2, 3, 4, 5, 6, 7000, time.UTC)
		s := e.store
		e.createWith(s, "a", 10, exp)
		e.write(s, "a", data(10, 1))
		e.finish(s, "a")
		e.createWith(s, "a-b-c", 4, time.Time{})
		e.write(s, "a-b-c", data(4, 2))
		e.finish(s, "a-b-c")
		e.createWith(s, "a-b", 100, exp)
		e.write(s, "a-b", data(3, 3)) // a tail object
		e.createWith(s, "a-", 50, exp.Add(time.Hour))
		e.createWith(s, "ab", -1, exp.Add(2*time.Hour))
		e.write(s, "ab", data(5, 4))
		e.createWith(s, "a_", 20, time.Time{})
		e.createWith(s, "gone", 20, exp)
		up, _ := e.load(s, "gone")
		require.NoError(t, s.AsTerminatableUpload(up).Terminate(context.Background()))
		e.put(e.opts.InfoPrefix+"dmg.info", []byte("{not json"))
		e.put(e.opts.ObjectPrefix+"notes.txt", []byte("not an upload"))
		e.put(e.opts.ObjectPrefix+"x/y.info", []byte("not an upload"))
		e.put(e.opts.InfoPrefix+"readme", []byte("not an upload"))

		fresh := e.newStore(e.client)
		s3store.SetListPageSize(fresh, 2)
		before := calls(fresh)
		got := byID(t, list(t, fresh))
		require.Equal(t, map[string]tus.ListedUpload{
			"a":     {ID: "a", Finished: true},
			"a-b-c": {ID: "a-b-c", Finished: true},
			"a-b":   {ID: "a-b", ExpiresAt: exp},
			"a-":    {ID: "a-", ExpiresAt: exp.Add(time.Hour)},
			"ab":    {ID: "ab", ExpiresAt: exp.Add(2 * time.Hour)},
			"a_":    {ID: "a_"},
			"dmg":   {ID: "dmg"},
		}, normalize(got))

		keys := s3test.Objects(t, e.client, e.bucket)
		count := func(prefix string) int {
			n := 0
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) {
					n++
				}
			}
			return n
		}
		least, most := pages(count(e.opts.ObjectPrefix), 2)
		if e.opts.InfoPrefix != e.opts.ObjectPrefix {
			l, m := pages(count(e.opts.InfoPrefix), 2)
			least, most = least+l, most+m
		}
		made := callsSince(fresh, before)
		require.Equal(t, []string{"GetObject", "ListObjectsV2"}, slices.Sorted(maps.Keys(made)), "operations called")
		require.Equal(t, int64(5), made["GetObject"], "one GetObject per unfinished upload")
		require.True(t, made["ListObjectsV2"] >= least && made["ListObjectsV2"] <= most,
			"%d ListObjectsV2 calls for %d keys, 2 per page: want %d to %d", made["ListObjectsV2"], len(keys), least, most)

		// fn's error stops the listing and is returned.
		stop := errors.New("stop")
		n := 0
		err := fresh.ListUploads(context.Background(), func(tus.ListedUpload) error {
			n++
			return stop
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 1, n)
	})
}

// normalize makes times comparable with require.Equal (the location of a
// time read back from JSON differs).
func normalize(m map[string]tus.ListedUpload) map[string]tus.ListedUpload {
	for id, u := range m {
		if !u.ExpiresAt.IsZero() {
			u.ExpiresAt = u.ExpiresAt.UTC()
		}
		m[id] = u
	}
	return m
}

// TestUsageCountsExistingUploads creates uploads with one Store and asks
// another (a later process) for its usage, directly and through
// limitedstore as tusd's -store-size does: a finished upload counts its
// size, an unfinished one of known length its length, a deferred one the
// bytes it holds (a part and a tail object), a terminated one nothing.
func TestUsageCountsExistingUploads(t *testing.T) {
	forEachVariant(t, func(t *testing.T, e *env) {
		s := e.store
		e.createWith(s, "fin", 7, time.Time{})
		e.write(s, "fin", data(7, 5))
		e.finish(s, "fin")
		e.createWith(s, "part", 1000, time.Time{})
		e.write(s, "part", data(3, 6))
		e.createWith(s, "def", -1, time.Time{})
		e.write(s, "def", data(5*mib+3, 7))
		_, info := e.load(s, "def")
		require.Equal(t, int64(5*mib+3), info.Offset)
		e.createWith(s, "gone", 500, time.Time{})
		up, _ := e.load(s, "gone")
		require.NoError(t, s.AsTerminatableUpload(up).Terminate(context.Background()))
		want := int64(7 + 1000 + 5*mib + 3)

		later := e.newStore(e.client)
		s3store.SetListPageSize(later, 2)
		before := calls(later)
		used, err := later.Usage(context.Background())
		require.NoError(t, err)
		require.Equal(t, want, used)
		require.Equal(t, int64(1), callsSince(later, before)["ListParts"], "one ListParts for the deferred upload")

		c := tus.NewStoreComposer()
		later.UseIn(c)
		require.True(t, c.UsesUsageReporter() && c.UsesLister() && c.UsesLeftoverRemover() && c.UsesExtender())
		limited, err := limitedstore.New(context.Background(), want+10, c)
		require.NoError(t, err)
		require.Equal(t, want, limited.Used())
	})
}

// TestExtendExpiryRoundTrip moves the expiry of an upload in one Store
// while another has its info cached: the other sees the new expiry at its
// next load and in its listing, as does a third, fresh one.
func TestExtendExpiryRoundTrip(t *testing.T) {
	forEachVariant(t, func(t *testing.T, e *env) {
		t1 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		t2 := t1.Add(36 * time.Hour)
		e.createWith(e.store, "x", 100, t1)
		e.write(e.store, "x", data(3, 8))
		other := e.newStore(e.client)
		_, info := e.load(other, "x")
		require.True(t, t1.Equal(info.ExpiresAt))

		up, _ := e.load(e.store, "x")
		require.NoError(t, e.store.AsExtendableUpload(up).ExtendExpiry(context.Background(), t2))
		_, info = e.load(e.store, "x")
		require.True(t, t2.Equal(info.ExpiresAt), "own store: %v", info.ExpiresAt)
		_, info = e.load(other, "x")
		require.True(t, t2.Equal(info.ExpiresAt), "other store: %v", info.ExpiresAt)
		require.Equal(t, int64(3), info.Offset)
		for _, s := range []*s3store.Store{other, e.newStore(e.client)} {
			got := byID(t, list(t, s))
			require.Len(t, got, 1)
			require.True(t, t2.Equal(got["x"].ExpiresAt), "listed: %v", got["x"].ExpiresAt)
		}
		err := e.store.AsExtendableUpload(foreign{}).ExtendExpiry(context.Background(), t2)
		require.ErrorIs(t, err, tus.ErrNotImplemented)
	})
}

// foreign is an upload of another store.
type foreign struct{ tus.Upload }

// TestEnumerationUnavailable makes listings fail as a throttling service
// does, after the SDK's retries: ListUploads, Usage and RemoveLeftovers
// fail with tus.ErrUnavailable, like every other call of the store.
func TestEnumerationUnavailable(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		e.createWith(e.store, "u", 10, time.Time{})
		s := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().ListObjectsV2(gomock.Any(), gomock.Any()).Return(nil, injected("SlowDown")).Times(3)
		}))
		err := s.ListUploads(context.Background(), func(tus.ListedUpload) error { return nil })
		require.ErrorIs(t, err, tus.ErrUnavailable)
		_, err = s.Usage(context.Background())
		require.ErrorIs(t, err, tus.ErrUnavailable)
		_, err = s.RemoveLeftovers(context.Background(), time.Now())
		require.ErrorIs(t, err, tus.ErrUnavailable)
		// The fault is over: the listing works.
		require.Len(t, list(t, s), 1)
	})
}
