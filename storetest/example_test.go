package storetest_test

import (
	"context"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest"
	"github.com/tusgo/tus/storetest/memstore"
)

// memHarness composes one memstore: a store in memory is reopened by
// composing the same value again, with a new locker as after a restart.
type memHarness struct{ store *memstore.Store }

func (h memHarness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	c := tus.NewStoreComposer()
	h.store.UseIn(c)
	memorylocker.New().UseIn(c)
	return c, nil
}

func (h memHarness) Contents(context.Context) ([]string, error) { return h.store.IDs(), nil }

func (h memHarness) Close(context.Context) error { return nil }

// A store's test gives the suites a harness; each check makes its own over
// fresh storage. In a _test.go file, the two calls are the bodies of test
// functions: func TestConformance(t *testing.T) and func TestProtocol(t
// *testing.T).
func ExampleRunConformanceTests() {
	newHarness := func(ctx context.Context, t *testing.T) (storetest.Harness, error) {
		return memHarness{store: memstore.New()}, nil
	}
	conformance := func(t *testing.T) { storetest.RunConformanceTests(t, newHarness) }
	protocol := func(t *testing.T) { storetest.RunProtocolTests(t, newHarness) }
	_, _ = conformance, protocol
}
