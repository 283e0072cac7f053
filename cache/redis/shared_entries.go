package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// sharedEntries is the optional second level of distributed mode: entries
// copied to Redis so an instance can answer what another one fetched. It is
// consulted only after a local miss, so a local HIT never waits on it.
type sharedEntries struct {
	client  redis.UniversalClient
	prefix  string
	maxSize int64
	ttl     time.Duration
	logger  *zap.Logger
	queue   chan offered
	// tagState reads the tag records of the backend the level belongs to.
	tagState func(ctx context.Context, tags []string) (hard, soft uint64, err error)
}

// offered is an entry queued for writing, with how long the store keeps it.
type offered struct {
	entry *cache.Entry
	ttl   time.Duration
}

// wireEntry is an entry as stored in Redis: its exported fields, plus
// whether it is the Vary marker of its primary key.
type wireEntry struct {
	Marker bool `json:"marker,omitempty"`
	cache.Entry
}

func newSharedEntries(b *backend, cfg *SharedEntriesConfig) *sharedEntries {
	s := &sharedEntries{
		client:   b.client,
		prefix:   b.keys.entries,
		maxSize:  cfg.MaxItemSize,
		ttl:      time.Duration(cfg.TTL),
		logger:   b.logger,
		tagState: b.tagState,
		// Writes are queued and dropped when Redis cannot keep up: the
		// second level is an optimisation and must never slow a response.
		queue: make(chan offered, 256),
	}
	if s.maxSize <= 0 {
		s.maxSize = DefaultSharedItemSize
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSharedEntriesTTL
	}
	return s
}

// Offer implements cache.SharedEntries: it queues e for writing, unless it
// is too big or the queue is full.
func (s *sharedEntries) Offer(e *cache.Entry, ttl time.Duration) {
	if int64(len(e.Body)) > s.maxSize {
		return
	}
	select {
	case s.queue <- offered{entry: e, ttl: ttl}:
	default:
	}
}

// writeLoop writes queued entries until ctx ends.
func (s *sharedEntries) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-s.queue:
			e := o.entry
			ttl := min(s.ttl, o.ttl)
			if ttl <= 0 {
				continue
			}
			pipe := s.client.Pipeline()
			if len(e.VaryNames) > 0 {
				marker, _ := json.Marshal(wireEntry{Marker: true, Entry: cache.Entry{Key: e.PrimaryKey, PrimaryKey: e.PrimaryKey, VaryNames: e.VaryNames}})
				pipe.Set(ctx, s.redisKey(e.PrimaryKey), marker, ttl)
			}
			data, err := json.Marshal(wireEntry{Entry: *e})
			if err != nil {
				continue
			}
			pipe.Set(ctx, s.redisKey(e.Key), data, ttl)
			if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
				s.logger.Debug("shared entry not written", zap.String("key", e.Key), zap.Error(err))
			}
		}
	}
}

// Get implements cache.SharedEntries: it returns the shared entry for r, or
// nil.
func (s *sharedEntries) Get(ctx context.Context, r *http.Request) (*cache.Entry, error) {
	primary := cache.PrimaryKey(r)
	w, err := s.read(ctx, primary)
	if err != nil || w == nil {
		return nil, err
	}
	if w.Marker {
		if w, err = s.read(ctx, cache.VariantKey(primary, w.VaryNames, r)); err != nil || w == nil {
			return nil, err
		}
	}
	return &w.Entry, nil
}

// TagState implements cache.SharedEntries with the tag records in Redis.
func (s *sharedEntries) TagState(ctx context.Context, tags []string) (hard, soft uint64, err error) {
	return s.tagState(ctx, tags)
}

func (s *sharedEntries) read(ctx context.Context, key string) (*wireEntry, error) {
	data, err := s.client.Get(ctx, s.redisKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var w wireEntry
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.Key != key {
		return nil, nil // not the entry asked for (a digest collision)
	}
	return &w, nil
}

// redisKey is the Redis key of a cache key: the key itself when short,
// else its SHA-256, so a request with a 15 kB query string makes no 15 kB
// Redis key (the wire entry keeps the full key, checked on read).
func (s *sharedEntries) redisKey(key string) string {
	if len(key) <= cache.MaxRecordKeyLength {
		return s.prefix + key
	}
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "#" + hex.EncodeToString(sum[:])
}

var _ cache.SharedEntries = (*sharedEntries)(nil)
