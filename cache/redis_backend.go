package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisBackend records invalidations in Redis and applies everyone's to the
// local tag clock. The data model keeps every operation O(1) per tag:
//
//	<prefix><store>:clock           INCR'd once per invalidation (the global sequence)
//	<prefix><store>:epoch           random id of this Redis dataset; a change means data loss
//	<prefix><store>:h:<tag>         sequence of the tag's last hard invalidation (expires)
//	<prefix><store>:s:<tag>         sequence of the tag's last soft invalidation (expires)
//	<prefix><store>:feed            stream of invalidations, trimmed to ~feed_max_len
//
// One Lua script does the INCR, the tag writes and the XADD atomically, so an
// invalidation is either wholly recorded or not at all. Sequence numbers are
// contiguous, so a reader that sees a jump knows it missed something and
// expires what it cannot vouch for.
type redisBackend struct {
	client *redis.Client
	clock  *TagClock
	logger *zap.Logger
	keys   redisKeys

	maxFeedLag time.Duration
	feedMaxLen int64
	retention  time.Duration
	shared     *sharedEntries

	lastFeedOK atomic.Int64 // unix nanos of the last successful feed read
	resyncing  atomic.Bool  // true until the clock is resynchronised after a loss
	lastV      uint64       // last sequence applied from the feed (feed goroutine only)
	lastID     string       // last stream id read (feed goroutine only)
	epoch      string       // the dataset epoch this instance trusts (feed goroutine only)
	// trustedEpoch is epoch, published for Record once a resync completes.
	trustedEpoch atomic.Value

	stateMu   sync.Mutex
	healthy   bool
	lastError string

	cancel context.CancelFunc
	done   chan struct{}
	now    func() time.Time
}

type redisKeys struct {
	prefix, clock, epoch, feed string
}

func newRedisKeys(prefix, store string) redisKeys {
	p := prefix + store + ":"
	return redisKeys{prefix: p, clock: p + "clock", epoch: p + "epoch", feed: p + "feed"}
}

// recordScript records one invalidation: KEYS clock, feed, epoch; ARGV mode
// letter, tag ttl in seconds, feed max length, tag key prefix, the epoch
// this instance trusts, then the tags.
// It refuses (EPOCH) when the dataset is not the one this instance has
// synchronised with, so an invalidation is never acknowledged into a Redis
// that lost the history the instances rely on.
var recordScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[5] then
	return redis.error_reply('EPOCH redis dataset changed; resynchronising')
end
local v = redis.call('INCR', KEYS[1])
local tags = {}
for i = 6, #ARGV do
	redis.call('SET', ARGV[4] .. ARGV[1] .. ':' .. ARGV[i], v, 'EX', ARGV[2])
	tags[#tags + 1] = ARGV[i]
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'v', v, 'm', ARGV[1], 't', cjson.encode(tags))
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

func newRedisBackend(cfg *RedisConfig, opts *redis.Options, store string, clock *TagClock, retention time.Duration, logger *zap.Logger) *redisBackend {
	b := &redisBackend{
		client:     redis.NewClient(opts),
		clock:      clock,
		logger:     logger.With(zap.String("store", store)),
		keys:       newRedisKeys(cfg.prefix(), store),
		maxFeedLag: durationOr(cfg.MaxFeedLag, DefaultMaxFeedLag),
		feedMaxLen: cfg.FeedMaxLen,
		retention:  retention,
		healthy:    true,
		done:       make(chan struct{}),
		now:        time.Now,
	}
	if b.feedMaxLen <= 0 {
		b.feedMaxLen = DefaultFeedMaxLen
	}
	if b.retention <= 0 {
		b.retention = DefaultMaxRetention
	}
	if cfg.SharedEntries != nil {
		b.shared = newSharedEntries(b.client, b.keys.prefix+"e:", cfg.SharedEntries, b.logger)
	}
	// Until the first successful resync, nothing local is trusted.
	b.resyncing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.followFeed(ctx)
	return b
}

// Record implements Backend: the invalidation is in Redis (and so reaches
// every instance) when it returns without error.
func (b *redisBackend) Record(ctx context.Context, tags []string, mode Mode) (uint64, error) {
	letter := "h"
	if mode == ModeStale {
		letter = "s"
	}
	epoch, _ := b.trustedEpoch.Load().(string)
	if epoch == "" || b.resyncing.Load() {
		return 0, errors.New("not synchronised with redis yet")
	}
	args := make([]any, 0, 5+len(tags))
	args = append(args, letter, int64(b.retention/time.Second)+1, b.feedMaxLen, b.keys.prefix, epoch)
	for _, t := range tags {
		args = append(args, t)
	}
	v, err := recordScript.Run(ctx, b.client, []string{b.keys.clock, b.keys.feed, b.keys.epoch}, args...).Uint64()
	if err != nil {
		b.setHealth(false, err)
		return 0, fmt.Errorf("recording in redis: %w", err)
	}
	// Apply at once locally; the feed will bring it again, harmlessly.
	b.clock.Apply(tags, mode, v)
	return v, nil
}

// Trustworthy implements Backend (design invariant 3).
func (b *redisBackend) Trustworthy() bool {
	if b.resyncing.Load() {
		return false
	}
	return b.now().Sub(time.Unix(0, b.lastFeedOK.Load())) <= b.maxFeedLag
}

// Status implements Backend.
func (b *redisBackend) Status() BackendStatus {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	st := BackendStatus{Kind: "redis", Healthy: b.healthy, Trusted: b.Trustworthy()}
	if !b.healthy {
		st.Detail = b.lastError
	} else if !st.Trusted {
		st.Detail = "invalidation feed not heard from within max_feed_lag"
	}
	return st
}

// Close implements Backend.
func (b *redisBackend) Close() {
	b.cancel()
	<-b.done
	_ = b.client.Close()
}

func (b *redisBackend) setHealth(ok bool, err error) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if ok == b.healthy {
		return
	}
	b.healthy = ok
	if ok {
		b.lastError = ""
		b.logger.Info("redis reachable again; invalidation feed resumed")
	} else {
		b.lastError = err.Error()
		// Logged once per transition, not once per failed request.
		b.logger.Error("redis unreachable: invalidations cannot be recorded; cached entries are revalidated until the feed is back",
			zap.Error(err), zap.Duration("max_feed_lag", b.maxFeedLag))
	}
}

// followFeed reads the invalidation stream until ctx ends, resynchronising
// after every failure.
func (b *redisBackend) followFeed(ctx context.Context) {
	defer close(b.done)
	backoff := 50 * time.Millisecond
	block := min(time.Second, b.maxFeedLag/3)
	needResync := true
	for ctx.Err() == nil {
		if needResync {
			if err := b.resync(ctx); err != nil {
				b.setHealth(false, err)
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			needResync = false
			backoff = 50 * time.Millisecond
			b.setHealth(true, nil)
		}
		streams, err := b.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{b.keys.feed, b.lastID},
			Count:   1000,
			Block:   block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return
			}
			b.setHealth(false, err)
			b.resyncing.Store(true)
			needResync = true
			sleepCtx(ctx, backoff)
			continue
		}
		for _, s := range streams {
			for _, msg := range s.Messages {
				b.apply(msg)
			}
		}
		b.lastFeedOK.Store(b.now().UnixNano())
	}
}

// resync establishes where this instance stands after start-up or a
// failure: the dataset epoch, the newest sequence, and whether anything was
// missed. What cannot be vouched for is expired by raising the floor.
func (b *redisBackend) resync(ctx context.Context) error {
	epoch, err := b.client.Get(ctx, b.keys.epoch).Result()
	if errors.Is(err, redis.Nil) {
		fresh := randomID()
		if _, err := b.client.SetNX(ctx, b.keys.epoch, fresh, 0).Result(); err != nil {
			return err
		}
		if epoch, err = b.client.Get(ctx, b.keys.epoch).Result(); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if b.epoch != "" && epoch != b.epoch {
		// Redis lost its data (a restart without persistence, a failover to
		// an empty replica): invalidations recorded before may be gone.
		// Expire every local entry and make sure new sequence numbers
		// outrank them.
		floor := b.clock.Now() + 1
		b.clock.RaiseFloor(floor)
		if _, err := raiseScript.Run(ctx, b.client, []string{b.keys.clock}, floor).Result(); err != nil {
			return err
		}
		b.logger.Warn("redis dataset changed (data loss); local entries expired", zap.Uint64("floor", floor))
		b.lastID, b.lastV = "", 0
	}
	b.epoch = epoch
	b.trustedEpoch.Store(epoch)

	if b.lastID == "" {
		// First sync: start after the newest stream entry, at the current
		// sequence. Local entries (a store kept across a reload has some)
		// are only as good as what we can prove: expire them.
		last, err := b.client.XRevRangeN(ctx, b.keys.feed, "+", "-", 1).Result()
		if err != nil {
			return err
		}
		cur, err := b.client.Get(ctx, b.keys.clock).Uint64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		local := b.clock.Now()
		if len(last) > 0 {
			b.lastID = last[0].ID
		} else {
			b.lastID = "0-0"
		}
		b.lastV = cur
		if local > 0 {
			b.clock.RaiseFloor(local + 1)
		}
		if cur < local+1 && local > 0 {
			if _, err := raiseScript.Run(ctx, b.client, []string{b.keys.clock}, local+1).Result(); err != nil {
				return err
			}
			b.lastV = local + 1
		}
		b.clock.Apply(nil, ModeExpire, b.lastV)
	}
	// After a failure, reading on from lastID catches up with everything
	// still in the stream; apply() detects a gap if the stream was trimmed.
	b.lastFeedOK.Store(b.now().UnixNano())
	b.resyncing.Store(false)
	return nil
}

// apply applies one stream message to the local clock.
func (b *redisBackend) apply(msg redis.XMessage) {
	b.lastID = msg.ID
	v, err := strconv.ParseUint(fmt.Sprint(msg.Values["v"]), 10, 64)
	if err != nil {
		return
	}
	if v > b.lastV+1 {
		// Sequences are contiguous: a jump means trimmed, unread entries.
		// Entries older than the newest missed one cannot be vouched for.
		b.clock.RaiseFloor(v - 1)
		b.logger.Warn("invalidation feed gap; older local entries expired",
			zap.Uint64("expected", b.lastV+1), zap.Uint64("got", v))
	}
	if v > b.lastV {
		b.lastV = v
	}
	var tags []string
	_ = json.Unmarshal([]byte(fmt.Sprint(msg.Values["t"])), &tags)
	mode := ModeExpire
	if fmt.Sprint(msg.Values["m"]) == "s" {
		mode = ModeStale
	}
	b.clock.Apply(tags, mode, v)
}

// tagState reads the tags' invalidation sequences from Redis, for checking
// an entry another instance stored (the shared second level).
func (b *redisBackend) tagState(ctx context.Context, tags []string) (hard, soft uint64, err error) {
	if len(tags) == 0 {
		return 0, 0, nil
	}
	keys := make([]string, 0, 2*len(tags))
	for _, t := range tags {
		keys = append(keys, b.keys.prefix+"h:"+t, b.keys.prefix+"s:"+t)
	}
	vals, err := b.client.MGet(ctx, keys...).Result()
	if err != nil {
		return 0, 0, err
	}
	for i, v := range vals {
		if v == nil {
			continue
		}
		n, err := strconv.ParseUint(fmt.Sprint(v), 10, 64)
		if err != nil {
			continue
		}
		if i%2 == 0 {
			hard = max(hard, n)
		} else {
			soft = max(soft, n)
		}
	}
	return hard, soft, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
