package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/contain"
)

// redisBackend records invalidations in Redis and applies everyone's to the
// local tag clock. The data model keeps every operation O(1) per tag:
//
//	<prefix><store>:clock           INCR'd once per invalidation (the global sequence)
//	<prefix><store>:epoch           random id of this Redis dataset; a change means data loss
//	<prefix><store>:h:<tag>         sequence of the tag's last hard invalidation (expires)
//	<prefix><store>:s:<tag>         sequence of the tag's last soft invalidation (expires)
//	<prefix><store>:feed            stream of invalidations, trimmed to ~feed_max_len
//	<prefix><store>:e:<key>         shared second-level entries (optional)
//
// On a Redis Cluster the store name is a hash tag, <prefix>{<store>}:..., so
// every key of the tag clock lives in one slot and the script that writes
// them stays atomic; shared entries keep the plain name and spread over the
// slots. Tags are opaque: whatever they hold comes after the hash tag.
//
// One Lua script does the INCR, the tag writes and the XADD atomically, so an
// invalidation is either wholly recorded or not at all. Sequence numbers are
// contiguous, so a reader that sees a jump knows it missed something and
// expires what it cannot vouch for; a reader that sees them go back knows
// Redis lost writes it had read (a failover to a replica that had not
// received them) and resynchronises. Where the primary has replicas, an
// invalidation is acknowledged only once WAIT confirms min_replicas of them.
type redisBackend struct {
	client   redis.UniversalClient
	topology string
	clock    *TagClock
	logger   *zap.Logger
	keys     redisKeys

	maxFeedLag  time.Duration
	feedMaxLen  int64
	retention   time.Duration
	waitTimeout time.Duration
	minReplicas *int // configured; nil means detected
	shared      *sharedEntries

	// detectedReplicas is the default min_replicas: 1 where the primary has
	// replicas (see RedisConfig.MinReplicas).
	detectedReplicas atomic.Int64
	lastFeedOK       atomic.Int64 // unix nanos of the last successful feed read
	resyncing        atomic.Bool  // true until the clock is resynchronised after a loss
	// lossSuspected is set by Record when Redis refuses an invalidation
	// because its dataset or sequence is not the one this instance knows;
	// the feed goroutine then resynchronises as after a data loss.
	lossSuspected atomic.Bool
	lastV         uint64 // last sequence applied from the feed (feed goroutine only)
	lastID        string // last stream id read (feed goroutine only)
	epoch         string // the dataset epoch this instance trusts (feed goroutine only)
	lost          bool   // the feed saw the sequence go back (feed goroutine only)
	// trustedEpoch is epoch, published for Record once a resync completes.
	trustedEpoch atomic.Value
	// applied, when set (by the scale model only), is called with the tags
	// of every feed message once it is applied.
	applied atomic.Pointer[func(tags []string)]

	stateMu   sync.Mutex
	healthy   bool
	lastError string

	cancel context.CancelFunc
	done   chan struct{}
	now    func() time.Time
}

type redisKeys struct {
	prefix, clock, epoch, feed, entries string
}

// newRedisKeys lays out a store's keys; on a cluster the store name is the
// hash tag of every tag-clock key.
func newRedisKeys(prefix, store string, cluster bool) redisKeys {
	slot := store
	if cluster {
		slot = "{" + store + "}"
	}
	p := prefix + slot + ":"
	return redisKeys{prefix: p, clock: p + "clock", epoch: p + "epoch", feed: p + "feed", entries: prefix + store + ":e:"}
}

// tag returns the key of a tag's hard ("h") or soft ("s") record.
func (k redisKeys) tag(letter, tag string) string { return k.prefix + letter + ":" + tag }

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

func newRedisBackend(cfg *RedisConfig, opts *redis.UniversalOptions, store string, clock *TagClock, retention time.Duration, logger *zap.Logger) *redisBackend {
	topology := cfg.topology()
	b := &redisBackend{
		client:      redis.NewUniversalClient(opts),
		topology:    topology,
		clock:       clock,
		logger:      logger.With(zap.String("store", store)),
		keys:        newRedisKeys(cfg.prefix(), store, topology == topologyCluster),
		maxFeedLag:  durationOr(cfg.MaxFeedLag, DefaultMaxFeedLag),
		feedMaxLen:  cfg.FeedMaxLen,
		retention:   retention,
		waitTimeout: cfg.waitTimeout(),
		minReplicas: cfg.MinReplicas,
		healthy:     true,
		done:        make(chan struct{}),
		now:         time.Now,
	}
	if b.feedMaxLen <= 0 {
		b.feedMaxLen = DefaultFeedMaxLen
	}
	if b.retention <= 0 {
		b.retention = DefaultMaxRetention
	}
	if topology == topologySentinel {
		// A Sentinel deployment has replicas by definition.
		b.detectedReplicas.Store(1)
	}
	if cfg.SharedEntries != nil {
		b.shared = newSharedEntries(b.client, b.keys.entries, cfg.SharedEntries, b.logger)
	}
	// Until the first successful resync, nothing local is trusted.
	b.resyncing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() {
		defer close(b.done)
		// A panic on a malformed feed entry restarts the follower, which
		// begins with a resync; until then entries turn Unverified.
		contain.Loop(ctx, b.logger, "redis feed", time.Second, b.followFeed)
	}()
	return b
}

// errNotReplicated refuses an invalidation the replicas did not confirm.
var errNotReplicated = errors.New("not confirmed by enough replicas in time")

// Record implements Backend: the invalidation is in Redis (and so reaches
// every instance) when it returns without error; where the primary has
// replicas, it is on min_replicas of them too, so a failover keeps it.
func (b *redisBackend) Record(ctx context.Context, tags []string, mode Mode) (uint64, error) {
	letter := "h"
	if mode == ModeStale {
		letter = "s"
	}
	epoch, _ := b.trustedEpoch.Load().(string)
	if epoch == "" || b.resyncing.Load() {
		return 0, errors.New("not synchronised with redis yet")
	}
	keys := make([]string, 0, 3+len(tags))
	keys = append(keys, b.keys.clock, b.keys.feed, b.keys.epoch)
	args := make([]any, 0, 5+len(tags))
	args = append(args, int64(b.retention/time.Second)+1, b.feedMaxLen, epoch, b.clock.Now(), letter)
	for _, t := range tags {
		keys = append(keys, b.keys.tag(letter, t))
		args = append(args, t)
	}
	v, err := b.runRecord(ctx, keys, args)
	if v > 0 {
		// Apply at once locally, even when the replicas did not confirm
		// it: expiring more is harmless. The feed brings it again.
		b.clock.Apply(tags, mode, v)
	}
	if err != nil {
		if redis.HasErrorPrefix(err, "EPOCH") || redis.HasErrorPrefix(err, "BEHIND") {
			// Stop trusting local entries until the feed has resynchronised.
			b.resyncing.Store(true)
			b.lossSuspected.Store(true)
		} else if !errors.Is(err, errNotReplicated) {
			b.setHealth(false, err)
		}
		return 0, fmt.Errorf("recording in redis: %w", err)
	}
	return v, nil
}

// runRecord runs the record script on the primary holding the tag clock
// and, where replicas are required, WAITs for them on the same connection
// (WAIT counts the writes of its own connection). It returns the sequence
// when the script ran, even if the replicas did not confirm it.
func (b *redisBackend) runRecord(ctx context.Context, keys []string, args []any) (uint64, error) {
	node, err := b.primary(ctx)
	if err != nil {
		return 0, err
	}
	need := b.requiredReplicas()
	for attempt := range 2 {
		pipe := node.Pipeline()
		var script *redis.Cmd
		if attempt == 0 {
			script = recordScript.EvalSha(ctx, pipe, keys, args...)
		} else {
			script = recordScript.Eval(ctx, pipe, keys, args...)
		}
		var wait *redis.Cmd
		if need > 0 {
			// Pipeliner has no Wait: the command as go-redis would send it.
			// Its reply comes within read_timeout, which provision checks is
			// longer than wait_timeout.
			wait = pipe.Do(ctx, "wait", need, b.waitTimeout.Milliseconds())
		}
		_, _ = pipe.Exec(ctx)
		if err := script.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				continue
			}
			b.primaryFailed(ctx, err)
			return 0, err
		}
		v, err := script.Uint64()
		if err != nil {
			return 0, err
		}
		if wait != nil {
			n, err := wait.Int64()
			if err != nil {
				return v, fmt.Errorf("waiting for %d replica(s): %w", need, err)
			}
			if n < int64(need) {
				return v, fmt.Errorf("%w: %d of %d replica(s) within %v", errNotReplicated, n, need, b.waitTimeout)
			}
		}
		return v, nil
	}
	return 0, errors.New("record script not loaded")
}

// primary returns a client for the primary holding the tag clock: on a
// cluster, the node serving its slot, so that WAIT reaches the node the
// script wrote to.
func (b *redisBackend) primary(ctx context.Context) (redis.UniversalClient, error) {
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		return cc.MasterForKey(ctx, b.keys.clock)
	}
	return b.client, nil
}

// primaryFailed refreshes a cluster's slot map after an error that may
// mean the slot moved (a failover or resharding): go-redis follows a MOVED
// reply by itself, but not a primary that stopped answering.
func (b *redisBackend) primaryFailed(ctx context.Context, err error) {
	if cc, ok := b.client.(*redis.ClusterClient); ok && !redis.HasErrorPrefix(err, "EPOCH") && !redis.HasErrorPrefix(err, "BEHIND") {
		cc.ReloadState(ctx)
	}
}

// requiredReplicas is how many replicas must confirm an invalidation.
func (b *redisBackend) requiredReplicas() int {
	if b.minReplicas != nil {
		return *b.minReplicas
	}
	return int(b.detectedReplicas.Load())
}

// detectReplicas sets the default min_replicas from the primary's
// connected replicas (Sentinel always has them).
func (b *redisBackend) detectReplicas(ctx context.Context) {
	if b.minReplicas != nil || b.topology == topologySentinel {
		return
	}
	node, err := b.primary(ctx)
	if err != nil {
		return
	}
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		return
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			if k, _ := strconv.Atoi(v); k > 0 {
				n = 1
			}
		}
	}
	if old := b.detectedReplicas.Swap(n); old != n {
		b.logger.Info("replicas of the tag clock's primary changed; invalidations now wait for this many",
			zap.Int64("min_replicas", n))
	}
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
	backoff := 50 * time.Millisecond
	block := min(time.Second, b.maxFeedLag/3)
	needResync := true
	var lastReplicaCheck time.Time
	for ctx.Err() == nil {
		if b.lossSuspected.Swap(false) {
			b.lost, needResync = true, true
		}
		if needResync {
			if err := b.resync(ctx); err != nil {
				b.primaryFailed(ctx, err)
				b.setHealth(false, err)
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			needResync = false
			backoff = 50 * time.Millisecond
			lastReplicaCheck = b.now()
			b.setHealth(true, nil)
		}
		if b.now().Sub(lastReplicaCheck) >= 5*time.Second {
			b.detectReplicas(ctx)
			lastReplicaCheck = b.now()
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
			b.primaryFailed(ctx, err)
			b.setHealth(false, err)
			b.resyncing.Store(true)
			needResync = true
			sleepCtx(ctx, backoff)
			continue
		}
	read:
		for _, s := range streams {
			for _, msg := range s.Messages {
				if !b.apply(msg) {
					// The sequence went back: Redis lost writes this
					// instance had read. Nothing after it can be placed.
					b.resyncing.Store(true)
					b.lost, needResync = true, true
					break read
				}
			}
		}
		b.lastFeedOK.Store(b.now().UnixNano())
	}
}

// resync establishes where this instance stands after start-up or a
// failure: the dataset epoch, the newest sequence, and whether anything was
// lost. What cannot be vouched for is expired by raising the floor.
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
	// The sequence and the newest stream entry, read together (one slot,
	// one transaction) so that neither runs ahead of the other.
	var cur uint64
	var last []redis.XMessage
	cmds, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, b.keys.clock)
		p.XRevRangeN(ctx, b.keys.feed, "+", "-", 1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if cur, err = cmds[0].(*redis.StringCmd).Uint64(); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if last, err = cmds[1].(*redis.XMessageSliceCmd).Result(); err != nil {
		return err
	}
	local := b.clock.Now()
	reset := b.lastID == "" // first sync
	switch {
	case b.epoch != "" && epoch != b.epoch:
		// Redis lost its data (a restart without persistence, a failover
		// to an empty replica): invalidations recorded before may be gone.
		reset = true
		b.logger.Warn("redis dataset changed (data loss); local entries expired")
	case b.lastID != "" && (b.lost || cur < max(b.lastV, local)):
		// Redis is behind what this instance has seen: a failover promoted
		// a replica that had not received the newest writes, and numbers
		// this instance has used will be given again.
		reset = true
		b.logger.Warn("redis sequence went back (writes lost in a failover); local entries expired",
			zap.Uint64("redis", cur), zap.Uint64("seen", max(b.lastV, local)))
	}
	b.epoch = epoch
	b.trustedEpoch.Store(epoch)
	if reset {
		// Start after the newest stream entry, at the current sequence.
		// Local entries (a store kept across a reload has some; so does one
		// that outlived a data loss) are only as good as what we can prove:
		// expire them, and make sure new sequence numbers outrank them.
		b.lastID, b.lastV = "0-0", cur
		if len(last) > 0 {
			b.lastID = last[0].ID
		}
		b.clock.RaiseFloor(local + 1)
		if cur < local+1 {
			if _, err := raiseScript.Run(ctx, b.client, []string{b.keys.clock}, local+1).Result(); err != nil {
				return err
			}
			b.lastV = local + 1
		}
		b.clock.Apply(nil, ModeExpire, b.lastV)
		b.lost = false
	}
	b.detectReplicas(ctx)
	// After a failure, reading on from lastID catches up with everything
	// still in the stream; apply() detects a gap if the stream was trimmed.
	b.lastFeedOK.Store(b.now().UnixNano())
	b.resyncing.Store(false)
	return nil
}

// apply applies one stream message to the local clock. It returns false,
// applying nothing, when the message's sequence is not above the last one
// applied: numbers are only ever given once, so Redis lost writes.
func (b *redisBackend) apply(msg redis.XMessage) bool {
	v, err := strconv.ParseUint(asString(msg.Values["v"]), 10, 64)
	if err != nil {
		b.lastID = msg.ID
		return true
	}
	if v <= b.lastV {
		return false
	}
	b.lastID = msg.ID
	if v > b.lastV+1 {
		// Sequences are contiguous: a jump means trimmed, unread entries.
		// Entries older than the newest missed one cannot be vouched for.
		b.clock.RaiseFloor(v - 1)
		b.logger.Warn("invalidation feed gap; older local entries expired",
			zap.Uint64("expected", b.lastV+1), zap.Uint64("got", v))
	}
	b.lastV = v
	tags := decodeTags(asString(msg.Values["t"]))
	mode := ModeExpire
	if asString(msg.Values["m"]) == "s" {
		mode = ModeStale
	}
	b.clock.Apply(tags, mode, v)
	if hook := b.applied.Load(); hook != nil {
		(*hook)(tags)
	}
	return true
}

// asString renders a stream field's value (a string from go-redis).
func asString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// decodeTags decodes a feed message's tags: the JSON array the record
// script's cjson wrote. Every instance decodes every invalidation, so the
// common case (no escapes but cjson's "\/") is split by hand; anything else
// goes through encoding/json.
func decodeTags(s string) []string {
	if len(s) >= 4 && s[0] == '[' && s[1] == '"' && s[len(s)-2] == '"' && s[len(s)-1] == ']' {
		body := s[2 : len(s)-2]
		if strings.Contains(body, "\\/") {
			body = strings.ReplaceAll(body, "\\/", "/")
		}
		if !strings.Contains(body, "\\") {
			// Without escapes, every quote is a delimiter: cjson writes
			// the elements as "a","b" with nothing between.
			return strings.Split(body, `","`)
		}
	}
	var tags []string
	_ = json.Unmarshal([]byte(s), &tags)
	return tags
}

// tagState reads the tags' invalidation sequences from Redis, for checking
// an entry another instance stored (the shared second level).
func (b *redisBackend) tagState(ctx context.Context, tags []string) (hard, soft uint64, err error) {
	if len(tags) == 0 {
		return 0, 0, nil
	}
	keys := make([]string, 0, 2*len(tags))
	for _, t := range tags {
		keys = append(keys, b.keys.tag("h", t), b.keys.tag("s", t))
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
