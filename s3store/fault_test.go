package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/golang/mock/gomock"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/s3store"
)

// passThrough returns a mock S3API that forwards every call to the real
// client; a test then overrides single calls to inject faults. Expectations
// added later take precedence in gomock only when earlier ones are
// exhausted, so faults are set up first, with Times.
func passThrough(t *testing.T, real *s3.Client, faults func(m *MockS3API)) *MockS3API {
	m := NewMockS3API(gomock.NewController(t))
	if faults != nil {
		faults(m)
	}
	m.EXPECT().PutObject(gomock.Any(), gomock.Any()).DoAndReturn(real.PutObject).AnyTimes()
	m.EXPECT().GetObject(gomock.Any(), gomock.Any()).DoAndReturn(real.GetObject).AnyTimes()
	m.EXPECT().HeadObject(gomock.Any(), gomock.Any()).DoAndReturn(real.HeadObject).AnyTimes()
	m.EXPECT().DeleteObjects(gomock.Any(), gomock.Any()).DoAndReturn(real.DeleteObjects).AnyTimes()
	m.EXPECT().ListObjectsV2(gomock.Any(), gomock.Any()).DoAndReturn(real.ListObjectsV2).AnyTimes()
	m.EXPECT().CreateMultipartUpload(gomock.Any(), gomock.Any()).DoAndReturn(real.CreateMultipartUpload).AnyTimes()
	m.EXPECT().UploadPart(gomock.Any(), gomock.Any()).DoAndReturn(real.UploadPart).AnyTimes()
	m.EXPECT().UploadPartCopy(gomock.Any(), gomock.Any()).DoAndReturn(real.UploadPartCopy).AnyTimes()
	m.EXPECT().ListParts(gomock.Any(), gomock.Any()).DoAndReturn(real.ListParts).AnyTimes()
	m.EXPECT().CompleteMultipartUpload(gomock.Any(), gomock.Any()).DoAndReturn(real.CompleteMultipartUpload).AnyTimes()
	m.EXPECT().AbortMultipartUpload(gomock.Any(), gomock.Any()).DoAndReturn(real.AbortMultipartUpload).AnyTimes()
	m.EXPECT().ListMultipartUploads(gomock.Any(), gomock.Any()).DoAndReturn(real.ListMultipartUploads).AnyTimes()
	return m
}

func injected(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "injected by the test"}
}

// partNumber matches UploadPart calls for one part number.
type partNumber int32

func (p partNumber) Matches(x any) bool {
	in, ok := x.(*s3.UploadPartInput)
	return ok && aws.ToInt32(in.PartNumber) == int32(p)
}
func (p partNumber) String() string { return "part number " + string(rune('0'+p)) }

// TestPartUploadFailsMidway fails part 3 of a five-part chunk while parts
// after it may upload: the chunk keeps parts 1 and 2, the parts beyond the
// gap never count, and resuming writes exactly the upload's bytes.
func TestPartUploadFailsMidway(t *testing.T) {
	forEachServer(t, s3store.Options{ConcurrentPartUploads: 4}, func(t *testing.T, e *env) {
		src := data(24*mib+3, 30)
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().UploadPart(gomock.Any(), partNumber(3)).Return(nil, injected("InternalError")).Times(1)
		}))
		up := e.create(faulty, "mid", int64(len(src)), nil)
		n, err := up.WriteChunk(context.Background(), 0, bytes.NewReader(src))
		require.Error(t, err)
		require.Equal(t, int64(10*mib), n, "parts 1 and 2 are stored")
		_, info := e.load(e.newStore(e.client), "mid")
		require.Equal(t, n, info.Offset)

		// Resume with less than the failed chunk held: parts it left after
		// the gap must not join the run of parts.
		e.write(faulty, "mid", src[n:12*mib])
		_, info = e.load(e.newStore(e.client), "mid")
		require.Equal(t, int64(12*mib), info.Offset)
		e.write(faulty, "mid", src[12*mib:])
		e.finishAndCheck(faulty, "mid", src)
	})
}

// TestTailWriteFails answers a failed tail write with an error, stores
// nothing of the chunk and leaves the upload resumable.
func TestTailWriteFails(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(3000, 31)
		var fail atomic.Bool
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().PutObject(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
				if fail.Load() {
					return nil, injected("InternalError")
				}
				return e.client.PutObject(ctx, in)
			}).AnyTimes()
		}))
		e.create(faulty, "tail", int64(len(src)), nil)
		e.write(faulty, "tail", src[:1000])
		fail.Store(true)
		up, info := e.load(faulty, "tail")
		n, err := up.WriteChunk(context.Background(), info.Offset, bytes.NewReader(src[1000:2000]))
		require.Error(t, err)
		require.Zero(t, n)
		fail.Store(false)
		_, info = e.load(e.newStore(e.client), "tail")
		require.Equal(t, int64(1000), info.Offset)
		e.write(faulty, "tail", src[1000:])
		e.finish(faulty, "tail")
		require.Equal(t, src, e.object("tail"))
	})
}

// TestCompleteFailsThenRetried finishes an upload whose first
// CompleteMultipartUpload failed, from a fresh load.
func TestCompleteFailsThenRetried(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(6*mib+1, 32)
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().CompleteMultipartUpload(gomock.Any(), gomock.Any()).Return(nil, injected("ServiceUnavailable")).Times(1)
		}))
		e.create(faulty, "retry", int64(len(src)), nil)
		e.write(faulty, "retry", src)
		up, _ := e.load(faulty, "retry")
		require.Error(t, up.FinishUpload(context.Background()))
		e.finish(faulty, "retry")
		require.Equal(t, src, e.object("retry"))
		e.requireClean("retry", "retry.info")
	})
}

// TestPartCopyNotImplemented detects a service without UploadPartCopy (as
// Storj's gateway) from its answer, concatenates by streaming, and does not
// try copying again.
func TestPartCopyNotImplemented(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().UploadPartCopy(gomock.Any(), gomock.Any()).Return(nil, injected("NotImplemented")).MinTimes(1).MaxTimes(2)
		}))
		var all []byte
		var partials []tus.Upload
		for i, size := range []int{5 * mib, 1234} {
			src := data(size, uint64(40+i))
			all = append(all, src...)
			id := string(rune('a' + i))
			e.create(faulty, id, int64(size), nil)
			e.write(faulty, id, src)
			e.finish(faulty, id)
			up, _ := e.load(faulty, id)
			partials = append(partials, up)
		}
		for _, id := range []string{"final1", "final2"} {
			final, err := faulty.NewUpload(context.Background(), tus.FileInfo{ID: id, Size: int64(len(all)), IsFinal: true})
			require.NoError(t, err)
			require.NoError(t, faulty.AsConcatableUpload(final).ConcatUploads(context.Background(), partials))
			require.NoError(t, final.FinishUpload(context.Background()))
			require.Equal(t, sha256.Sum256(all), sha256.Sum256(e.object(id)))
		}
	})
}

// TestCreateFails reports a failed CreateMultipartUpload and leaves nothing.
func TestCreateFails(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().CreateMultipartUpload(gomock.Any(), gomock.Any()).Return(nil, injected("AccessDenied")).Times(1)
		}))
		_, err := faulty.NewUpload(context.Background(), tus.FileInfo{ID: "x", Size: 10})
		require.Error(t, err)
		_, err = faulty.GetUpload(context.Background(), "x")
		require.ErrorIs(t, err, tus.ErrNotFound)
		e.requireClean()
	})
}

// TestTerminationCutShort fails the deletion after the multipart upload was
// aborted: the upload is gone for every request from then on, and the next
// request that finds it finishes deleting, so nothing is left.
func TestTerminationCutShort(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().DeleteObjects(gomock.Any(), gomock.Any()).Return(nil, injected("InternalError")).Times(1)
		}))
		e.create(faulty, "cut", 20*mib, nil)
		e.write(faulty, "cut", data(6*mib, 33))
		up, _ := e.load(faulty, "cut")
		require.Error(t, faulty.AsTerminatableUpload(up).Terminate(context.Background()))
		_, err := e.newStore(e.client).GetUpload(context.Background(), "cut")
		require.ErrorIs(t, err, tus.ErrNotFound)
		e.requireClean()
	})
}

// TestIDUsedAgain terminates an upload in one process and creates another
// with the same ID and other bytes in a second: the first process, whose
// caches still hold the old upload, must use the new one's bytes.
func TestIDUsedAgain(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		a, b := e.store, e.newStore(e.client)
		old, src := data(1000, 34), data(6*mib, 35)
		e.create(a, "z", int64(len(src)), nil)
		e.write(a, "z", old)
		up, _ := e.load(b, "z")
		require.NoError(t, b.AsTerminatableUpload(up).Terminate(context.Background()))
		e.create(b, "z", int64(len(src)), nil)
		e.write(b, "z", src[:1000])
		e.write(a, "z", src[1000:])
		e.finishAndCheck(a, "z", src)
	})
}

// TestEmptyUploads finishes zero-byte uploads reached in every way: a
// deferred length declared as 0 and a concatenation of empty partials.
func TestEmptyUploads(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		up := e.create(e.store, "deferred0", -1, nil)
		require.NoError(t, e.store.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), 0))
		require.NoError(t, up.FinishUpload(context.Background()))
		require.Empty(t, e.object("deferred0"))

		e.create(e.store, "p0", 0, nil)
		e.finish(e.store, "p0")
		p0, _ := e.load(e.store, "p0")
		final, err := e.store.NewUpload(context.Background(), tus.FileInfo{ID: "final0", IsFinal: true, PartialUploads: []string{"p0"}})
		require.NoError(t, err)
		require.NoError(t, e.store.AsConcatableUpload(final).ConcatUploads(context.Background(), []tus.Upload{p0}))
		require.NoError(t, final.FinishUpload(context.Background()))
		require.Empty(t, e.object("final0"))
		_, info := e.load(e.newStore(e.client), "final0")
		require.True(t, info.IsComplete())
	})
}

// TestLastPartFailsKeepsTail fails reading the tail back when the last
// PATCH completes the upload: the bytes acknowledged before stay counted
// and the upload finishes once reading works again.
func TestLastPartFailsKeepsTail(t *testing.T) {
	forEachServer(t, s3store.Options{TailCacheBytes: -1}, func(t *testing.T, e *env) {
		src := data(6*mib, 36)
		faulty := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().GetObject(gomock.Any(), gomock.Any()).Return(nil, injected("InternalError")).Times(1)
		}))
		e.create(faulty, "last", int64(len(src)), nil)
		e.write(faulty, "last", src[:5*mib+200])
		up, info := e.load(faulty, "last")
		n, err := up.WriteChunk(context.Background(), info.Offset, bytes.NewReader(src[5*mib+200:]))
		_, after := e.load(e.newStore(e.client), "last")
		require.Equal(t, info.Offset+n, after.Offset, "what WriteChunk reported is what S3 holds")
		require.GreaterOrEqual(t, after.Offset, int64(5*mib+200), "acknowledged bytes stay")
		if after.Offset < int64(len(src)) {
			require.Error(t, err)
			e.write(faulty, "last", src[after.Offset:])
		} else {
			require.NoError(t, err, "the last part went up on the second try")
		}
		e.finishAndCheck(faulty, "last", src)
	})
}

// TestLoadDuringPartUpload holds the part upload that runs after a response
// while other requests load the upload: whatever they see of it, the offset
// is the acknowledged one.
func TestLoadDuringPartUpload(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		src := data(7*mib, 37)
		gate := make(chan struct{})
		slow := e.newStore(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().UploadPart(gomock.Any(), partNumber(1)).DoAndReturn(func(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
				<-gate
				return e.client.UploadPart(ctx, in)
			}).Times(1)
		}))
		e.create(slow, "race", int64(len(src)), nil)
		for off := 0; off < 5*mib; off += mib {
			e.write(slow, "race", src[off:off+mib])
		}
		_, info := e.load(e.newStore(e.client), "race")
		require.Equal(t, int64(5*mib), info.Offset, "while the part is not uploaded")
		e.write(slow, "race", src[5*mib:6*mib]) // a tail object after the pending part
		close(gate)
		for i := 0; i < 20; i++ { // while and after the part lands
			_, info = e.load(e.newStore(e.client), "race")
			require.Equal(t, int64(6*mib), info.Offset)
		}
		e.write(slow, "race", src[6*mib:])
		e.finishAndCheck(slow, "race", src)
	})
}

// TestIDUsedAgainDuringPartUpload terminates and recreates an upload in a
// second process while the first has uploaded (or is uploading) a part of
// the old one after a response: the first must not take that part for the
// new upload's.
func TestIDUsedAgainDuringPartUpload(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		a, b := e.store, e.newStore(e.client)
		old, src := data(5*mib, 38), data(6*mib, 39)
		e.create(a, "again", int64(len(src)), nil)
		for off := 0; off < 5*mib; off += mib {
			e.write(a, "again", old[off:off+mib])
		}
		up, _ := e.load(b, "again")
		require.NoError(t, b.AsTerminatableUpload(up).Terminate(context.Background()))
		e.create(b, "again", int64(len(src)), nil)
		for off := 0; off < 5*mib; off += mib {
			e.write(b, "again", src[off:off+mib])
		}
		e.write(a, "again", src[5*mib:])
		e.finishAndCheck(a, "again", src)
	})
}

// TestSingleProcessMatchesS3 drives a store that trusts its own view of the
// uploads (Options.SingleProcess) through small PATCHes, parts uploaded
// after responses, large chunks, a rejected chunk, a broken body, a failed
// part upload and a deferred length, and checks after every step that what
// it answers is what S3 holds, as a process that lists everything sees it.
func TestSingleProcessMatchesS3(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		var failPart atomic.Int32
		opts := e.opts
		opts.SingleProcess = true
		single, err := s3store.New(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().UploadPart(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
				if aws.ToInt32(in.PartNumber) == failPart.Load() {
					failPart.Store(0)
					return nil, injected("InternalError")
				}
				return e.client.UploadPart(ctx, in)
			}).AnyTimes()
		}), opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = single.Close() })

		src := data(40*mib+123, 60)
		e.create(single, "one", -1, nil)
		check := func(step string) {
			t.Helper()
			_, mine := e.load(single, "one")
			_, truth := e.load(e.newStore(e.client), "one")
			require.Equal(t, truth.Offset, mine.Offset, "after %s", step)
		}
		write := func(step string, b []byte, wrap func(io.Reader) io.Reader) {
			t.Helper()
			up, info := e.load(single, "one")
			var r io.Reader = bytes.NewReader(b)
			if wrap != nil {
				r = wrap(r)
			}
			_, _ = up.WriteChunk(context.Background(), info.Offset, r)
			check(step)
		}
		off := func() int {
			_, info := e.load(single, "one")
			return int(info.Offset)
		}
		for i := range 6 { // part 1 completes in the tail and uploads after the response
			write(fmt.Sprintf("small PATCH %d", i), src[off():off()+mib], nil)
		}
		write("a chunk over three parts", src[off():off()+12*mib], nil)
		write("a rejected chunk", src[off():off()+11*mib], func(r io.Reader) io.Reader {
			return &failingReader{r: r, err: fmt.Errorf("bad: %w", tus.ErrChecksumMismatch)}
		})
		write("a body that broke off", src[off():off()+7*mib+5], func(r io.Reader) io.Reader {
			return &failingReader{r: r, err: errors.New("connection reset")}
		})
		failPart.Store(int32(off()/(5*mib)) + 2)
		write("a failed part upload", src[off():off()+12*mib], nil)
		for i := range 3 {
			write(fmt.Sprintf("small PATCH after failures %d", i), src[off():off()+1000], nil)
		}
		write("the rest", src[off():], nil)
		up, _ := e.load(single, "one")
		require.NoError(t, single.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), int64(len(src))))
		check("declaring the length")
		e.finishAndCheck(single, "one", src)
	})
}

// TestSingleProcessStaleLoad lets a GetUpload that holds no lock (a GET)
// load an upload while a termination under the lock runs: the store must
// not keep what that load saw, or the upload would come back.
func TestSingleProcessStaleLoad(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		opts := e.opts
		opts.SingleProcess = true
		listing, release := make(chan struct{}), make(chan struct{})
		var gated atomic.Bool
		store, err := s3store.New(passThrough(t, e.client, func(m *MockS3API) {
			m.EXPECT().ListObjectsV2(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
				out, err := e.client.ListObjectsV2(ctx, in)
				if gated.CompareAndSwap(true, false) {
					close(listing) // listed before the termination,
					<-release      // answered after it
				}
				return out, err
			}).AnyTimes()
		}), opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })

		other := e.newStore(e.client) // another upload ID's worth of state: a fresh view
		e.create(other, "gone", 10, nil)
		gated.Store(true)
		got := make(chan error, 1)
		go func() {
			_, err := store.GetUpload(context.Background(), "gone") // unlocked, slow
			got <- err
		}()
		<-listing
		up, err := store.GetUpload(context.Background(), "gone")
		require.NoError(t, err)
		require.NoError(t, store.AsTerminatableUpload(up).Terminate(context.Background()))
		close(release)
		<-got // whatever it saw
		_, err = store.GetUpload(context.Background(), "gone")
		require.ErrorIs(t, err, tus.ErrNotFound, "a terminated upload stays gone")
		e.requireClean()
	})
}

// TestSingleProcessFinishDeletesTail finishes, in a store that trusts its
// own view, a deferred-length upload whose last part was uploaded after a
// response: the tail objects it was made of are deleted too.
func TestSingleProcessFinishDeletesTail(t *testing.T) {
	forEachServer(t, s3store.Options{SingleProcess: true, MaxObjectSize: 1 << 30}, func(t *testing.T, e *env) {
		src := data(5*mib, 71)
		e.create(e.store, "tail", -1, nil)
		for off := 0; off < len(src); off += mib {
			e.write(e.store, "tail", src[off:off+mib])
		}
		up, _ := e.load(e.store, "tail")
		require.NoError(t, e.store.AsLengthDeclarableUpload(up).DeclareLength(context.Background(), int64(len(src))))
		e.finishAndCheck(e.store, "tail", src)
	})
}
