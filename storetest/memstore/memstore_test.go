package memstore_test

import (
	"context"
	"testing"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/memorylocker"
	"github.com/tusgo/tus/storetest"
	"github.com/tusgo/tus/storetest/memstore"
)

// harness gives the suites compositions of one Store: reopening a store in
// memory is composing the same Store again, with a new locker as after a
// restart.
type harness struct{ store *memstore.Store }

func (h harness) MakeComposer(context.Context) (*tus.StoreComposer, error) {
	c := tus.NewStoreComposer()
	h.store.UseIn(c)
	memorylocker.New().UseIn(c)
	return c, nil
}

func (h harness) Contents(context.Context) ([]string, error) { return h.store.IDs(), nil }

func (h harness) Close(context.Context) error { return nil }

func newHarness(context.Context, *testing.T) (storetest.Harness, error) {
	return harness{memstore.New()}, nil
}

func TestConformance(t *testing.T) { storetest.RunConformanceTests(t, newHarness) }

func TestProtocol(t *testing.T) { storetest.RunProtocolTests(t, newHarness) }
