package tus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The expiry sweep removes unfinished uploads past their expiry, and what
// crashes left behind, from a store that can list its uploads. Nothing
// runs it behind the embedder's back: call SweepExpired yourself, or run
// RunCleaner in a goroutine you own and end it with its context.

// sweepLockID names the lock a sweep holds for its whole run, so that of
// several servers sharing a store and a locker only one sweeps at a time.
// '~' is not allowed in upload IDs, so it names no upload.
const sweepLockID = "~expiry-sweep"

// sweepWorkers is how many expired uploads one sweep removes at once.
const sweepWorkers = 4

// sweepLockTimeout bounds one TryLock of the sweep.
const sweepLockTimeout = 10 * time.Second

// SweepResult tells what one expiry sweep did.
type SweepResult struct {
	// Skipped is true when another sweep (of this server or of another one
	// sharing the locker) was running: this one did nothing.
	Skipped bool
	// Listed counts the uploads the store listed.
	Listed int
	// Expired counts the expired uploads removed.
	Expired int
	// Busy counts the expired uploads left alone because a request held
	// their lock; a later sweep removes them.
	Busy int
	// Renewed counts the expired final uploads whose partials were still
	// alive (renewed by sliding expiration): their expiry moved instead.
	Renewed int
	// Failed counts the expired uploads whose removal failed (logged); a
	// later sweep tries again.
	Failed int
	// Leftovers counts the crash leftovers removed (LeftoverRemover).
	Leftovers int
}

// ErrSweepUnsupported is returned by SweepExpired and RunCleaner when the
// composition cannot sweep: it needs a store that lists its uploads
// (StoreComposer.Lister) and terminates them (Terminater), and a Locker
// whose locks implement TryLocker, so that an upload a request is using is
// skipped rather than interrupted.
var ErrSweepUnsupported = errors.New("tus: the expiry sweep needs StoreComposer.Lister, Terminater and a Locker whose locks implement TryLocker")

// SweepExpired removes every unfinished upload past its expiry, through the
// same path as a termination: under the upload's lock, taken only if no
// request holds it (TryLocker: an upload with a PATCH in progress is
// skipped, not cut), it re-reads the upload, removes every byte and record
// and emits EventTerminated with Event.Expired set. Finished uploads are
// never touched. A final upload whose partials expired goes with them; one
// whose unfinished partials were renewed by sliding expiration is renewed
// to the earliest of theirs.
//
// With Config.Expiration set and a store that offers it (LeftoverRemover),
// it then removes crash leftovers older than Expiration.
//
// Memory does not grow with the number of uploads: the listing streams and
// at most a few uploads are removed at once. Only one sweep runs at a time
// among the servers sharing the locker: while another sweep runs, or a
// RunCleaner (of this server or another) holds the sweep lock, it returns
// a result with Skipped set. It returns the listing's or the leftovers' error, if any,
// with what it did until then; a single upload that could not be removed
// is logged and counted in Failed.
func (h *Handler) SweepExpired(ctx context.Context) (SweepResult, error) {
	if err := h.checkSweep(); err != nil {
		return SweepResult{}, err
	}
	release, ok, err := h.tryLock(ctx, sweepLockID)
	if err != nil {
		return SweepResult{}, fmt.Errorf("tus: expiry sweep: %w", err)
	}
	if !ok {
		return SweepResult{Skipped: true}, nil
	}
	defer release()
	return h.sweepLocked(ctx)
}

// sweepLocked does a sweep's work; the caller holds the sweep lock.
func (h *Handler) sweepLocked(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	var listed, expired, busy, renewed, failed atomic.Int64
	jobs := make(chan string, 2*sweepWorkers)
	var wg sync.WaitGroup
	for range sweepWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				switch h.sweepOne(ctx, id) {
				case sweptExpired:
					expired.Add(1)
				case sweptBusy:
					busy.Add(1)
				case sweptRenewed:
					renewed.Add(1)
				case sweptFailed:
					failed.Add(1)
				}
			}
		}()
	}
	now := time.Now()
	lerr := h.composer.Lister.ListUploads(ctx, func(u ListedUpload) error {
		listed.Add(1)
		if u.Finished || u.ExpiresAt.IsZero() || !now.After(u.ExpiresAt) {
			return nil
		}
		select {
		case jobs <- u.ID:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	res.Listed, res.Expired, res.Busy = int(listed.Load()), int(expired.Load()), int(busy.Load())
	res.Renewed, res.Failed = int(renewed.Load()), int(failed.Load())
	if lerr != nil {
		return res, fmt.Errorf("tus: expiry sweep: listing uploads: %w", lerr)
	}
	if h.cfg.Expiration > 0 && h.composer.UsesLeftoverRemover() {
		n, err := h.composer.Leftovers.RemoveLeftovers(ctx, time.Now().Add(-h.cfg.Expiration))
		res.Leftovers = n
		if err != nil {
			return res, fmt.Errorf("tus: expiry sweep: removing leftovers: %w", err)
		}
	}
	return res, nil
}

// checkSweep tells whether the composition can sweep.
func (h *Handler) checkSweep() error {
	c := h.composer
	if !c.UsesLister() || !c.UsesTerminater() {
		return ErrSweepUnsupported
	}
	lock, err := c.Locker.NewLock(sweepLockID)
	if err != nil {
		return fmt.Errorf("tus: expiry sweep: %w", err)
	}
	if _, ok := lock.(TryLocker); !ok {
		return ErrSweepUnsupported
	}
	return nil
}

// tryLock takes the lock of id if nobody holds it, without disturbing a
// holder. ok is false if somebody does; release unlocks, logging a
// failure.
func (h *Handler) tryLock(ctx context.Context, id string) (release func(), ok bool, err error) {
	lock, err := h.composer.Locker.NewLock(id)
	if err != nil {
		return nil, false, err
	}
	tl, isTry := lock.(TryLocker)
	if !isTry {
		return nil, false, ErrSweepUnsupported
	}
	lctx, cancel := context.WithTimeout(ctx, min(sweepLockTimeout, h.cfg.AcquireLockTimeout))
	defer cancel()
	if err := tl.TryLock(lctx); err != nil {
		if errors.Is(err, ErrLockHeld) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() {
		if err := lock.Unlock(); err != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "unlocking upload failed",
				slog.String("id", id), slog.String("error", err.Error()))
		}
	}, true, nil
}

// sweepOutcome is what the sweep did with one listed upload.
type sweepOutcome int

const (
	sweptNothing sweepOutcome = iota // not expired (any more), or gone
	sweptExpired
	sweptBusy
	sweptRenewed
	sweptFailed
)

// sweepOne removes upload id if, under its lock, it is still unfinished
// and expired.
func (h *Handler) sweepOne(ctx context.Context, id string) sweepOutcome {
	logFail := func(msg string, err error) sweepOutcome {
		h.log.LogAttrs(ctx, slog.LevelError, msg, slog.String("id", id), slog.String("error", err.Error()))
		return sweptFailed
	}
	release, ok, err := h.tryLock(ctx, id)
	if err != nil {
		return logFail("expiry sweep: locking an upload failed", err)
	}
	if !ok {
		return sweptBusy
	}
	defer release()
	up, info, err := h.getUpload(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return sweptNothing
	case errors.Is(err, ErrCorruptUpload):
		// Its expiry cannot be read; the operator decides.
		h.log.LogAttrs(ctx, slog.LevelWarn, "expiry sweep: upload's record is damaged; left alone",
			slog.String("id", id), slog.String("error", err.Error()))
		return sweptNothing
	case err != nil:
		return logFail("expiry sweep: reading an upload failed", err)
	}
	now := time.Now()
	if !info.IsExpired(now) {
		return sweptNothing
	}
	if info.IsFinal {
		keep, renewTo, err := h.finalAlive(ctx, info, now)
		if err != nil {
			return logFail("expiry sweep: reading a final upload's partials failed", err)
		}
		if keep {
			if !h.composer.UsesExtender() {
				return sweptNothing
			}
			if err := h.composer.Extender.AsExtendableUpload(up).ExtendExpiry(ctx, renewTo); err != nil {
				return logFail("expiry sweep: renewing a final upload failed", err)
			}
			return sweptRenewed
		}
	}
	ev := Event{HookEvent: HookEvent{Context: ctx, Upload: info}, Expired: true}
	if err := h.terminate(ctx, ctx, up, ev); err != nil {
		return logFail("expiry sweep: removing an expired upload failed", err)
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "expired upload removed", slog.String("id", id),
		slog.Int64("offset", info.Offset), slog.Time("expired_at", info.ExpiresAt))
	return sweptExpired
}

// finalAlive tells whether an expired final upload must stay: when every
// partial exists, none has expired and some are unfinished (renewed by
// sliding expiration). renewTo is then the earliest expiry of those. A
// final whose partials are all complete goes: it expired before a request
// concatenated them, and answers 410 like any expired upload.
func (h *Handler) finalAlive(ctx context.Context, info FileInfo, now time.Time) (keep bool, renewTo time.Time, err error) {
	pinfos := make([]FileInfo, 0, len(info.PartialUploads))
	for _, pid := range info.PartialUploads {
		_, pi, err := h.getUpload(ctx, pid)
		switch {
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorruptUpload):
			return false, time.Time{}, nil
		case err != nil:
			return false, time.Time{}, err
		}
		if pi.IsExpired(now) {
			return false, time.Time{}, nil
		}
		pinfos = append(pinfos, pi)
	}
	renewTo = finalExpiry(pinfos)
	return !renewTo.IsZero(), renewTo, nil
}

// DefaultCleanupInterval returns the interval RunCleaner uses when given
// 0: a tenth of expiration, at least a second and at most an hour (an hour
// also when expiration is 0, for uploads that expire by an earlier
// configuration and for leftovers).
func DefaultCleanupInterval(expiration time.Duration) time.Duration {
	if expiration <= 0 {
		return time.Hour
	}
	return min(max(expiration/10, time.Second), time.Hour)
}

// RunCleaner sweeps (as SweepExpired does) at once and then every
// interval, until ctx ends; it then returns nil. interval 0 means
// DefaultCleanupInterval(Config.Expiration); negative is refused. It fails
// at once with ErrSweepUnsupported if the composition cannot sweep. A sweep
// that fails is logged and the next one comes on time. It runs on the
// caller's goroutine: start it in one you own, and end it with ctx.
//
// Of several servers sharing a locker, the first whose cleaner gets the
// sweep lock keeps it, and sweeps every interval, until its cleaner ends
// (or dies, which frees the lock: a process's file locks, a Redis lock's
// lease); the others try at each of their intervals and stand by. So the
// work is done once per interval, however many servers run a cleaner.
func (h *Handler) RunCleaner(ctx context.Context, interval time.Duration) error {
	if interval < 0 {
		return errors.New("tus: RunCleaner: the interval must not be negative")
	}
	if interval == 0 {
		interval = DefaultCleanupInterval(h.cfg.Expiration)
	}
	if err := h.checkSweep(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	for {
		start := time.Now()
		var res SweepResult
		var err error
		if release == nil {
			var ok bool
			release, ok, err = h.tryLock(ctx, sweepLockID)
			if err == nil && !ok {
				res.Skipped = true
			}
		}
		if release != nil {
			res, err = h.sweepLocked(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		h.logSweep(ctx, res, err, time.Since(start))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// logSweep logs a sweep's result: at Info when it removed something or
// failed somewhere, else at Debug.
func (h *Handler) logSweep(ctx context.Context, res SweepResult, err error, took time.Duration) {
	attrs := []slog.Attr{slog.Int("listed", res.Listed), slog.Int("expired", res.Expired),
		slog.Int("busy", res.Busy), slog.Int("renewed", res.Renewed), slog.Int("failed", res.Failed),
		slog.Int("leftovers", res.Leftovers), slog.Bool("skipped", res.Skipped), slog.Duration("took", took)}
	switch {
	case err != nil:
		h.log.LogAttrs(ctx, slog.LevelError, "expiry sweep failed", append(attrs, slog.String("error", err.Error()))...)
	case res.Expired+res.Failed+res.Leftovers+res.Renewed > 0:
		h.log.LogAttrs(ctx, slog.LevelInfo, "expiry sweep done", attrs...)
	default:
		h.log.LogAttrs(ctx, slog.LevelDebug, "expiry sweep done", attrs...)
	}
}
