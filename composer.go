package tus

// StoreComposer assembles the storage a Handler uses from separate parts: the
// core DataStore and, optionally, termination, concatenation, length
// deferral, content serving, finish reporting, usage reporting and locking.
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

// UsesLocker reports whether a locker is set.
func (c *StoreComposer) UsesLocker() bool { return c.Locker != nil }
