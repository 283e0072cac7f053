package redis

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// Config is the `tag_cache.backends.redis` module, the tag_cache app's
// `backend` with "module": "redis": it turns on distributed mode, where every
// instance records its invalidations in Redis (or Valkey) and hears
// everyone's through a Redis stream, so N Caddy instances share one tag
// clock. Local memory stays the first level: a HIT never waits on the
// network. Each store of the app gets its own backend and keys (see
// NewBackend).
type Config struct {
	// URL is the address of a single server:
	// redis://[user:password@]host:port[/db], or rediss:// for TLS.
	// Placeholders such as {env.REDIS_URL} are expanded. Exactly one of
	// url, sentinel and cluster is required; there is no default.
	URL string `json:"url,omitempty"`
	// Sentinel, when set, finds the primary through Redis Sentinel and
	// follows it across failovers. Default: unset (no Sentinel).
	Sentinel *SentinelConfig `json:"sentinel,omitempty"`
	// Cluster, when set, talks to a Redis Cluster through its seed nodes.
	// Every key of one store's tag clock shares one hash slot (a hash tag of
	// the store name), so recording stays one atomic script; shared entries
	// spread over the slots. Default: unset (no Cluster).
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// MinReplicas is how many replicas must confirm an invalidation (Redis
	// WAIT) before it is acknowledged; an invalidation they do not confirm
	// within WaitTimeout is answered 503, because a failover could lose it.
	// 0 acknowledges once the primary has it. Default: 1 with Sentinel, and
	// otherwise 1 while the primary holding the tag clock reports a
	// connected replica (checked at every resynchronisation and every 5s),
	// else 0.
	MinReplicas *int `json:"min_replicas,omitempty"`
	// WaitTimeout bounds how long an invalidation waits for MinReplicas
	// replicas to confirm it. It must be shorter than ReadTimeout, within
	// which the reply to WAIT is read. Default: 500ms, or half of
	// ReadTimeout when that is shorter.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`
	// Username is the Redis ACL user of the data nodes, overriding the
	// URL's. Placeholders are expanded. Default: the URL's user, else none.
	Username string `json:"username,omitempty"`
	// Password authenticates to the data nodes, overriding the URL's.
	// Placeholders such as {env.REDIS_PASSWORD} are expanded; it is never
	// logged. Default: the URL's password, else none.
	Password string `json:"password,omitempty"`
	// DB selects the database, overriding the URL's. A Cluster has only
	// database 0. Default: the URL's, else 0.
	DB *int `json:"db,omitempty"`
	// TLS turns TLS on (a rediss:// URL does too). Default: false.
	TLS bool `json:"tls,omitempty"`
	// TLSServerName overrides the server name checked in the server's
	// certificate; it needs tls or a rediss:// URL. Default: the host
	// dialled.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// KeyPrefix namespaces every key the cache uses. On a cluster it must
	// not contain { or }. Default: "caddy-bff:".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// DialTimeout bounds connecting to Redis. Default: 2s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// ReadTimeout bounds waiting for a reply; an invalidation that cannot
	// be confirmed within it is answered 503. Default: 1s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// WriteTimeout bounds sending a command. Default: 1s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// PoolSize is the connection pool size of each store's client.
	// Default: go-redis's, 10 connections per GOMAXPROCS.
	PoolSize int `json:"pool_size,omitempty"`
	// MaxFeedLag is how long an instance may go without hearing from the
	// invalidation feed before it stops serving entries as fresh: it cannot
	// know what was invalidated meanwhile. Default: 5s.
	MaxFeedLag caddy.Duration `json:"max_feed_lag,omitempty"`
	// FeedMaxLen bounds the invalidation stream (approximately). An instance
	// that falls further behind than this expires its older entries instead
	// of missing invalidations. Default: 100000.
	FeedMaxLen int64 `json:"feed_max_len,omitempty"`
	// SharedEntries, when set (even to {}), also stores entries in Redis so
	// an instance can answer from what another one fetched (a shared second
	// level). Default: unset (entries stay in each instance's memory).
	SharedEntries *SharedEntriesConfig `json:"shared_entries,omitempty"`

	// opts is what Provision made of the fields for the go-redis client.
	opts *redis.UniversalOptions
}

// SentinelConfig is the `sentinel` of the redis backend: it finds the
// primary through Redis Sentinel.
type SentinelConfig struct {
	// MasterName is the name the sentinels monitor the primary under.
	// Required; there is no default.
	MasterName string `json:"master_name"`
	// Addrs are the sentinels' host:port addresses. Placeholders are
	// expanded. At least one is required; there is no default.
	Addrs []string `json:"addrs"`
	// Username authenticates to the sentinels (Redis ACL). The data nodes
	// use the Config's Username and Password. Default: none.
	Username string `json:"username,omitempty"`
	// Password authenticates to the sentinels. Placeholders such as
	// {env.SENTINEL_PASSWORD} are expanded; it is never logged.
	// Default: none.
	Password string `json:"password,omitempty"`
}

// ClusterConfig is the `cluster` of the redis backend: it talks to a Redis
// Cluster.
type ClusterConfig struct {
	// Addrs are host:port addresses of seed nodes; the client discovers the
	// rest of the cluster from them. Placeholders are expanded. At least one
	// is required; there is no default.
	Addrs []string `json:"addrs"`
}

// SharedEntriesConfig is the `shared_entries` of the redis backend: it turns
// the shared second level on and bounds it.
type SharedEntriesConfig struct {
	// MaxItemSize is the largest body shared, in bytes; larger entries stay
	// local. Default: 1 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// TTL caps how long a shared entry lives in Redis (never longer than
	// the store keeps it). Default: 1h.
	TTL caddy.Duration `json:"ttl,omitempty"`
}

// Defaults of distributed mode.
const (
	DefaultKeyPrefix        = "caddy-bff:"
	DefaultMaxFeedLag       = 5 * time.Second
	DefaultFeedMaxLen       = 100_000
	DefaultSharedItemSize   = 1 << 20
	DefaultSharedEntriesTTL = time.Hour
	DefaultWaitTimeout      = 500 * time.Millisecond
)

// Redis topologies.
const (
	topologySingle   = "single"
	topologySentinel = "sentinel"
	topologyCluster  = "cluster"
)

// topology names the kind of deployment the configuration describes.
func (c *Config) topology() string {
	switch {
	case c.Sentinel != nil:
		return topologySentinel
	case c.Cluster != nil:
		return topologyCluster
	}
	return topologySingle
}

func (c *Config) provision(repl *caddy.Replacer) (*redis.UniversalOptions, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	opts := &redis.UniversalOptions{}
	var err error
	switch {
	case c.URL != "":
		url, err := repl.ReplaceOrErr(c.URL, true, true)
		if err != nil {
			return nil, fmt.Errorf("redis url: %v", err)
		}
		single, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis url: %v", err)
		}
		opts.Addrs = []string{single.Addr}
		opts.Username, opts.Password, opts.DB = single.Username, single.Password, single.DB
		opts.TLSConfig, opts.Protocol, opts.ClientName = single.TLSConfig, single.Protocol, single.ClientName
	case c.Sentinel != nil:
		if c.Sentinel.MasterName == "" {
			return nil, fmt.Errorf("redis sentinel: master_name is required")
		}
		if opts.Addrs, err = expandAddrs(repl, "sentinel", c.Sentinel.Addrs); err != nil {
			return nil, err
		}
		opts.MasterName = c.Sentinel.MasterName
		if c.Sentinel.Username != "" {
			if opts.SentinelUsername, err = repl.ReplaceOrErr(c.Sentinel.Username, true, true); err != nil {
				return nil, fmt.Errorf("redis sentinel username: %v", err)
			}
		}
		if c.Sentinel.Password != "" {
			if opts.SentinelPassword, err = secret.Resolve("redis sentinel password", c.Sentinel.Password); err != nil {
				return nil, err
			}
		}
	case c.Cluster != nil:
		if opts.Addrs, err = expandAddrs(repl, "cluster", c.Cluster.Addrs); err != nil {
			return nil, err
		}
		opts.IsClusterMode = true
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

func expandAddrs(repl *caddy.Replacer, what string, addrs []string) ([]string, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("redis %s: at least one address is required", what)
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		v, err := repl.ReplaceOrErr(a, true, true)
		if err != nil {
			return nil, fmt.Errorf("redis %s address: %v", what, err)
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return nil, fmt.Errorf("redis %s address %q: %v", what, v, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// check refuses a configuration that names no deployment or several, or
// settings that contradict each other. Provisioning calls it, and the
// Caddyfile too, so that it is reported at adapt time with its line.
func (c *Config) check() error {
	given := 0
	for _, set := range []bool{c.URL != "", c.Sentinel != nil, c.Cluster != nil} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		return fmt.Errorf("redis needs a URL (redis redis://localhost:6379), a sentinel or a cluster sub-option")
	case given > 1:
		return fmt.Errorf("redis: give one of a URL, sentinel and cluster, not several")
	case c.Cluster != nil && c.DB != nil && *c.DB != 0:
		return fmt.Errorf("redis cluster: db must be 0 (a Cluster has only database 0)")
	}
	if read := durationOr(c.ReadTimeout, time.Second); c.WaitTimeout > 0 && time.Duration(c.WaitTimeout) >= read {
		return fmt.Errorf("redis wait_timeout (%v) must be shorter than read_timeout (%v)", time.Duration(c.WaitTimeout), read)
	}
	if c.Cluster != nil && strings.ContainsAny(c.KeyPrefix, "{}") {
		return fmt.Errorf("redis key_prefix %q must not contain { or } on a cluster (the store's keys use a hash tag)", c.KeyPrefix)
	}
	if c.MinReplicas != nil && *c.MinReplicas < 0 {
		return fmt.Errorf("redis min_replicas must not be negative, got %d", *c.MinReplicas)
	}
	return nil
}

// waitTimeout is the bound of WAIT (see WaitTimeout).
func (c *Config) waitTimeout() time.Duration {
	if c.WaitTimeout > 0 {
		return time.Duration(c.WaitTimeout)
	}
	return min(DefaultWaitTimeout, durationOr(c.ReadTimeout, time.Second)/2)
}

func (c *Config) prefix() string {
	if c.KeyPrefix == "" {
		return DefaultKeyPrefix
	}
	return c.KeyPrefix
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}
