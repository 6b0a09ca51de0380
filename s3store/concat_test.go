package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/s3store"
)

// TestConcatenationRepeatedPartial: tus 1.0 lets a final upload name the
// same partial several times and several final uploads use one partial.
// Every occurrence becomes its own parts (by copy or by streaming), the
// finals are made at the same time from the same partials, and the
// partials' objects are neither changed nor deleted.
func TestConcatenationRepeatedPartial(t *testing.T) {
	cases := []struct {
		name    string
		opts    s3store.Options
		a, b    int
		copying bool
	}{
		{"part copy", s3store.Options{}, 5*mib + 123, 5*mib + 7, true},
		{"part copy single process", s3store.Options{SingleProcess: true}, 5*mib + 123, 5*mib + 7, true},
		{"part copy disabled", s3store.Options{DisablePartCopy: true}, 5*mib + 123, 5*mib + 7, false},
		{"small partials", s3store.Options{}, 3000, 1500, false},
		{"small partials single process", s3store.Options{SingleProcess: true}, 3000, 1500, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachServer(t, tc.opts, func(t *testing.T, e *env) {
				ctx := context.Background()
				a, b := data(tc.a, 51), data(tc.b, 52)
				for id, src := range map[string][]byte{"pa": a, "pb": b} {
					e.create(e.store, id, int64(len(src)), nil)
					e.write(e.store, id, src)
					e.finish(e.store, id)
				}
				before := map[string]objectState{}
				for _, key := range []string{"pa", "pa.info", "pb", "pb.info"} {
					before[key] = e.objectState(key)
				}
				pa, _ := e.load(e.store, "pa")
				pb, _ := e.load(e.store, "pb")
				load := func(id string) tus.Upload {
					up, _ := e.load(e.store, id)
					return up
				}
				finals := []struct {
					id       string
					partials []tus.Upload
					want     []byte
				}{
					{"aba", []tus.Upload{pa, pb, pa}, bytes.Join([][]byte{a, b, a}, nil)}, // one handle twice
					{"aba-loaded", []tus.Upload{load("pa"), load("pb"), load("pa")}, bytes.Join([][]byte{a, b, a}, nil)},
					{"ab", []tus.Upload{load("pa"), load("pb")}, bytes.Join([][]byte{a, b}, nil)},
					{"baa", []tus.Upload{load("pb"), load("pa"), load("pa")}, bytes.Join([][]byte{b, a, a}, nil)},
				}
				ups := make([]tus.Upload, len(finals))
				occurrences := 0
				for i, f := range finals {
					var err error
					ups[i], err = e.store.NewUpload(ctx, tus.FileInfo{ID: f.id, Size: int64(len(f.want)), IsFinal: true})
					require.NoError(t, err)
					occurrences += len(f.partials)
				}
				calls0 := calls(e.store)
				errs := make([]error, len(finals))
				var wg sync.WaitGroup
				for i, f := range finals {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if errs[i] = e.store.AsConcatableUpload(ups[i]).ConcatUploads(ctx, f.partials); errs[i] == nil {
							errs[i] = ups[i].FinishUpload(ctx)
						}
					}()
				}
				wg.Wait()
				got := callsSince(e.store, calls0)
				for i, f := range finals {
					require.NoError(t, errs[i], "final %s", f.id)
				}
				if tc.copying {
					// One part per occurrence: a repeated partial is copied again.
					require.Equal(t, int64(occurrences), got["UploadPartCopy"], "calls %v", got)
					require.Zero(t, got["GetObject"], "calls %v", got)
				} else {
					require.Zero(t, got["UploadPartCopy"], "calls %v", got)
					// Each occurrence is read (tail objects may add reads).
					require.GreaterOrEqual(t, got["GetObject"], int64(occurrences), "calls %v", got)
				}

				keys := []string{"pa", "pa.info", "pb", "pb.info"}
				for _, f := range finals {
					require.Equal(t, sha256.Sum256(f.want), sha256.Sum256(e.object(f.id)), "bytes of final %s", f.id)
					_, info := e.load(e.store, f.id)
					require.Equal(t, int64(len(f.want)), info.Offset, "offset of final %s", f.id)
					keys = append(keys, f.id, f.id+".info")
				}
				// The partials are as they were, and nothing else is left.
				for key, st := range before {
					require.Equal(t, st, e.objectState(key), "object %s after concatenation", key)
				}
				for id, src := range map[string][]byte{"pa": a, "pb": b} {
					require.Equal(t, sha256.Sum256(src), before[id].sum, "bytes of partial %s", id)
					up, info := e.load(e.store, id)
					require.True(t, info.IsComplete(), "partial %s: offset %d of %d", id, info.Offset, info.Size)
					require.Equal(t, int64(len(src)), info.Offset)
					require.True(t, up.(tus.FinishReporter).Finished(), "partial %s is no longer finished", id)
				}
				e.requireClean(keys...)

				// A fresh store (another process) sees the same.
				other := e.newStore(e.client)
				for _, f := range finals {
					_, info := e.load(other, f.id)
					require.True(t, info.IsComplete(), "final %s in another store", f.id)
				}
			})
		})
	}
}

// objectState is what identifies an object's content.
type objectState struct {
	etag string
	size int64
	sum  [sha256.Size]byte
}

// objectState returns the state of the object at key (the store's prefix
// added).
func (e *env) objectState(key string) objectState {
	e.t.Helper()
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket, Key: aws.String(e.opts.ObjectPrefix + key)})
	require.NoError(e.t, err, "object %s", key)
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	require.NoError(e.t, err, "object %s", key)
	st := objectState{etag: aws.ToString(out.ETag), size: n}
	copy(st.sum[:], h.Sum(nil))
	return st
}
