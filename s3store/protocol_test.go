package s3store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/s3test"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/s3store"
	"github.com/tusgo/tus/storetest"
)

// harness opens stores over one fresh bucket of a real server.
type harness struct {
	t      *testing.T
	client *s3.Client
	bucket string
	single bool

	mu     sync.Mutex
	stores []*s3store.Store
}

func (h *harness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	store, err := s3store.New(h.client, s3store.Options{Bucket: h.bucket, SingleProcess: h.single})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.stores = append(h.stores, store)
	h.mu.Unlock()
	c := tus.NewStoreComposer()
	store.UseIn(c)
	memorylocker.New().UseIn(c)
	return c, nil
}

// Contents lists the bucket's objects and its multipart uploads in
// progress.
func (h *harness) Contents(context.Context) ([]string, error) {
	names := s3test.Objects(h.t, h.client, h.bucket)
	for _, k := range s3test.MultipartUploads(h.t, h.client, h.bucket) {
		names = append(names, "multipart upload of "+k)
	}
	return names, nil
}

func (h *harness) Close(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, s := range h.stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// forEachSuiteServer runs fn for every real S3 server, in the multi-process and
// the single-process mode, with a NewHarness of stores in a fresh bucket.
func forEachSuiteServer(t *testing.T, fn func(t *testing.T, nh storetest.NewHarness)) {
	for _, srv := range s3test.Servers(t) {
		for _, single := range []bool{false, true} {
			name := srv.Name
			if single {
				name += "/single-process"
			}
			t.Run(name, func(t *testing.T) {
				client := srv.Client(t)
				fn(t, func(_ context.Context, t *testing.T) (storetest.Harness, error) {
					return &harness{t: t, client: client, bucket: srv.NewBucket(t, client), single: single}, nil
				})
			})
		}
	}
}

// TestConformance runs the store conformance suite against the store on
// every real S3-compatible server.
func TestConformance(t *testing.T) { forEachSuiteServer(t, storetest.RunConformanceTests) }

// TestProtocol runs the tus protocol suite, the one the filestore passes,
// against the store on every real S3-compatible server.
func TestProtocol(t *testing.T) { forEachSuiteServer(t, storetest.RunProtocolTests) }
