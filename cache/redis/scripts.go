package redis

import "github.com/redis/go-redis/v9"

// recordScript records one invalidation: KEYS clock, feed, epoch, then one
// record key per tag; ARGV tag ttl in seconds, feed max length, the epoch
// this instance trusts, the highest sequence this instance has seen, the
// mode letter, then the tags (for the feed).
// It refuses (EPOCH) when the dataset is not the one this instance has
// synchronised with, and (BEHIND) when the sequence is below what this
// instance has already seen, as after a failover to a replica that missed
// writes: an invalidation is never acknowledged into a Redis that lost the
// history the instances rely on.
var recordScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[3] then
	return redis.error_reply('EPOCH redis dataset changed; resynchronising')
end
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[4]) then
	return redis.error_reply('BEHIND redis sequence is behind what this instance has seen (writes lost in a failover); resynchronising')
end
local v = redis.call('INCR', KEYS[1])
local tags = {}
for i = 4, #KEYS do
	redis.call('SET', KEYS[i], v, 'EX', ARGV[1])
	tags[#tags + 1] = ARGV[i + 2]
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'v', v, 'm', ARGV[5], 't', cjson.encode(tags))
return v
`)

// raiseScript moves the global sequence up to at least ARGV[1], so that
// invalidations recorded after a data loss outrank every local entry.
var raiseScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if cur < want then redis.call('SET', KEYS[1], want) return want end
return cur
`)
