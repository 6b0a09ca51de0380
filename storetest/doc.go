// Package storetest checks that a tus store keeps the promises of the
// store contract (tus.DataStore, tus.Upload and the optional parts of a
// tus.StoreComposer), so that the handler works on it. Every store of this
// module runs it from its own tests; a custom store should too.
//
// A store's test gives the suites a Harness: a way to compose the store
// over fresh storage (MakeComposer, called again to reopen the store over
// the same storage as a restarted server would), to see what the storage
// holds (Contents, for the checks that nothing is left behind) and to
// release it (Close). A NewHarness function makes one harness for each
// check:
//
//	type harness struct{ dir string }
//
//	func (h harness) MakeComposer(ctx context.Context) (*tus.StoreComposer, error) {
//		store, err := mystore.Open(h.dir) // the same storage on every call
//		if err != nil {
//			return nil, err
//		}
//		c := tus.NewStoreComposer()
//		store.UseIn(c)
//		memorylocker.New().UseIn(c)
//		return c, nil
//	}
//
//	func (h harness) Contents(ctx context.Context) ([]string, error) { return listFiles(h.dir) }
//	func (h harness) Close(ctx context.Context) error                { return nil }
//
//	func newHarness(ctx context.Context, t *testing.T) (storetest.Harness, error) {
//		return harness{dir: t.TempDir()}, nil
//	}
//
//	func TestConformance(t *testing.T) { storetest.RunConformanceTests(t, newHarness) }
//	func TestProtocol(t *testing.T)    { storetest.RunProtocolTests(t, newHarness) }
//
// RunConformanceTests calls the store's interfaces directly: unknown and
// taken IDs (tus.ErrNotFound, tus.ErrUploadExists), WriteChunk keeping and
// counting the bytes read before a reader's error and nothing of a chunk
// discarded with tus.ErrDiscardChunk, offsets and records after reopening
// the store, deferred lengths, concatenation (a partial named twice, and
// used by two final uploads), termination leaving nothing in the storage,
// Unicode metadata, content served with ranges, uploads written in
// parallel, listing (tus.UploadLister), expiry extension and the handler's
// expiry sweep (Handler.SweepExpired).
//
// RunProtocolTests runs the tus protocol over real HTTP connections against
// a tus.Handler on the store: tus 1.0 and its extensions, the IETF
// resumable upload drafts through a proxy that cuts connections, broken and
// stalled requests, new requests taking over stale ones.
//
// Each check is a sub-test with a stable name (select some with -run) and
// skips, giving its reason, when the composition lacks the part it needs
// (a Terminater, a Concater, a LengthDeferrer, a ContentServer, a Lister,
// an Extender, a Locker whose locks are tus.TryLockers). A failure names
// the promise that was broken, such as "the offset must count only the
// bytes the store holds".
//
// A harness may also implement UploadChecker, to look at each complete
// upload in the store's own terms (a file's bytes on disk, an object in a
// bucket); for a store that serves no content it is how the checks see
// the bytes.
//
// Package storetest/memstore is a complete store in memory that passes
// both suites: a tutorial for store authors and a store for unit tests.
package storetest
