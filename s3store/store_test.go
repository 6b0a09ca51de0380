package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/s3store"
)

// TestSmallPatches writes an upload of two and a bit parts first in 1 KiB
// PATCHes (many tail objects, merged as they pile up), then in 1 MiB
// PATCHes, each request loading the upload from S3 as the handler does.
func TestSmallPatches(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(2*5*mib+300<<10, 1)
		e.create(e.store, "small", int64(len(src)), nil)
		off := 0
		for ; off < 70<<10; off += 1 << 10 {
			before := calls(e.store)
			e.write(e.store, "small", src[off:off+1<<10])
			got := callsSince(e.store, before)
			// A small PATCH lists the parts and the tail objects, then
			// writes one tail object; every 16th merges 16 of them.
			require.Equal(t, int64(1), got["ListParts"], "calls %v", got)
			require.Equal(t, int64(1), got["ListObjectsV2"], "calls %v", got)
			require.Contains(t, []int64{1, 2}, got["PutObject"], "calls %v", got)
			require.Zero(t, got["GetObject"], "the tail is cached: %v", got)
		}
		require.LessOrEqual(t, len(e.tailObjects("small")), 2*16, "tail objects are merged")

		// Another process sees the same offset and can go on: it has no
		// cache, so it reads the tail once when the part fills.
		other := e.newStore(e.client)
		_, info := e.load(other, "small")
		require.Equal(t, int64(off), info.Offset)
		for ; off < len(src); off += mib {
			end := min(off+mib, len(src))
			e.write(other, "small", src[off:end])
		}
		e.finishAndCheck(other, "small", src)
	})
}

// TestOneMiBPatchCalls counts the S3 calls of 1 MiB PATCHes: each writes
// one tail object; the part that five of them complete is uploaded after
// the fifth answered, from the cache, without reading anything back.
func TestOneMiBPatchCalls(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(6*mib, 2)
		e.create(e.store, "calls", int64(len(src)), nil)
		for i := range 5 {
			before := calls(e.store)
			e.write(e.store, "calls", src[i*mib:(i+1)*mib])
			got := callsSince(e.store, before)
			require.Equal(t, map[string]int64{"ListParts": 1, "ListObjectsV2": 1, "PutObject": 1}, got, "PATCH %d", i+1)
		}
		before := calls(e.store)
		require.NoError(t, e.store.Close()) // waits for the part upload
		require.Equal(t, map[string]int64{"UploadPart": 1, "GetObject": 1, "HeadObject": 1}, callsSince(e.store, before),
			"after the fifth PATCH: the part, and a look at the info and the object (terminated or completed meanwhile?)")
		require.Len(t, e.tailObjects("calls"), 5, "the next request deletes them")

		other := e.newStore(e.client)
		e.write(other, "calls", src[5*mib:])
		require.Equal(t, map[string]int64{"GetObject": 1, "ListParts": 1, "ListObjectsV2": 1, "UploadPart": 1, "DeleteObjects": 1}, calls(other),
			"a new process reads the info once; the last PATCH uploads the last part and deletes the old tail objects")
		e.finishAndCheck(other, "calls", src)
	})
}

// TestPartFromTailAcrossRequests lets the next PATCHes come while the part
// that small PATCHes completed is uploaded after the response, in this
// process and in another one that has no cache and no job.
func TestPartFromTailAcrossRequests(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(16*mib+77, 3)
		e.create(e.store, "bg", int64(len(src)), nil)
		off := 0
		for ; off < 6*mib; off += mib { // part 1 completes at 5 MiB
			e.write(e.store, "bg", src[off:off+mib])
		}
		// Another process, with the part perhaps not uploaded yet, sees the
		// right offset and writes past it, up to a big chunk.
		other := e.newStore(e.client)
		_, info := e.load(other, "bg")
		require.Equal(t, int64(off), info.Offset)
		e.write(other, "bg", src[off:off+mib])
		off += mib
		e.write(other, "bg", src[off:]) // crosses parts 2 and 3: part 1 must be a part first
		e.finishAndCheck(other, "bg", src)
	})
}

// TestLargePatch streams 1 GiB (64 MiB with -short) in one WriteChunk.
func TestLargePatch(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 * mib
	}
	forEachServer(t, s3store.Options{PartSize: 16 * mib}, func(t *testing.T, e *env) {
		up := e.create(e.store, "large", size, nil)
		src := newStream(size, 3)
		n, err := up.WriteChunk(context.Background(), 0, src)
		require.NoError(t, err)
		require.Equal(t, size, n)
		e.finish(e.store, "large")
		out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket, Key: aws.String("large")})
		require.NoError(t, err)
		defer out.Body.Close()
		h := sha256.New()
		got, err := io.Copy(h, out.Body)
		require.NoError(t, err)
		require.Equal(t, size, got)
		require.Equal(t, src.sum.Sum(nil), h.Sum(nil))
		e.requireClean("large", "large.info")
	})
}

// TestDeferredLength declares the length after the last byte arrived, with
// bytes still in the tail: they must be in the object.
func TestDeferredLength(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(11*mib+7, 4)
		e.create(e.store, "deferred", -1, nil)
		e.write(e.store, "deferred", src[:3*mib])
		e.write(e.store, "deferred", src[3*mib:])
		up, info := e.load(e.store, "deferred")
		require.True(t, info.SizeIsDeferred)
		require.Equal(t, int64(len(src)), info.Offset)
		require.NoError(t, e.store.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), int64(len(src))))
		e.finishAndCheck(e.store, "deferred", src)
	})
}

// TestDeferredLengthDeclaredEarly declares the length in the middle.
func TestDeferredLengthDeclaredEarly(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(7*mib, 5)
		e.create(e.store, "early", -1, nil)
		e.write(e.store, "early", src[:2*mib])
		up, _ := e.load(e.store, "early")
		require.NoError(t, e.store.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), int64(len(src))))
		e.write(e.store, "early", src[2*mib:])
		e.finish(e.store, "early")
		require.Equal(t, src, e.object("early"))
	})
}

// TestMaxObjectSize refuses uploads larger than the object limit at
// creation, and stops a deferred-length upload that grows past it.
func TestMaxObjectSize(t *testing.T) {
	forEachServer(t, s3store.Options{MaxObjectSize: 6 * mib}, func(t *testing.T, e *env) {
		_, err := e.store.NewUpload(context.Background(), tus.FileInfo{ID: "big", Size: 6*mib + 1})
		require.ErrorIs(t, err, tus.ErrMaxSizeExceeded)

		up := e.create(e.store, "grows", -1, nil)
		n, err := up.WriteChunk(context.Background(), 0, bytes.NewReader(data(6*mib+10, 6)))
		require.ErrorIs(t, err, tus.ErrMaxSizeExceeded)
		require.Equal(t, int64(6*mib), n, "bytes up to the limit are kept")
		_, info := e.load(e.store, "grows")
		require.Equal(t, int64(6*mib), info.Offset)
	})
}

// TestConcatenation concatenates partials by server-side copy when they are
// big enough and by streaming otherwise or when copying is disabled.
func TestConcatenation(t *testing.T) {
	cases := []struct {
		name    string
		opts    s3store.Options
		sizes   []int
		copying bool
	}{
		{"big partials", s3store.Options{}, []int{5 * mib, 6*mib + 1, 1000}, true},
		{"small partials", s3store.Options{}, []int{1000, 0, 3 * mib, 70}, false},
		{"part copy disabled", s3store.Options{DisablePartCopy: true}, []int{5 * mib, 6*mib + 1, 1000}, false},
		{"equal parts", s3store.Options{EqualParts: true}, []int{6 * mib, 5 * mib}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachServer(t, tc.opts, func(t *testing.T, e *env) {
				var all []byte
				var partials []tus.Upload
				for i, size := range tc.sizes {
					id := fmt.Sprintf("p%d", i)
					src := data(size, uint64(10+i))
					all = append(all, src...)
					e.create(e.store, id, int64(size), nil)
					if size > 0 {
						e.write(e.store, id, src)
					}
					e.finish(e.store, id)
					up, _ := e.load(e.store, id)
					partials = append(partials, up)
				}
				final, err := e.store.NewUpload(context.Background(), tus.FileInfo{ID: "final", Size: int64(len(all)), IsFinal: true, MetaData: tus.MetaData{"filename": "all.bin"}})
				require.NoError(t, err)
				before := calls(e.store)
				require.NoError(t, e.store.AsConcatableUpload(final).ConcatUploads(context.Background(), partials))
				require.NoError(t, final.FinishUpload(context.Background()))
				got := callsSince(e.store, before)
				if tc.copying {
					require.Positive(t, got["UploadPartCopy"], "calls %v", got)
					require.Zero(t, got["GetObject"], "calls %v", got)
				} else {
					require.Zero(t, got["UploadPartCopy"], "calls %v", got)
				}
				require.Equal(t, sha256.Sum256(all), sha256.Sum256(e.object("final")))
				_, info := e.load(e.store, "final")
				require.Equal(t, int64(len(all)), info.Offset)
				require.Equal(t, "all.bin", info.MetaData["filename"])
			})
		})
	}
}

// TestTermination leaves no object and no multipart upload behind, for an
// upload with parts and tail objects and for a finished one.
func TestTermination(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		e.create(e.store, "half", 20*mib, nil)
		e.write(e.store, "half", data(7*mib, 7))
		e.write(e.store, "half", data(1000, 8))
		require.NotEmpty(t, e.tailObjects("half"))
		e.create(e.store, "whole", 1000, nil)
		e.write(e.store, "whole", data(1000, 9))
		e.finish(e.store, "whole")

		for _, id := range []string{"half", "whole"} {
			up, _ := e.load(e.store, id)
			require.NoError(t, e.store.AsTerminatableUpload(up).Terminate(context.Background()))
			_, err := e.store.GetUpload(context.Background(), id)
			require.ErrorIs(t, err, tus.ErrNotFound)
			_, err = e.newStore(e.client).GetUpload(context.Background(), id)
			require.ErrorIs(t, err, tus.ErrNotFound)
		}
		e.requireClean()
	})
}

// TestMetadata keeps Unicode metadata exactly in the info and makes the
// object's metadata readable, with filetype as Content-Type.
func TestMetadata(t *testing.T) {
	md := tus.MetaData{
		"filename": "Grüße ✓ 東京.txt",
		"filetype": "text/plain; charset=utf-8",
		"plain":    "ascii only",
		"trick":    "=?utf-8?q?not-encoded?=",
		"empty":    "",
		"ünicode":  "key",
	}
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		e.create(e.store, "md", 5, md)
		e.write(e.store, "md", []byte("hello"))
		e.finish(e.store, "md")
		_, info := e.load(e.newStore(e.client), "md")
		require.Equal(t, md, info.MetaData)

		head, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: aws.String("md")})
		require.NoError(t, err)
		require.Equal(t, md["filetype"], aws.ToString(head.ContentType))
		got := s3store.DecodeMetadata(head.Metadata)
		for _, k := range []string{"filename", "plain", "trick"} {
			require.Equal(t, md[k], got[k], "metadata %q as stored on the object", k)
		}
	})
}

// TestChecksumMismatchAcrossParts rejects a chunk that spans several parts
// after they uploaded: the upload is as before it, tail included.
func TestChecksumMismatchAcrossParts(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(18*mib, 12)
		e.create(e.store, "sum", int64(len(src)), nil)
		e.write(e.store, "sum", src[:1000])

		up, info := e.load(e.store, "sum")
		bad := bytes.Clone(src[1000 : 13*mib])
		bad[len(bad)-1] ^= 1
		mismatch := fmt.Errorf("verifying: %w", tus.ErrChecksumMismatch)
		n, err := up.WriteChunk(context.Background(), info.Offset, &failingReader{r: bytes.NewReader(bad), err: mismatch})
		require.ErrorIs(t, err, tus.ErrChecksumMismatch)
		require.Zero(t, n)

		// Another process sees the upload as it was.
		_, info = e.load(e.newStore(e.client), "sum")
		require.Equal(t, int64(1000), info.Offset)

		// The next chunk is shorter than the rejected one: the parts the
		// rejected chunk left beyond it must not count.
		e.write(e.store, "sum", src[1000:6*mib])
		_, info = e.load(e.newStore(e.client), "sum")
		require.Equal(t, int64(6*mib), info.Offset)
		e.write(e.store, "sum", src[6*mib:])
		e.finishAndCheck(e.store, "sum", src)
	})
}

// TestReadErrorKeepsBytes stores every byte read before the body broke off,
// in parts and the tail.
func TestReadErrorKeepsBytes(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(14*mib, 13)
		e.create(e.store, "cut", int64(len(src)), nil)
		up, _ := e.load(e.store, "cut")
		broken := errors.New("connection reset")
		n, err := up.WriteChunk(context.Background(), 0, &failingReader{r: bytes.NewReader(src[:11*mib+5]), err: broken})
		require.ErrorIs(t, err, broken)
		require.Equal(t, int64(11*mib+5), n)
		_, info := e.load(e.newStore(e.client), "cut")
		require.Equal(t, n, info.Offset)
		e.write(e.store, "cut", src[n:])
		e.finish(e.store, "cut")
		require.Equal(t, sha256.Sum256(src), sha256.Sum256(e.object("cut")))
	})
}

// TestBoundedBuffers runs concurrent uploads with a budget far smaller than
// their parts (in memory and in temporary files): requests wait or store
// what they hold as tail objects, never deadlock, and lose nothing.
func TestBoundedBuffers(t *testing.T) {
	for _, mode := range []string{"memory", "tempdir"} {
		t.Run(mode, func(t *testing.T) {
			opts := s3store.Options{MaxBufferedBytes: 3 * mib}
			if mode == "tempdir" {
				opts.TempDir = t.TempDir()
			}
			forEachServer(t, opts, func(t *testing.T, e *env) {
				var wg sync.WaitGroup
				srcs := make([][]byte, 4)
				for i := range srcs {
					srcs[i] = data(12*mib+i, uint64(20+i))
					id := fmt.Sprintf("u%d", i)
					up := e.create(e.store, id, int64(len(srcs[i])), nil)
					wg.Add(1)
					go func() {
						defer wg.Done()
						n, err := up.WriteChunk(context.Background(), 0, bytes.NewReader(srcs[i]))
						if err != nil || n != int64(len(srcs[i])) {
							t.Errorf("%s: stored %d, %v", id, n, err)
						}
					}()
				}
				wg.Wait()
				for i, src := range srcs {
					id := fmt.Sprintf("u%d", i)
					e.finish(e.store, id)
					require.Equal(t, sha256.Sum256(src), sha256.Sum256(e.object(id)))
				}
				if opts.TempDir != "" {
					left, err := os.ReadDir(opts.TempDir)
					require.NoError(t, err)
					require.Empty(t, left, "temporary files are gone")
				}
			})
		})
	}
}

// TestZeroLength finishes an empty upload into an empty object.
func TestZeroLength(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		e.create(e.store, "empty", 0, nil)
		e.finish(e.store, "empty")
		require.Empty(t, e.object("empty"))
		_, info := e.load(e.newStore(e.client), "empty")
		require.True(t, info.IsComplete())
	})
}

// TestNotFound answers tus.ErrNotFound for unknown and invalid IDs.
func TestNotFound(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		for _, id := range []string{"nope", "../x", ""} {
			_, err := e.store.GetUpload(context.Background(), id)
			require.ErrorIs(t, err, tus.ErrNotFound, id)
		}
	})
}

// TestUploadExists refuses to create an upload whose ID is taken, and leaves
// the existing one as it was.
func TestUploadExists(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		e.create(e.store, "taken", 3, nil)
		e.write(e.store, "taken", []byte("abc"))
		_, err := e.newStore(e.client).NewUpload(context.Background(), tus.FileInfo{ID: "taken", Size: 10})
		require.ErrorIs(t, err, tus.ErrUploadExists)
		_, info := e.load(e.store, "taken")
		require.Equal(t, int64(3), info.Size)
		e.finishAndCheck(e.store, "taken", []byte("abc"))
	})
}

// TestDisableContentHashes uploads parts and tail objects with unsigned
// payloads: both servers take them and the bytes are exact.
func TestDisableContentHashes(t *testing.T) {
	forEachServer(t, s3store.Options{DisableContentHashes: true}, func(t *testing.T, e *env) {
		src := data(12*mib+5, 70)
		e.create(e.store, "unsigned", int64(len(src)), nil)
		e.write(e.store, "unsigned", src[:3*mib+1])
		e.write(e.store, "unsigned", src[3*mib+1:])
		e.finishAndCheck(e.store, "unsigned", src)
	})
}
