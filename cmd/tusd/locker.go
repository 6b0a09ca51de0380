package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/redislocker"
)

// redisOptions are the settings of the Redis locker; url empty means the
// store's own locker (the directory's file locks, or memory with S3).
type redisOptions struct {
	url       string
	lease     time.Duration
	keyPrefix string
}

// useRedisLocker puts a Redis locker into composer in place of the store's,
// after checking that Redis answers. It returns the startup log's
// attributes and a function that stops the locker and closes its client.
func useRedisLocker(ctx context.Context, composer *tus.StoreComposer, ro redisOptions, logger *slog.Logger, m *metrics) ([]any, func() error, error) {
	opts, err := redis.ParseURL(ro.url)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis-url %s: %w", redactURL(ro.url), err)
	}
	// The locker bounds every call by its own context deadline, which
	// go-redis honours only with this set.
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("redis at %s cannot be reached: %w", redactURL(ro.url), err), client.Close())
	}
	locker, err := redislocker.New(client, redislocker.Options{
		KeyPrefix: ro.keyPrefix,
		Lease:     ro.lease,
		Logger:    logger,
		Observer:  m.locks,
	})
	if err != nil {
		return nil, nil, errors.Join(err, client.Close())
	}
	locker.UseIn(composer)
	closeLocker := func() error { return errors.Join(locker.Close(), client.Close()) }
	return []any{"locker", "redis " + redactURL(ro.url)}, closeLocker, nil
}

// lockMetrics counts what the Redis locker does; it is its Observer.
type lockMetrics struct {
	acquired       prometheus.Counter
	wait           prometheus.Histogram
	releasesSent   prometheus.Counter
	releasesGot    prometheus.Counter
	renewalsFailed prometheus.Counter
	redisErrors    *prometheus.CounterVec // by operation
}

func newLockMetrics() *lockMetrics {
	return &lockMetrics{
		acquired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_lock_acquisitions_total", Help: "Upload locks taken through the Redis locker.",
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tusd_lock_wait_seconds", Help: "How long requests waited for an upload's lock in the Redis locker.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}),
		releasesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_lock_release_requests_sent_total", Help: "Requests to another holder (in any instance) to let go of an upload's lock.",
		}),
		releasesGot: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_lock_release_requests_received_total", Help: "Requests to a holder in this instance to let go of an upload's lock.",
		}),
		renewalsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tusd_lock_renewals_failed_total", Help: "Lease renewals of held locks that failed (Redis unreachable, or the lock lost).",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tusd_redis_errors_total", Help: "Redis calls of the locker that failed, by operation.",
		}, []string{"operation"}),
	}
}

// collectors returns the metrics to register.
func (l *lockMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.acquired, l.wait, l.releasesSent, l.releasesGot, l.renewalsFailed, l.redisErrors}
}

func (l *lockMetrics) LockAcquired(wait time.Duration) {
	l.acquired.Inc()
	l.wait.Observe(wait.Seconds())
}
func (l *lockMetrics) ReleaseRequestSent()     { l.releasesSent.Inc() }
func (l *lockMetrics) ReleaseRequestReceived() { l.releasesGot.Inc() }
func (l *lockMetrics) RenewalFailed()          { l.renewalsFailed.Inc() }
func (l *lockMetrics) RedisError(op string)    { l.redisErrors.WithLabelValues(op).Inc() }

var _ redislocker.Observer = (*lockMetrics)(nil)
