package tus

// StoreComposer assembles the storage a Handler uses from separate parts: the
// core DataStore and, optionally, termination, concatenation, length
// deferral, content serving, finish reporting, usage reporting, listing,
// leftover removal, expiry extension and locking.
// The handler advertises exactly the extensions whose parts are present, and
// it finds every optional capability of a store here and nowhere else.
//
// A store registers the parts it implements with its UseIn method; parts of
// different origin can be mixed, for example a filestore with a Redis locker.
// A store that wraps another composition (limitedstore) embeds StoreWrapper
// and registers itself with UseWrapper, which forwards every part it does
// not override.
type StoreComposer struct {
	Core           DataStore
	Terminater     TerminaterDataStore
	Concater       ConcaterDataStore
	LengthDeferrer LengthDeferrerDataStore
	ContentServer  ContentServerDataStore
	FinishReporter FinishReporterDataStore
	UsageReporter  UsageReporter
	Lister         UploadLister
	Leftovers      LeftoverRemover
	Extender       ExtenderDataStore
	Locker         Locker
}

// NewStoreComposer returns an empty composer.
func NewStoreComposer() *StoreComposer { return &StoreComposer{} }

// UseCore sets the core data store.
func (c *StoreComposer) UseCore(core DataStore) { c.Core = core }

// UseTerminater enables the termination extension.
func (c *StoreComposer) UseTerminater(t TerminaterDataStore) { c.Terminater = t }

// UseConcater enables the concatenation extension.
func (c *StoreComposer) UseConcater(cc ConcaterDataStore) { c.Concater = cc }

// UseLengthDeferrer enables the creation-defer-length extension.
func (c *StoreComposer) UseLengthDeferrer(l LengthDeferrerDataStore) { c.LengthDeferrer = l }

// UseContentServer enables downloads with GET.
func (c *StoreComposer) UseContentServer(s ContentServerDataStore) { c.ContentServer = s }

// UseFinishReporter lets the handler ask the store whether an upload's
// finish succeeded.
func (c *StoreComposer) UseFinishReporter(f FinishReporterDataStore) { c.FinishReporter = f }

// UseUsageReporter lets a size limit ask the store how much its existing
// uploads take up.
func (c *StoreComposer) UseUsageReporter(u UsageReporter) { c.UsageReporter = u }

// UseLister lets the handler enumerate the store's uploads (the expiry
// sweep) and a size limit count them.
func (c *StoreComposer) UseLister(l UploadLister) { c.Lister = l }

// UseLeftoverRemover lets the expiry sweep remove what crashes left
// behind.
func (c *StoreComposer) UseLeftoverRemover(r LeftoverRemover) { c.Leftovers = r }

// UseExtender lets the handler move an upload's expiry (sliding
// expiration).
func (c *StoreComposer) UseExtender(e ExtenderDataStore) { c.Extender = e }

// UseLocker sets the locker that serialises requests for the same upload.
func (c *StoreComposer) UseLocker(l Locker) { c.Locker = l }

// UsesTerminater reports whether termination is available.
func (c *StoreComposer) UsesTerminater() bool { return c.Terminater != nil }

// UsesConcater reports whether concatenation is available.
func (c *StoreComposer) UsesConcater() bool { return c.Concater != nil }

// UsesLengthDeferrer reports whether length deferral is available.
func (c *StoreComposer) UsesLengthDeferrer() bool { return c.LengthDeferrer != nil }

// UsesContentServer reports whether downloads are available.
func (c *StoreComposer) UsesContentServer() bool { return c.ContentServer != nil }

// UsesFinishReporter reports whether the store reports finishes.
func (c *StoreComposer) UsesFinishReporter() bool { return c.FinishReporter != nil }

// UsesUsageReporter reports whether the store reports its usage.
func (c *StoreComposer) UsesUsageReporter() bool { return c.UsageReporter != nil }

// UsesLister reports whether the store can enumerate its uploads.
func (c *StoreComposer) UsesLister() bool { return c.Lister != nil }

// UsesLeftoverRemover reports whether the store can remove crash leftovers.
func (c *StoreComposer) UsesLeftoverRemover() bool { return c.Leftovers != nil }

// UsesExtender reports whether the store can move an upload's expiry.
func (c *StoreComposer) UsesExtender() bool { return c.Extender != nil }

// UsesLocker reports whether a locker is set.
func (c *StoreComposer) UsesLocker() bool { return c.Locker != nil }
