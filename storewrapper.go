package tus

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// StoreWrapper is the base of a store that wraps the parts of another store
// composition to change some of what they do: count bytes against a limit
// (limitedstore does), log, add metrics. Embed it in the wrapper's type,
// define the methods whose behaviour changes, and register the wrapper with
// UseWrapper. Every part the wrapper does not override is forwarded to the
// inner composition, including parts added to StoreComposer in later
// versions; parts the inner composition lacks stay absent.
//
// A wrapper whose uploads wrap the inner store's uploads (it overrides
// NewUpload and GetUpload to return its own type) passes an unwrap function
// to NewStoreWrapper, so that forwarded parts receive the inner upload.
//
// Called on a part the inner composition lacks, a forwarded method returns
// a capability whose methods fail with ErrNotImplemented; UseWrapper never
// registers such a part, so the handler does not call it.
type StoreWrapper struct {
	inner  StoreComposer
	unwrap func(Upload) Upload
}

// NewStoreWrapper returns a StoreWrapper over the parts inner has now (call
// it after the inner store's UseIn). unwrapUpload returns the inner upload
// of one of the wrapper's uploads, and any other upload as it is; nil means
// the wrapper's uploads are the inner store's.
func NewStoreWrapper(inner *StoreComposer, unwrapUpload func(Upload) Upload) StoreWrapper {
	w := StoreWrapper{unwrap: unwrapUpload}
	if inner != nil {
		w.inner = *inner
	}
	if w.unwrap == nil {
		w.unwrap = func(up Upload) Upload { return up }
	}
	return w
}

// Inner returns the parts of the wrapped composition.
func (w *StoreWrapper) Inner() StoreComposer { return w.inner }

// InnerUpload returns the inner store's upload of up.
func (w *StoreWrapper) InnerUpload(up Upload) Upload { return w.unwrap(up) }

// storeWrapper returns w; only types that embed StoreWrapper have it.
func (w *StoreWrapper) storeWrapper() *StoreWrapper { return w }

// WrappingStore is a store built on StoreWrapper: it serves every part of a
// composition. Only types that embed StoreWrapper implement it.
type WrappingStore interface {
	DataStore
	TerminaterDataStore
	ConcaterDataStore
	LengthDeferrerDataStore
	ContentServerDataStore
	FinishReporterDataStore
	UsageReporter
	UploadLister
	LeftoverRemover
	ExtenderDataStore
	storeWrapper() *StoreWrapper
}

// UseWrapper registers s in c as every part its inner composition has, and
// clears the parts it lacks; c's Locker is left as it is. Registering s in
// the very composer it wraps is the usual way.
func UseWrapper(c *StoreComposer, s WrappingStore) {
	in := &s.storeWrapper().inner
	c.UseCore(s)
	c.Terminater, c.Concater, c.LengthDeferrer, c.ContentServer, c.FinishReporter, c.UsageReporter = nil, nil, nil, nil, nil, nil
	c.Lister, c.Leftovers, c.Extender = nil, nil, nil
	if in.Terminater != nil {
		c.UseTerminater(s)
	}
	if in.Concater != nil {
		c.UseConcater(s)
	}
	if in.LengthDeferrer != nil {
		c.UseLengthDeferrer(s)
	}
	if in.ContentServer != nil {
		c.UseContentServer(s)
	}
	if in.FinishReporter != nil {
		c.UseFinishReporter(s)
	}
	if in.UsageReporter != nil {
		c.UseUsageReporter(s)
	}
	if in.Lister != nil {
		c.UseLister(s)
	}
	if in.Leftovers != nil {
		c.UseLeftoverRemover(s)
	}
	if in.Extender != nil {
		c.UseExtender(s)
	}
}

// NewUpload creates the upload in the inner core store.
func (w *StoreWrapper) NewUpload(ctx context.Context, info FileInfo) (Upload, error) {
	if w.inner.Core == nil {
		return nil, missingPart("core store")
	}
	return w.inner.Core.NewUpload(ctx, info)
}

// GetUpload returns the upload from the inner core store.
func (w *StoreWrapper) GetUpload(ctx context.Context, id string) (Upload, error) {
	if w.inner.Core == nil {
		return nil, missingPart("core store")
	}
	return w.inner.Core.GetUpload(ctx, id)
}

// AsTerminatableUpload forwards to the inner Terminater.
func (w *StoreWrapper) AsTerminatableUpload(up Upload) TerminatableUpload {
	if w.inner.Terminater == nil {
		return missing{"termination"}
	}
	return w.inner.Terminater.AsTerminatableUpload(w.unwrap(up))
}

// AsConcatableUpload forwards to the inner Concater; the partials are
// unwrapped too.
func (w *StoreWrapper) AsConcatableUpload(up Upload) ConcatableUpload {
	if w.inner.Concater == nil {
		return missing{"concatenation"}
	}
	return concatForward{inner: w.inner.Concater.AsConcatableUpload(w.unwrap(up)), unwrap: w.unwrap}
}

// AsLengthDeclarableUpload forwards to the inner LengthDeferrer.
func (w *StoreWrapper) AsLengthDeclarableUpload(up Upload) LengthDeclarableUpload {
	if w.inner.LengthDeferrer == nil {
		return missing{"length deferral"}
	}
	return w.inner.LengthDeferrer.AsLengthDeclarableUpload(w.unwrap(up))
}

// AsServableUpload forwards to the inner ContentServer.
func (w *StoreWrapper) AsServableUpload(up Upload) ServableUpload {
	if w.inner.ContentServer == nil {
		return missing{"downloads"}
	}
	return w.inner.ContentServer.AsServableUpload(w.unwrap(up))
}

// AsFinishReporter forwards to the inner FinishReporter.
func (w *StoreWrapper) AsFinishReporter(up Upload) FinishReporter {
	if w.inner.FinishReporter == nil {
		return missing{"finish reports"}
	}
	return w.inner.FinishReporter.AsFinishReporter(w.unwrap(up))
}

// Usage forwards to the inner UsageReporter.
func (w *StoreWrapper) Usage(ctx context.Context) (int64, error) {
	if w.inner.UsageReporter == nil {
		return 0, missingPart("usage reports")
	}
	return w.inner.UsageReporter.Usage(ctx)
}

// ListUploads forwards to the inner UploadLister.
func (w *StoreWrapper) ListUploads(ctx context.Context, fn func(ListedUpload) error) error {
	if w.inner.Lister == nil {
		return missingPart("listing")
	}
	return w.inner.Lister.ListUploads(ctx, fn)
}

// RemoveLeftovers forwards to the inner LeftoverRemover.
func (w *StoreWrapper) RemoveLeftovers(ctx context.Context, cutoff time.Time) (int, error) {
	if w.inner.Leftovers == nil {
		return 0, missingPart("leftover removal")
	}
	return w.inner.Leftovers.RemoveLeftovers(ctx, cutoff)
}

// AsExtendableUpload forwards to the inner Extender.
func (w *StoreWrapper) AsExtendableUpload(up Upload) ExtendableUpload {
	if w.inner.Extender == nil {
		return missing{"expiry extension"}
	}
	return w.inner.Extender.AsExtendableUpload(w.unwrap(up))
}

// concatForward hands the inner final upload the inner partials.
type concatForward struct {
	inner  ConcatableUpload
	unwrap func(Upload) Upload
}

func (c concatForward) ConcatUploads(ctx context.Context, partials []Upload) error {
	inner := make([]Upload, len(partials))
	for i, p := range partials {
		inner[i] = c.unwrap(p)
	}
	return c.inner.ConcatUploads(ctx, inner)
}

// missing is every capability of a part the inner composition lacks.
type missing struct{ part string }

func missingPart(part string) error {
	return fmt.Errorf("tus: the wrapped store composition has no %s: %w", part, ErrNotImplemented)
}

func (m missing) Terminate(context.Context) error               { return missingPart(m.part) }
func (m missing) ConcatUploads(context.Context, []Upload) error { return missingPart(m.part) }
func (m missing) DeclareLength(context.Context, int64) error    { return missingPart(m.part) }
func (m missing) ExtendExpiry(context.Context, time.Time) error { return missingPart(m.part) }
func (m missing) Finished() bool                                { return true }
func (m missing) ServeContent(context.Context, http.ResponseWriter, *http.Request) error {
	return missingPart(m.part)
}
