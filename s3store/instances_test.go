package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
)

// The tests of this file run several instances of tusd, each a tus.Handler
// over its own Store (its own caches and part uploads after responses, as a
// separate process has), on one bucket with Options.SingleProcess off, as
// behind a round-robin load balancer. One MemoryLocker shared by the
// handlers stands in for a distributed locker: the same mutual exclusion
// and release requests. Consecutive requests of one upload go to different
// instances.

// cluster is the instances of one test.
type cluster struct {
	t      *testing.T
	e      *env
	locker *memorylocker.MemoryLocker
	stores []*s3store.Store
	urls   []string // collection URL of each instance
	next   int      // the instance of the next round-robin request
	rrN    int      // round robin goes over the first rrN instances
}

// newCluster returns a cluster of n instances over the env's client.
func newCluster(t *testing.T, e *env, n int) *cluster {
	c := &cluster{t: t, e: e, locker: memorylocker.New(), rrN: n}
	for range n {
		c.add(e.client, nil)
	}
	return c
}

// add starts one more instance whose store uses api and the env's options,
// changed by mod if not nil, and returns its index. The store is closed at
// the end of the test (Close may also be called before, to wait for its
// part uploads).
func (c *cluster) add(api s3store.S3API, mod func(*s3store.Options)) int {
	opts := c.e.opts
	if mod != nil {
		mod(&opts)
	}
	store, err := s3store.New(api, opts)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = store.Close() })
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	c.locker.UseIn(composer)
	h, err := tus.NewHandler(tus.Config{
		StoreComposer: composer,
		BasePath:      "/files/",
		// A client may choose the ID (metadata "id"), so that a test can
		// create an upload again with the ID of a terminated one.
		PreUploadCreateCallback: func(ev tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
			return tus.HTTPResponse{}, tus.FileInfoChanges{ID: ev.Upload.MetaData["id"]}, nil
		},
	})
	require.NoError(c.t, err)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	srv := httptest.NewServer(mux)
	c.t.Cleanup(srv.Close)
	c.stores = append(c.stores, store)
	c.urls = append(c.urls, srv.URL+"/files/")
	return len(c.stores) - 1
}

// rr returns the instance of the next round-robin request, one of the
// instances newCluster started.
func (c *cluster) rr() int {
	i := c.next % c.rrN
	c.next++
	return i
}

// do sends one tus request for upload id (empty: the collection) to
// instance i.
func (c *cluster) do(i int, method, id string, body io.Reader, headers ...string) (*http.Response, string) {
	c.t.Helper()
	return tusRequest(c.t, method, c.urls[i]+id, body, headers...)
}

// create makes an upload on instance i: length bytes, deferred if negative;
// id, if not empty, is the ID to use. More headers may follow.
func (c *cluster) create(i int, id string, length int64, headers ...string) string {
	c.t.Helper()
	h := []string{"Upload-Length", strconv.FormatInt(length, 10)}
	if length < 0 {
		h = []string{"Upload-Defer-Length", "1"}
	}
	if id != "" {
		h = append(h, "Upload-Metadata", "id "+base64.StdEncoding.EncodeToString([]byte(id)))
	}
	res, body := c.do(i, http.MethodPost, "", nil, append(h, headers...)...)
	require.Equal(c.t, http.StatusCreated, res.StatusCode, body)
	loc := res.Header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// patch sends b at off to instance i and returns the status.
func (c *cluster) patch(i int, id string, off int64, b []byte, headers ...string) (int, string) {
	c.t.Helper()
	h := append([]string{"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.FormatInt(off, 10)}, headers...)
	res, body := c.do(i, http.MethodPatch, id, bytes.NewReader(b), h...)
	return res.StatusCode, body
}

// mustPatch sends b at off to instance i and requires success.
func (c *cluster) mustPatch(i int, id string, off int64, b []byte, headers ...string) {
	c.t.Helper()
	st, body := c.patch(i, id, off, b, headers...)
	require.Equal(c.t, http.StatusNoContent, st, "PATCH %s at %d on instance %d: %s", id, off, i, body)
}

// offset returns the offset instance i reports for id.
func (c *cluster) offset(i int, id string) int64 {
	c.t.Helper()
	res, body := c.do(i, http.MethodHead, id, nil)
	require.Equal(c.t, http.StatusOK, res.StatusCode, "HEAD %s on instance %d: %s", id, i, body)
	off, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	require.NoError(c.t, err)
	return off
}

// requireContent checks that instance i serves exactly want for id.
func (c *cluster) requireContent(i int, id string, want []byte) {
	c.t.Helper()
	res, got := c.do(i, http.MethodGet, id, nil)
	if res.StatusCode != http.StatusOK {
		c.t.Logf("multipart uploads: %v", s3test.MultipartUploads(c.t, c.e.client, c.e.bucket))
	}
	require.Equal(c.t, http.StatusOK, res.StatusCode, "GET %s on instance %d: %.200s", id, i, got)
	require.Equal(c.t, sha256.Sum256(want), sha256.Sum256([]byte(got)), "bytes of %s served by instance %d", id, i)
}

// requireGone checks that instance i does not know id.
func (c *cluster) requireGone(i int, id string) {
	c.t.Helper()
	res, body := c.do(i, http.MethodHead, id, nil)
	require.Equal(c.t, http.StatusNotFound, res.StatusCode, "HEAD %s on instance %d: %s", id, i, body)
}

// terminate deletes id through instance i.
func (c *cluster) terminate(i int, id string) {
	c.t.Helper()
	res, body := c.do(i, http.MethodDelete, id, nil)
	require.Equal(c.t, http.StatusNoContent, res.StatusCode, "DELETE %s on instance %d: %s", id, i, body)
}

// closeAll waits for the part uploads every instance runs after responses.
func (c *cluster) closeAll() {
	for _, s := range c.stores {
		require.NoError(c.t, s.Close())
	}
}

// hookAPI forwards every call to api. Before a call, before (if set) may
// hold it back or fail it instead; after the call, after (if set) may hold
// the answer back or replace its error. The hooks inject faults and delays:
// they never change what S3 holds.
type hookAPI struct {
	api    s3store.S3API
	before func(ctx context.Context, op string, in any) error
	after  func(ctx context.Context, op string, in any, err error) error
}

func hooked[I, O any](h *hookAPI, ctx context.Context, op string, in I, call func(context.Context, I, ...func(*s3.Options)) (O, error), opts []func(*s3.Options)) (O, error) {
	var zero O
	if h.before != nil {
		if err := h.before(ctx, op, in); err != nil {
			return zero, err
		}
	}
	out, err := call(ctx, in, opts...)
	if h.after != nil {
		if aerr := h.after(ctx, op, in, err); aerr != nil {
			return zero, aerr
		}
	}
	return out, err
}

func (h *hookAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return hooked(h, ctx, "PutObject", in, h.api.PutObject, o)
}
func (h *hookAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return hooked(h, ctx, "GetObject", in, h.api.GetObject, o)
}
func (h *hookAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return hooked(h, ctx, "HeadObject", in, h.api.HeadObject, o)
}
func (h *hookAPI) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return hooked(h, ctx, "DeleteObjects", in, h.api.DeleteObjects, o)
}
func (h *hookAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return hooked(h, ctx, "ListObjectsV2", in, h.api.ListObjectsV2, o)
}
func (h *hookAPI) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return hooked(h, ctx, "CreateMultipartUpload", in, h.api.CreateMultipartUpload, o)
}
func (h *hookAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return hooked(h, ctx, "UploadPart", in, h.api.UploadPart, o)
}
func (h *hookAPI) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	return hooked(h, ctx, "UploadPartCopy", in, h.api.UploadPartCopy, o)
}
func (h *hookAPI) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	return hooked(h, ctx, "ListParts", in, h.api.ListParts, o)
}
func (h *hookAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, o ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	return hooked(h, ctx, "ListMultipartUploads", in, h.api.ListMultipartUploads, o)
}
func (h *hookAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return hooked(h, ctx, "CompleteMultipartUpload", in, h.api.CompleteMultipartUpload, o)
}
func (h *hookAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return hooked(h, ctx, "AbortMultipartUpload", in, h.api.AbortMultipartUpload, o)
}

// gate holds calls back until it is opened.
type gate struct {
	once    sync.Once
	entered chan struct{} // closed when the first call arrives
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

// hold marks the gate entered and waits until it is opened.
func (g *gate) hold() {
	g.once.Do(func() { close(g.entered) })
	<-g.open
}

// isTailRead reports whether a call is a GetObject of a tail object.
func isTailRead(op string, in any) bool {
	if op != "GetObject" {
		return false
	}
	return strings.Contains(aws.ToString(in.(*s3.GetObjectInput).Key), ".t.")
}

// TestInstancesRoundRobin writes uploads through three instances in turn,
// in PATCHes of every kind (tiny tail objects, a part completed in the tail
// and uploaded after the response, parts, chunks over several parts, a
// rejected chunk, a deferred length declared on another instance than the
// writers, before the last bytes or after them), and after each one asks
// the next instance for the offset.
func TestInstancesRoundRobin(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		c := newCluster(t, e, 3)
		src := data(23*mib+321, 100)
		var keep []string
		for _, declare := range []string{"known", "deferred, declared before the end", "deferred, declared at the end"} {
			length := int64(len(src))
			if declare != "known" {
				length = -1
			}
			id := c.create(c.rr(), "", length)
			keep = append(keep, id, id+".info")
			sizes := []int{1000, 24, mib, mib, mib, mib, mib - 1024, 5 * mib, 7*mib + 3, 1, 2 * mib, 12345}
			off := 0
			for k, n := range sizes {
				if k == 6 {
					// A chunk with a wrong checksum: nothing of it stays.
					bad := sha1.Sum(src[:10])
					st, body := c.patch(c.rr(), id, int64(off), src[off:off+6*mib], "Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(bad[:]))
					require.Equal(t, 460, st, body)
					require.Equal(t, int64(off), c.offset(c.rr(), id), "%s: after the rejected chunk", declare)
				}
				c.mustPatch(c.rr(), id, int64(off), src[off:off+n])
				off += n
				require.Equal(t, int64(off), c.offset(c.rr(), id), "%s: after PATCH %d", declare, k)
			}
			switch declare {
			case "deferred, declared before the end":
				c.mustPatch(c.rr(), id, int64(off), nil, "Upload-Length", strconv.Itoa(len(src)))
				require.Equal(t, int64(off), c.offset(c.rr(), id))
				c.mustPatch(c.rr(), id, int64(off), src[off:])
			case "deferred, declared at the end":
				c.mustPatch(c.rr(), id, int64(off), src[off:len(src)-mib])
				c.mustPatch(c.rr(), id, int64(len(src)-mib), src[len(src)-mib:])
				c.mustPatch(c.rr(), id, int64(len(src)), nil, "Upload-Length", strconv.Itoa(len(src)))
			default:
				c.mustPatch(c.rr(), id, int64(off), src[off:])
			}
			require.Equal(t, int64(len(src)), c.offset(c.rr(), id), declare)
			for i := range c.urls {
				c.requireContent(i, id, src)
			}
		}
		c.closeAll()
		e.requireClean(keep...)
		for i := 0; i < len(keep); i += 2 {
			e.requireNoMultipartUpload(keep[i])
		}
	})
}

// partJob makes the fifth of five 1 MiB PATCHes of upload id, which
// completes part 1 in the tail, go to instance a, so that a uploads part 1
// after its response; the others go round robin to the instances in
// others. It returns the bytes written.
func (c *cluster) partJob(id string, src []byte, a int, others ...int) {
	c.t.Helper()
	for k := range 5 {
		i := a
		if k < 4 {
			i = others[k%len(others)]
		}
		c.mustPatch(i, id, int64(k*mib), src[k*mib:(k+1)*mib])
	}
}

// TestInstancesPartUploadAndFinish finishes an upload on instance B while
// instance A still uploads, after its response, the part that A's last
// PATCH completed in the tail (the lock does not cover that upload). B
// uploads the part itself from the tail objects; whichever upload of the
// part lands last, the object is exact and nothing is left.
func TestInstancesPartUploadAndFinish(t *testing.T) {
	cases := []struct {
		name string
		// hold says which call of A's part upload job waits for the gate.
		hold func(op string, in any) bool
		// after makes the gate hold the answer of the call, not the call.
		after bool
		// beforeComplete opens the gate from B's CompleteMultipartUpload
		// and waits for A's call to return before completing: A's part
		// replaces B's just before the completion names B's ETag.
		beforeComplete bool
		noCache        bool // A reads the tail objects back from S3
		midBody        bool // the gate holds the part's body, half sent
		failCheck      bool // A's HeadObject calls fail
	}{
		{name: "A's part lands after the completion", hold: isUploadPart},
		{name: "A's part lands just before the completion", hold: isUploadPart, beforeComplete: true},
		{name: "A's part lands before, answered after the completion", hold: isUploadPart, after: true},
		{name: "B deletes the tail objects A is about to read", hold: isTailRead, noCache: true},
		// The part upload has begun (the service checked that the
		// multipart upload exists) when the completion runs, and it ends
		// after: some services (versitygw) then bring the multipart upload
		// back with that part, which must not make the upload unfinished.
		{name: "A's part is being sent during the completion", hold: isUploadPart, midBody: true},
		// And A cannot tell afterwards that the upload was completed (as
		// when it looks before the completion made the object): the next
		// request must see the object anyway.
		{name: "A's part is being sent during the completion, A's check fails", hold: isUploadPart, midBody: true, failCheck: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
				g, returned := newGate(), make(chan struct{})
				var once sync.Once
				hookA := &hookAPI{api: e.client}
				if tc.midBody {
					hookA.before = func(_ context.Context, op string, in any) error {
						if op == "HeadObject" && tc.failCheck {
							return injected("InternalError")
						}
						if tc.hold(op, in) {
							up := in.(*s3.UploadPartInput)
							up.Body = &heldBody{ReadSeeker: up.Body.(io.ReadSeeker), g: g, at: 2*aws.ToInt64(up.ContentLength) - mib}
						}
						return nil
					}
				} else if tc.after {
					hookA.after = func(_ context.Context, op string, in any, _ error) error {
						if tc.hold(op, in) {
							g.hold()
						}
						return nil
					}
				} else {
					hookA.before = func(_ context.Context, op string, in any) error {
						if tc.hold(op, in) {
							g.hold()
						}
						return nil
					}
					hookA.after = func(_ context.Context, op string, in any, _ error) error {
						if tc.hold(op, in) {
							once.Do(func() { close(returned) })
						}
						return nil
					}
				}
				c := newCluster(t, e, 0)
				a := c.add(hookA, func(o *s3store.Options) {
					if tc.noCache {
						o.TailCacheBytes = -1
					}
				})
				hookB := &hookAPI{api: e.client}
				if tc.beforeComplete {
					hookB.before = func(_ context.Context, op string, _ any) error {
						if op == "CompleteMultipartUpload" {
							close(g.open)
							<-returned
						}
						return nil
					}
				}
				b := c.add(hookB, nil)
				other := c.add(e.client, nil)

				src := data(7*mib+99, 101)
				id := c.create(other, "", int64(len(src)))
				c.partJob(id, src, a, b, other)
				<-g.entered // A's job is running, and held
				require.Equal(t, int64(5*mib), c.offset(other, id))
				c.mustPatch(b, id, 5*mib, src[5*mib:])
				if !tc.beforeComplete {
					close(g.open)
				}
				require.NoError(t, c.stores[a].Close()) // A's job is done
				if !tc.failCheck {
					// A's job itself leaves no multipart upload behind.
					e.requireNoMultipartUpload(id)
				}
				require.Equal(t, int64(len(src)), c.offset(other, id))
				c.requireContent(other, id, src)
				c.closeAll()
				e.requireClean(id, id+".info")
				e.requireNoMultipartUpload(id)
			})
		})
	}
}

// requireNoMultipartUpload checks that the multipart upload named in the
// info of upload id is gone: ListParts answers NoSuchUpload. (A multipart
// upload that a late part upload brought back is not always listed by
// ListMultipartUploads.)
func (e *env) requireNoMultipartUpload(id string) {
	e.t.Helper()
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket, Key: aws.String(e.opts.InfoPrefix + id + ".info")})
	require.NoError(e.t, err)
	defer out.Body.Close()
	var doc struct{ MultipartUploadID string }
	require.NoError(e.t, json.NewDecoder(out.Body).Decode(&doc))
	_, err = e.client.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &e.bucket, Key: aws.String(e.opts.ObjectPrefix + id), UploadId: &doc.MultipartUploadID})
	var apiErr smithy.APIError
	require.True(e.t, errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload", "the multipart upload of %s is still there (ListParts: %v)", id, err)
}

func isUploadPart(op string, _ any) bool { return op == "UploadPart" }

// TestInstancesPartUploadAndTerminate terminates an upload on instance B
// while instance A uploads a part of it after a response, and maybe creates
// it again with the same ID and other bytes on a third instance: A's part
// upload must neither bring anything of the old upload back nor touch the
// new one.
func TestInstancesPartUploadAndTerminate(t *testing.T) {
	cases := []struct {
		name    string
		hold    func(op string, in any) bool
		after   bool
		noCache bool
	}{
		{name: "A's part arrives after the abort", hold: isUploadPart},
		{name: "A's part lands, answered after the termination", hold: isUploadPart, after: true},
		{name: "A reads tail objects after the termination", hold: isTailRead, noCache: true},
	}
	for _, tc := range cases {
		for _, again := range []bool{false, true} {
			name := tc.name
			if again {
				name += ", ID used again"
			}
			t.Run(name, func(t *testing.T) {
				forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
					g := newGate()
					hookA := &hookAPI{api: e.client}
					holdIf := func(_ context.Context, op string, in any) error {
						if tc.hold(op, in) {
							g.hold()
						}
						return nil
					}
					if tc.after {
						hookA.after = func(ctx context.Context, op string, in any, _ error) error { return holdIf(ctx, op, in) }
					} else {
						hookA.before = holdIf
					}
					c := newCluster(t, e, 0)
					a := c.add(hookA, func(o *s3store.Options) {
						if tc.noCache {
							o.TailCacheBytes = -1
						}
					})
					b, other := c.add(e.client, nil), c.add(e.client, nil)

					old := data(6*mib, 102)
					id := c.create(other, "again", int64(len(old)))
					c.partJob(id, old, a, b, other)
					<-g.entered
					c.terminate(b, id)
					c.requireGone(other, id)
					c.requireGone(a, id)
					var src []byte
					if again {
						// The same tail object keys as the old upload's,
						// with other bytes.
						src = data(8*mib, 103)
						c.create(other, id, -1)
						c.partJob(id, src, other, b)
					}
					close(g.open)
					require.NoError(t, c.stores[a].Close())
					if !again {
						c.requireGone(b, id)
						c.closeAll()
						e.requireClean()
						return
					}
					require.Equal(t, int64(5*mib), c.offset(b, id))
					c.mustPatch(b, id, 5*mib, src[5*mib:])
					c.mustPatch(other, id, int64(len(src)), nil, "Upload-Length", strconv.Itoa(len(src)))
					c.requireContent(b, id, src)
					c.closeAll()
					e.requireClean(id, id+".info")
				})
			})
		}
	}
}

// TestInstancesCachesAfterTermination gives instance A cached state of an
// upload (its info and the bytes of its tail objects) that instance B then
// terminates and instance C creates again with the same ID, another length
// and other bytes at the same offsets: A must answer and write with the new
// upload's state.
func TestInstancesCachesAfterTermination(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		c := newCluster(t, e, 3)
		a, b, other := 0, 1, 2
		old, src := data(9*mib, 104), data(7*mib+1, 105)
		id := c.create(a, "cached", int64(len(old)))
		c.mustPatch(a, id, 0, old[:1000])
		c.mustPatch(a, id, 1000, old[1000:3000])
		require.Equal(t, int64(3000), c.offset(a, id))
		c.terminate(b, id)
		c.requireGone(a, id)

		c.create(other, id, int64(len(src)))
		c.mustPatch(other, id, 0, src[:1000]) // the key of A's cached tail object
		require.Equal(t, int64(1000), c.offset(a, id))
		c.mustPatch(other, id, 1000, src[1000:3000])
		// A makes part 1 of the tail objects (and its cache, if it were
		// trusted by key alone, would give the old bytes).
		c.mustPatch(a, id, 3000, src[3000:6*mib])
		require.Equal(t, int64(6*mib), c.offset(b, id))
		c.mustPatch(a, id, 6*mib, src[6*mib:])
		c.requireContent(b, id, src)
		c.closeAll()
		e.requireClean(id, id+".info")
	})
}

// TestInstancesConcatenation concatenates, on instance A, partials written
// through instances B and C (in small PATCHes, one of which left a part to
// upload after the response, and in large ones), by part copy and by
// streaming.
func TestInstancesConcatenation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts s3store.Options
	}{{"part copy", s3store.Options{}}, {"streaming", s3store.Options{DisablePartCopy: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			forEachServer(t, tc.opts, func(t *testing.T, e *env) {
				c := newCluster(t, e, 3)
				a, b, other := 0, 1, 2
				p1, p2, p3 := data(6*mib+5, 106), data(5*mib, 107), data(777, 108)
				var ids []string
				for _, p := range [][]byte{p1, p2, p3} {
					ids = append(ids, c.create(b, "", int64(len(p)), "Upload-Concat", "partial"))
				}
				c.partJob(ids[0], p1, b, other)
				c.mustPatch(other, ids[0], 5*mib, p1[5*mib:])
				for off := 0; off < len(p2); off += mib { // the last completes it
					c.mustPatch([]int{b, other}[off/mib%2], ids[1], int64(off), p2[off:off+mib])
				}
				c.mustPatch(other, ids[2], 0, p3)

				var all []byte
				var urls []string
				for k, id := range []string{ids[0], ids[1], ids[2], ids[0]} {
					all = append(all, [][]byte{p1, p2, p3, p1}[k]...)
					urls = append(urls, "/files/"+id)
				}
				res, body := c.do(a, http.MethodPost, "", nil, "Upload-Concat", "final;"+strings.Join(urls, " "))
				require.Equal(t, http.StatusCreated, res.StatusCode, body)
				loc := res.Header.Get("Location")
				final := loc[strings.LastIndex(loc, "/")+1:]
				c.requireContent(b, final, all)
				c.requireContent(other, final, all)
				for k, id := range ids {
					c.requireContent(a, id, [][]byte{p1, p2, p3}[k])
				}
				c.closeAll()
				e.requireClean(ids[0], ids[0]+".info", ids[1], ids[1]+".info", ids[2], ids[2]+".info", final, final+".info")
				for _, id := range append(ids, final) {
					e.requireNoMultipartUpload(id)
				}
			})
		})
	}
}

// errKilled is what a killed instance's S3 calls fail with.
var errKilled = errors.New("the process was killed")

// dying returns an S3 API for an instance that dies at its kill-th call:
// that call reaches S3 but its answer is lost, and no later call (of its
// requests or of its part uploads after responses) reaches S3, as if the
// process had been killed then.
func dying(api s3store.S3API, kill int64) *hookAPI {
	var calls atomic.Int64
	return &hookAPI{
		api: api,
		before: func(context.Context, string, any) error {
			if calls.Add(1) > kill {
				return errKilled
			}
			return nil
		},
		after: func(_ context.Context, _ string, _ any, err error) error {
			if calls.Load() >= kill {
				return errKilled
			}
			return nil
		},
	}
}

// TestInstancesKilledMidPatch sends PATCHes of every kind to instances that
// die at some S3 call of the request (or of the part upload it leaves to
// run after the response), each followed by requests to live instances:
// the offset they see is never below what was acknowledged before nor past
// the bytes sent, and the upload goes on from there to exact bytes.
func TestInstancesKilledMidPatch(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		c := newCluster(t, e, 3)
		rng := rand.New(rand.NewPCG(7, 8))
		src := data(31*mib+17, 109)
		id := c.create(c.rr(), "", int64(len(src)))
		acked, kills := int64(0), 0
		// chunk returns the size of a PATCH at off: tiny, up to the end of
		// the part (whose upload is then left to run after the response),
		// or, for the dying instances, over several parts or to the end.
		chunk := func(off int64, live bool) int64 {
			left := int64(len(src)) - off
			k := rng.IntN(10)
			if live {
				k %= 6
			}
			switch {
			case k < 3:
				return min(1+rng.Int64N(4096), left)
			case k < 6:
				return min(5*mib-off%(5*mib), mib, left)
			case k < 9 || left > 8*mib:
				return min(7*mib+3, left)
			default:
				return left
			}
		}
		for step := 0; acked < int64(len(src)); step++ {
			require.Less(t, step, 200, "the upload does not progress")
			// A dying instance gets a PATCH; it may die before, during or
			// after it (in the part upload after the response), or not.
			n := chunk(acked, false)
			// A small PATCH makes four calls (GetObject of the info, ListParts,
			// ListObjectsV2, PutObject); one that completes a part in the
			// tail leaves two to its part upload (UploadPart, GetObject).
			kill := 1 + rng.Int64N(6)
			if rng.IntN(4) == 0 {
				kill = 1 + rng.Int64N(20)
			}
			d := c.add(dying(e.client, kill), nil)
			st, _ := c.patch(d, id, acked, src[acked:acked+n])
			off := c.offset(c.rr(), id)
			require.GreaterOrEqual(t, off, acked, "step %d: below the acknowledged offset", step)
			require.LessOrEqual(t, off, acked+n, "step %d: past the bytes sent", step)
			if st == http.StatusNoContent {
				require.Equal(t, acked+n, off, "step %d: acknowledged", step)
			} else {
				kills++
			}
			acked = off
			if acked == int64(len(src)) {
				break
			}
			// A live instance goes on from there.
			n = chunk(acked, true)
			c.mustPatch(c.rr(), id, acked, src[acked:acked+n])
			acked += n
			require.Equal(t, acked, c.offset(c.rr(), id))
		}
		t.Logf("%d PATCHes failed by a kill", kills)
		require.GreaterOrEqual(t, kills, 5)
		c.requireContent(c.rr(), id, src)
		c.closeAll()
		e.requireClean(id, id+".info")
	})
}

// upState is an upload of TestInstancesRandomized.
type upState struct {
	id       string
	src      []byte
	off      int64
	deferred bool // the length is still to be declared
	partial  bool
	final    bool // made by concatenation
	done     bool // finished and checked
	gone     bool // terminated
	used     bool // concatenated into a final upload
}

// TestInstancesRandomized drives uploads through three instances, each
// request to the next instance: PATCHes of random kinds, HEADs, lengths
// declared late, terminations (often while a part upload of another
// instance runs) and concatenations of finished partials. Finished uploads
// are served byte-exact by every instance and the bucket ends with their
// objects and info objects only.
func TestInstancesRandomized(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		seed := rand.Uint64()
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 9))
		c := newCluster(t, e, 3)
		var ups []*upState
		for k := range 7 {
			u := &upState{src: data(rng.IntN(13*mib), 200+uint64(k)+seed), partial: k%3 == 0, deferred: k%4 == 1}
			length := int64(len(u.src))
			if u.deferred {
				length = -1
			}
			var h []string
			if u.partial {
				h = []string{"Upload-Concat", "partial"}
			}
			u.id = c.create(c.rr(), "", length, h...)
			ups = append(ups, u)
		}
		check := func(u *upState) {
			t.Helper()
			if u.gone {
				c.requireGone(c.rr(), u.id)
				return
			}
			require.Equal(t, u.off, c.offset(c.rr(), u.id), "offset of %s", u.id)
			if u.off == int64(len(u.src)) && !u.deferred && !u.done {
				c.requireContent(c.rr(), u.id, u.src)
				u.done = true
			}
		}
		step := func(u *upState) {
			left := int64(len(u.src)) - u.off
			switch r := rng.IntN(20); {
			case r == 0 && !u.used:
				c.terminate(c.rr(), u.id)
				u.gone = true
			case r < 3 && u.deferred && (left == 0 || rng.IntN(2) == 0):
				c.mustPatch(c.rr(), u.id, u.off, nil, "Upload-Length", strconv.Itoa(len(u.src)))
				u.deferred = false
			case r < 5:
				check(u)
			default:
				var n int64
				switch rng.IntN(4) {
				case 0:
					n = 1 + rng.Int64N(4096)
				case 1:
					n = 5*mib - u.off%(5*mib)
					if n > mib {
						n = mib - rng.Int64N(2)*(n%mib)
					}
				case 2:
					n = mib
				default:
					n = rng.Int64N(8 * mib)
				}
				n = min(n, left)
				if n == 0 && u.deferred {
					return
				}
				c.mustPatch(c.rr(), u.id, u.off, u.src[u.off:u.off+n])
				u.off += n
			}
			if rng.IntN(3) == 0 {
				check(u)
			}
		}
		for i := 0; ; i++ {
			var live []*upState
			for _, u := range ups {
				if !u.gone && !u.done {
					live = append(live, u)
				}
			}
			if len(live) == 0 {
				break
			}
			require.Less(t, i, 2000, "the uploads do not progress")
			step(live[rng.IntN(len(live))])

			// Concatenate finished partials now and then.
			var parts []*upState
			for _, u := range ups {
				if u.partial && u.done && !u.gone {
					parts = append(parts, u)
				}
			}
			if len(parts) >= 2 && rng.IntN(8) == 0 {
				rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
				f := &upState{final: true}
				var urls []string
				for _, p := range parts {
					p.used = true
					f.src = append(f.src, p.src...)
					urls = append(urls, "/files/"+p.id)
				}
				res, body := c.do(c.rr(), http.MethodPost, "", nil, "Upload-Concat", "final;"+strings.Join(urls, " "))
				require.Equal(t, http.StatusCreated, res.StatusCode, body)
				loc := res.Header.Get("Location")
				f.id, f.off = loc[strings.LastIndex(loc, "/")+1:], int64(len(f.src))
				ups = append(ups, f)
				check(f)
			}
		}
		var keep []string
		for _, u := range ups {
			if !u.gone {
				for i := range c.urls {
					c.requireContent(i, u.id, u.src)
				}
				keep = append(keep, u.id, u.id+".info")
			}
		}
		c.closeAll()
		e.requireClean(keep...)
		for _, u := range ups {
			if !u.gone {
				e.requireNoMultipartUpload(u.id)
			}
		}
	})
}

// TestInstancesListingAcrossPartUpload lets the part upload that instance
// A runs after its response land, whole, between instance B's listing of
// the parts (which misses the part) and its listing of the objects: B must
// still find the part's bytes, in the tail objects the part upload leaves.
func TestInstancesListingAcrossPartUpload(t *testing.T) {
	forEachServer(t, s3store.Options{}, func(t *testing.T, e *env) {
		g := newGate()
		c := newCluster(t, e, 0)
		a := c.add(&hookAPI{api: e.client, before: func(_ context.Context, op string, _ any) error {
			if op == "UploadPart" {
				g.hold()
			}
			return nil
		}}, nil)
		var armed, armedParts atomic.Bool
		partsListed := make(chan struct{})
		b := c.add(&hookAPI{
			api: e.client,
			after: func(_ context.Context, op string, _ any, _ error) error {
				if op == "ListParts" && armedParts.CompareAndSwap(true, false) {
					close(partsListed)
				}
				return nil
			},
			before: func(_ context.Context, op string, _ any) error {
				if op == "ListObjectsV2" && armed.CompareAndSwap(true, false) {
					<-partsListed
					close(g.open)
					_ = c.stores[a].Close() // A's part upload is done
				}
				return nil
			},
		}, nil)
		other := c.add(e.client, nil)

		src := data(6*mib+1, 110)
		id := c.create(other, "", int64(len(src)))
		c.partJob(id, src, a, other)
		<-g.entered
		armedParts.Store(true)
		armed.Store(true)
		require.Equal(t, int64(5*mib), c.offset(b, id))
		require.False(t, armed.Load(), "the listings were made as the test meant")
		c.mustPatch(other, id, 5*mib, src[5*mib:])
		c.requireContent(b, id, src)
		c.closeAll()
		e.requireClean(id, id+".info")
	})
}

// heldBody is a part body that holds the reading back at the gate once at
// bytes were read, which is in the middle of sending it when the SDK reads
// it once to sign it and once to send it.
type heldBody struct {
	io.ReadSeeker
	g    *gate
	at   int64
	read int64
}

func (b *heldBody) Read(p []byte) (int, error) {
	if b.read < b.at {
		p = p[:min(int64(len(p)), b.at-b.read)]
	} else {
		b.g.hold()
	}
	n, err := b.ReadSeeker.Read(p)
	b.read += int64(n)
	return n, err
}
