package cache

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// RedisConfig turns on distributed mode: every instance records its
// invalidations in Redis (or Valkey) and hears everyone's through a Redis
// stream, so N Caddy instances share one tag clock. Local memory stays the
// first level: a HIT never waits on the network.
type RedisConfig struct {
	// URL of the server: redis://[user:password@]host:port[/db] or rediss://
	// for TLS. Placeholders such as {env.REDIS_URL} are expanded.
	URL string `json:"url"`
	// Username overrides the URL's user (Redis ACL). Placeholders expanded.
	Username string `json:"username,omitempty"`
	// Password overrides the URL's password. Placeholders such as
	// {env.REDIS_PASSWORD} are expanded; it is never logged.
	Password string `json:"password,omitempty"`
	// DB selects the database, overriding the URL's.
	DB *int `json:"db,omitempty"`
	// TLS turns TLS on (rediss:// does too).
	TLS bool `json:"tls,omitempty"`
	// TLSServerName overrides the server name checked in its certificate.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// KeyPrefix namespaces every key the cache uses. Default: "caddy-bff:".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// DialTimeout bounds connecting to Redis. Default: 2s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// ReadTimeout bounds waiting for a reply; an invalidation that cannot
	// be confirmed within it is answered 503. Default: 1s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// WriteTimeout bounds sending a command. Default: 1s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// PoolSize is the connection pool size per store. Default: go-redis's.
	PoolSize int `json:"pool_size,omitempty"`
	// MaxFeedLag is how long an instance may go without hearing from the
	// invalidation feed before it stops serving entries as fresh: it cannot
	// know what was invalidated meanwhile. Default: 5s.
	MaxFeedLag caddy.Duration `json:"max_feed_lag,omitempty"`
	// FeedMaxLen bounds the invalidation stream (approximately). An instance
	// that falls further behind than this expires its older entries instead
	// of missing invalidations. Default: 100000.
	FeedMaxLen int64 `json:"feed_max_len,omitempty"`
	// SharedEntries, when set, also stores entries in Redis so an instance
	// can answer from what another one fetched (a shared second level).
	SharedEntries *SharedEntriesConfig `json:"shared_entries,omitempty"`
}

// SharedEntriesConfig bounds the shared second level.
type SharedEntriesConfig struct {
	// MaxItemSize is the largest entry shared, in bytes. Default: 1 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// TTL caps how long a shared entry lives in Redis. Default: 1h.
	TTL caddy.Duration `json:"ttl,omitempty"`
}

// Defaults of distributed mode.
const (
	DefaultRedisPrefix      = "caddy-bff:"
	DefaultMaxFeedLag       = 5 * time.Second
	DefaultFeedMaxLen       = 100_000
	DefaultSharedItemSize   = 1 << 20
	DefaultSharedEntriesTTL = time.Hour
)

func (c *RedisConfig) provision(repl *caddy.Replacer) (*redis.Options, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("redis: url is required")
	}
	url, err := repl.ReplaceOrErr(c.URL, true, true)
	if err != nil {
		return nil, fmt.Errorf("redis url: %v", err)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %v", err)
	}
	if c.Username != "" {
		if opts.Username, err = repl.ReplaceOrErr(c.Username, true, true); err != nil {
			return nil, fmt.Errorf("redis username: %v", err)
		}
	}
	if c.Password != "" {
		if opts.Password, err = secret.Resolve("redis password", c.Password); err != nil {
			return nil, err
		}
	}
	if c.DB != nil {
		opts.DB = *c.DB
	}
	if c.TLS && opts.TLSConfig == nil {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.TLSServerName != "" {
		if opts.TLSConfig == nil {
			return nil, fmt.Errorf("redis tls_server_name needs tls (or a rediss:// url)")
		}
		opts.TLSConfig.ServerName = c.TLSServerName
	}
	opts.DialTimeout = durationOr(c.DialTimeout, 2*time.Second)
	opts.ReadTimeout = durationOr(c.ReadTimeout, time.Second)
	opts.WriteTimeout = durationOr(c.WriteTimeout, time.Second)
	if c.PoolSize > 0 {
		opts.PoolSize = c.PoolSize
	}
	// Failures must surface quickly as 503s rather than be retried behind
	// the caller's back; the feed reader does its own retrying.
	opts.MaxRetries = 1
	return opts, nil
}

// identity distinguishes distributed configurations in the store pool, so a
// reload that changes the Redis settings builds new stores.
func (c *RedisConfig) identity() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func (c *RedisConfig) prefix() string {
	if c.KeyPrefix == "" {
		return DefaultRedisPrefix
	}
	return c.KeyPrefix
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}
