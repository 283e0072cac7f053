package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/contain"
)

// backend records invalidations in Redis and applies everyone's to the
// local tag clock. The data model keeps every operation O(1) per tag:
//
//	<prefix><store>:clock           INCR'd once per invalidation (the global sequence)
//	<prefix><store>:epoch           random id of this Redis dataset; a change means data loss
//	<prefix><store>:h:<tag>         sequence of the tag's last hard invalidation (expires)
//	<prefix><store>:s:<tag>         sequence of the tag's last soft invalidation (expires)
//	<prefix><store>:feed            stream of invalidations, trimmed to ~feed_max_len
//	<prefix><store>:e:<key>         shared second-level entries (optional)
//	<prefix><store>:p:<tag>         paths of the pages indexed under the tag (pages.go)
//	<prefix><store>:replay:<digest> webhook deliveries acknowledged (delivery.go)
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
type backend struct {
	client   redis.UniversalClient
	topology string
	clock    *cache.TagClock
	logger   *zap.Logger
	keys     keySpace

	maxFeedLag  time.Duration
	feedMaxLen  int64
	retention   time.Duration
	waitTimeout time.Duration
	minReplicas *int // configured; nil means detected
	shared      *sharedEntries

	// detectedReplicas is the default min_replicas: 1 where the primary has
	// replicas (see Config.MinReplicas).
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

	cancel  context.CancelFunc
	workers sync.WaitGroup // the feed follower and the shared entries writer
	now     func() time.Time
}

// defaultRetention is how long tag records are kept when the caller gives
// no retention: the tag_cache app's default max_retention.
const defaultRetention = 24 * time.Hour

// newBackend returns the backend of the named store on the deployment cfg
// describes, reached with opts, and starts following its feed (and writing
// shared entries, when configured) until Close.
func newBackend(cfg *Config, opts *redis.UniversalOptions, store string, clock *cache.TagClock, retention time.Duration, logger *zap.Logger) *backend {
	topology := cfg.topology()
	b := &backend{
		client:      redis.NewUniversalClient(opts),
		topology:    topology,
		clock:       clock,
		logger:      logger.With(zap.String("store", store)),
		keys:        newKeySpace(cfg.prefix(), store, topology == topologyCluster),
		maxFeedLag:  durationOr(cfg.MaxFeedLag, DefaultMaxFeedLag),
		feedMaxLen:  cfg.FeedMaxLen,
		retention:   retention,
		waitTimeout: cfg.waitTimeout(),
		minReplicas: cfg.MinReplicas,
		healthy:     true,
		now:         time.Now,
	}
	if b.feedMaxLen <= 0 {
		b.feedMaxLen = DefaultFeedMaxLen
	}
	if b.retention <= 0 {
		b.retention = defaultRetention
	}
	if topology == topologySentinel {
		// A Sentinel deployment has replicas by definition.
		b.detectedReplicas.Store(1)
	}
	// Until the first successful resync, nothing local is trusted.
	b.resyncing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.workers.Add(1)
	go func() {
		defer b.workers.Done()
		// A panic on a malformed feed entry restarts the follower, which
		// begins with a resync; until then entries turn Unverified.
		contain.Loop(ctx, b.logger, "redis feed", time.Second, b.followFeed)
	}()
	if cfg.SharedEntries != nil {
		b.shared = newSharedEntries(b, cfg.SharedEntries)
		b.workers.Add(1)
		go func() {
			defer b.workers.Done()
			contain.Loop(ctx, b.logger, "shared entries writer", time.Second, b.shared.writeLoop)
		}()
	}
	return b
}

// errNotReplicated refuses an invalidation the replicas did not confirm.
var errNotReplicated = errors.New("not confirmed by enough replicas in time")

// Record implements cache.Backend: the invalidation is in Redis (and so
// reaches every instance) when it returns without error; where the primary
// has replicas, it is on min_replicas of them too, so a failover keeps it.
func (b *backend) Record(ctx context.Context, tags []string, mode cache.Mode) (uint64, error) {
	letter := "h"
	if mode == cache.ModeStale {
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
func (b *backend) runRecord(ctx context.Context, keys []string, args []any) (uint64, error) {
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
func (b *backend) primary(ctx context.Context) (redis.UniversalClient, error) {
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		return cc.MasterForKey(ctx, b.keys.clock)
	}
	return b.client, nil
}

// primaryFailed refreshes a cluster's slot map after an error that may
// mean the slot moved (a failover or resharding): go-redis follows a MOVED
// reply by itself, but not a primary that stopped answering.
func (b *backend) primaryFailed(ctx context.Context, err error) {
	if cc, ok := b.client.(*redis.ClusterClient); ok && !redis.HasErrorPrefix(err, "EPOCH") && !redis.HasErrorPrefix(err, "BEHIND") {
		cc.ReloadState(ctx)
	}
}

// requiredReplicas is how many replicas must confirm an invalidation.
func (b *backend) requiredReplicas() int {
	if b.minReplicas != nil {
		return *b.minReplicas
	}
	return int(b.detectedReplicas.Load())
}

// detectReplicas sets the default min_replicas from the primary's
// connected replicas (Sentinel always has them).
func (b *backend) detectReplicas(ctx context.Context) {
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

// Trustworthy implements cache.Backend (design invariant 3).
func (b *backend) Trustworthy() bool {
	if b.resyncing.Load() {
		return false
	}
	return b.now().Sub(time.Unix(0, b.lastFeedOK.Load())) <= b.maxFeedLag
}

// Status implements cache.Backend.
func (b *backend) Status() cache.BackendStatus {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	st := cache.BackendStatus{Kind: "redis", Healthy: b.healthy, Trusted: b.Trustworthy()}
	if !b.healthy {
		st.Detail = b.lastError
	} else if !st.Trusted {
		st.Detail = "invalidation feed not heard from within max_feed_lag"
	}
	return st
}

// Close implements cache.Backend: it stops the feed follower and the shared
// entries writer, then closes the client.
func (b *backend) Close() {
	b.cancel()
	b.workers.Wait()
	_ = b.client.Close()
}

// SharedEntries implements cache.SharedEntriesBackend: the shared second
// level, when shared_entries is configured.
func (b *backend) SharedEntries() cache.SharedEntries {
	if b.shared == nil {
		return nil
	}
	return b.shared
}

// PageIndex implements cache.PageIndexBackend: the page index lives in
// Redis, shared by every instance.
func (b *backend) PageIndex() cache.PageIndex {
	return &pageIndex{client: b.client, prefix: b.keys.prefix}
}

// DeliveryMemory implements cache.DeliveryMemoryBackend: deliveries are
// remembered under the store's keys.
func (b *backend) DeliveryMemory() cache.DeliveryMemory {
	return NewDeliveryMemory(b.client, b.keys.prefix)
}

func (b *backend) setHealth(ok bool, err error) {
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

// tagState reads the tags' invalidation sequences from Redis, for checking
// an entry another instance stored (the shared second level).
func (b *backend) tagState(ctx context.Context, tags []string) (hard, soft uint64, err error) {
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

// Interface guards.
var (
	_ cache.Backend               = (*backend)(nil)
	_ cache.SharedEntriesBackend  = (*backend)(nil)
	_ cache.PageIndexBackend      = (*backend)(nil)
	_ cache.DeliveryMemoryBackend = (*backend)(nil)
)
