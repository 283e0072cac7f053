package cache

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"
)

// ParseGlobalOption parses the `tag_cache` global option into the app:
//
//	{
//	    tag_cache {
//	        max_size      <size>
//	        max_retention <duration>
//	        keep_stale    <duration>
//	        max_tags      <n>
//	        max_tag_bytes <size>
//	        store <name> {
//	            max_size <size>
//	        }
//	        redis [<url>] {
//	            sentinel <master_name> <addr...> {
//	                username <user>
//	                password <password>
//	            }
//	            cluster         <addr...>
//	            min_replicas    <n>
//	            wait_timeout    <duration>
//	            username        <user>
//	            password        <password>
//	            db              <n>
//	            tls
//	            tls_server_name <name>
//	            key_prefix      <prefix>
//	            dial_timeout    <duration>
//	            read_timeout    <duration>
//	            write_timeout   <duration>
//	            pool_size       <n>
//	            max_feed_lag    <duration>
//	            feed_max_len    <n>
//	            shared_entries {
//	                max_item_size <size>
//	                ttl           <duration>
//	            }
//	        }
//	    }
//	}
func ParseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if existing != nil {
		return nil, d.Err("tag_cache global option given twice")
	}
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "tag_cache", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_size":
			size, err := parseSize(d)
			if err != nil {
				return err
			}
			a.MaxSize = size
		case "max_retention", "keep_stale":
			name := d.Val()
			dur, err := parseDuration(d)
			if err != nil {
				return err
			}
			if name == "max_retention" {
				a.MaxRetention = dur
			} else {
				a.KeepStale = dur
			}
		case "max_tag_bytes":
			size, err := parseSize(d)
			if err != nil {
				return err
			}
			a.MaxTagBytes = size
		case "max_tags":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n <= 0 {
				return d.Errf("max_tags: %q is not a positive integer", d.Val())
			}
			a.MaxTags = n
		case "store":
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			if name == DefaultStore {
				return d.Errf("store name %q is reserved for the default store; set its size with max_size", name)
			}
			if _, dup := a.Stores[name]; dup {
				return d.Errf("store %q defined twice", name)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			opts := new(StoreOptions)
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				switch d.Val() {
				case "max_size":
					size, err := parseSize(d)
					if err != nil {
						return err
					}
					opts.MaxSize = size
				default:
					return d.Errf("unrecognized store subdirective %q", d.Val())
				}
			}
			if a.Stores == nil {
				a.Stores = make(map[string]*StoreOptions)
			}
			a.Stores[name] = opts
		case "redis":
			if a.Redis != nil {
				return d.Err("redis given twice")
			}
			cfg, err := parseRedis(d)
			if err != nil {
				return err
			}
			a.Redis = cfg
		default:
			return d.Errf("unrecognized tag_cache option %q", d.Val())
		}
	}
	return nil
}

func parseSize(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	size, err := humanize.ParseBytes(d.Val())
	if err != nil || size == 0 || size > 1<<62 {
		return 0, d.Errf("%s: %q is not a size such as 256MiB", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return int64(size), nil
}

var _ caddyfile.Unmarshaler = (*App)(nil)

func parseRedis(d *caddyfile.Dispenser) (*RedisConfig, error) {
	cfg := new(RedisConfig)
	line := d.Line()
	if d.NextArg() {
		cfg.URL = d.Val()
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		switch name {
		case "username", "password", "tls_server_name", "key_prefix":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			switch name {
			case "username":
				cfg.Username = d.Val()
			case "password":
				cfg.Password = d.Val()
			case "tls_server_name":
				cfg.TLSServerName = d.Val()
			case "key_prefix":
				cfg.KeyPrefix = d.Val()
			}
		case "db", "pool_size", "feed_max_len":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 || (n == 0 && name != "db") {
				return nil, d.Errf("%s: %q is not a valid number", name, d.Val())
			}
			switch name {
			case "db":
				cfg.DB = &n
			case "pool_size":
				cfg.PoolSize = n
			case "feed_max_len":
				cfg.FeedMaxLen = int64(n)
			}
		case "tls":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			cfg.TLS = true
		case "dial_timeout", "read_timeout", "write_timeout", "max_feed_lag", "wait_timeout":
			dur, err := parseDuration(d)
			if err != nil {
				return nil, err
			}
			switch name {
			case "dial_timeout":
				cfg.DialTimeout = dur
			case "read_timeout":
				cfg.ReadTimeout = dur
			case "write_timeout":
				cfg.WriteTimeout = dur
			case "max_feed_lag":
				cfg.MaxFeedLag = dur
			case "wait_timeout":
				cfg.WaitTimeout = dur
			}
		case "shared_entries":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			se := new(SharedEntriesConfig)
			for n2 := d.Nesting(); d.NextBlock(n2); {
				switch d.Val() {
				case "max_item_size":
					size, err := parseSize(d)
					if err != nil {
						return nil, err
					}
					se.MaxItemSize = size
				case "ttl":
					dur, err := parseDuration(d)
					if err != nil {
						return nil, err
					}
					se.TTL = dur
				default:
					return nil, d.Errf("unrecognized shared_entries option %q", d.Val())
				}
			}
			cfg.SharedEntries = se
		case "sentinel":
			if cfg.Sentinel != nil {
				return nil, d.Err("sentinel given twice")
			}
			sc := new(SentinelConfig)
			if !d.NextArg() {
				return nil, d.Err("sentinel needs the master name and at least one sentinel address, such as: sentinel mymaster 10.0.0.1:26379")
			}
			sc.MasterName = d.Val()
			addrs, err := parseAddrs(d, "sentinel")
			if err != nil {
				return nil, err
			}
			sc.Addrs = addrs
			for n2 := d.Nesting(); d.NextBlock(n2); {
				field := d.Val()
				if field != "username" && field != "password" {
					return nil, d.Errf("unrecognized sentinel option %q", field)
				}
				if !d.NextArg() {
					return nil, d.ArgErr()
				}
				if field == "username" {
					sc.Username = d.Val()
				} else {
					sc.Password = d.Val()
				}
				if d.NextArg() {
					return nil, d.ArgErr()
				}
			}
			cfg.Sentinel = sc
		case "cluster":
			if cfg.Cluster != nil {
				return nil, d.Err("cluster given twice")
			}
			addrs, err := parseAddrs(d, "cluster")
			if err != nil {
				return nil, err
			}
			cfg.Cluster = &ClusterConfig{Addrs: addrs}
		case "min_replicas":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 {
				return nil, d.Errf("min_replicas: %q is not a number of replicas (0 or more)", d.Val())
			}
			cfg.MinReplicas = &n
		default:
			return nil, d.Errf("unrecognized redis option %q", name)
		}
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%v, at %s:%d", err, d.File(), line)
	}
	return cfg, nil
}

// parseDuration reads the option's argument as a positive duration.
func parseDuration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: %q is not a positive duration", name, d.Val())
	}
	return caddy.Duration(dur), nil
}

// parseAddrs reads the remaining arguments as host:port addresses.
func parseAddrs(d *caddyfile.Dispenser, what string) ([]string, error) {
	var addrs []string
	for d.NextArg() {
		a := d.Val()
		if _, _, err := net.SplitHostPort(a); err != nil && !strings.Contains(a, "{") {
			return nil, d.Errf("%s: %q is not a host:port address", what, a)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, d.Errf("%s needs at least one host:port address", what)
	}
	return addrs, nil
}
