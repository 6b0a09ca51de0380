package redislocker

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// NewWithPing is New with another interval after which a silent
// subscription connection is pinged.
func NewWithPing(client redis.UniversalClient, opts Options, ping time.Duration) (*Locker, error) {
	return newLocker(client, opts, ping)
}
