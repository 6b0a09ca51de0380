package redislocker

import "github.com/redis/go-redis/v9"

// The Lua scripts run atomically in Redis. Each touches one key, so they
// work in Redis Cluster too; PUBLISH inside a script reaches every
// subscriber of the cluster.

// acquireScript takes the lock or asks its holder to let go.
//
// KEYS[1] is the lock key; ARGV holds the token, the lease in milliseconds,
// the release-request channel and the upload ID. It answers {1, 0} when the
// key now holds the token: it was free (SET NX PX) or already held that
// token, which makes a retry after a lost reply safe; then the lease starts
// anew. Otherwise it publishes the upload ID on the request channel and
// answers {0, PTTL of the key}.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {1, 0}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return {1, 0}
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {0, redis.call('PTTL', KEYS[1])}
`)

// renewScript extends the lease of KEYS[1] to ARGV[2] milliseconds if the
// key still holds the token ARGV[1]. It answers 1 if it did, else 0.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockScript deletes KEYS[1] if it still holds the token ARGV[1] and then
// publishes the upload ID ARGV[3] on the released channel ARGV[2]. It
// answers 1 if it deleted the key, else 0 (the lock had been lost).
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.call('PUBLISH', ARGV[2], ARGV[3])
	return 1
end
return 0
`)
