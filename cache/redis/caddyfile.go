package redis

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/caddy-bff/caddy-bff/internal/caddyfileargs"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile implements caddyfile.Unmarshaler: it reads the
// `redis` option of the tag_cache global option, which the app hands over
// with its block:
//
//	redis [<url>] {
//	    sentinel <master_name> <addr...> {
//	        username <user>
//	        password <password>
//	    }
//	    cluster         <addr...>
//	    min_replicas    <n>
//	    wait_timeout    <duration>
//	    username        <user>
//	    password        <password>
//	    db              <n>
//	    tls
//	    tls_server_name <name>
//	    key_prefix      <prefix>
//	    dial_timeout    <duration>
//	    read_timeout    <duration>
//	    write_timeout   <duration>
//	    pool_size       <n>
//	    max_feed_lag    <duration>
//	    feed_max_len    <n>
//	    shared_entries {
//	        max_item_size <size>
//	        ttl           <duration>
//	    }
//	}
//
// The configuration is checked as provisioning checks it, so that a mistake
// is reported at adapt time with its line.
func (c *Config) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	line := d.Line()
	if d.NextArg() {
		c.URL = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		switch name {
		case "username", "password", "tls_server_name", "key_prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch name {
			case "username":
				c.Username = d.Val()
			case "password":
				c.Password = d.Val()
			case "tls_server_name":
				c.TLSServerName = d.Val()
			case "key_prefix":
				c.KeyPrefix = d.Val()
			}
		case "db", "pool_size", "feed_max_len":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 || (n == 0 && name != "db") {
				return d.Errf("%s: %q is not a valid number", name, d.Val())
			}
			switch name {
			case "db":
				c.DB = &n
			case "pool_size":
				c.PoolSize = n
			case "feed_max_len":
				c.FeedMaxLen = int64(n)
			}
		case "tls":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.TLS = true
		case "dial_timeout", "read_timeout", "write_timeout", "max_feed_lag", "wait_timeout":
			dur, err := caddyfileargs.Duration(d)
			if err != nil {
				return err
			}
			switch name {
			case "dial_timeout":
				c.DialTimeout = dur
			case "read_timeout":
				c.ReadTimeout = dur
			case "write_timeout":
				c.WriteTimeout = dur
			case "max_feed_lag":
				c.MaxFeedLag = dur
			case "wait_timeout":
				c.WaitTimeout = dur
			}
		case "shared_entries":
			if d.NextArg() {
				return d.ArgErr()
			}
			se := new(SharedEntriesConfig)
			for n2 := d.Nesting(); d.NextBlock(n2); {
				switch d.Val() {
				case "max_item_size":
					size, err := caddyfileargs.Size(d)
					if err != nil {
						return err
					}
					se.MaxItemSize = size
				case "ttl":
					dur, err := caddyfileargs.Duration(d)
					if err != nil {
						return err
					}
					se.TTL = dur
				default:
					return d.Errf("unrecognized shared_entries option %q", d.Val())
				}
			}
			c.SharedEntries = se
		case "sentinel":
			if c.Sentinel != nil {
				return d.Err("sentinel given twice")
			}
			sc := new(SentinelConfig)
			if !d.NextArg() {
				return d.Err("sentinel needs the master name and at least one sentinel address, such as: sentinel mymaster 10.0.0.1:26379")
			}
			sc.MasterName = d.Val()
			addrs, err := parseAddrs(d, "sentinel")
			if err != nil {
				return err
			}
			sc.Addrs = addrs
			for n2 := d.Nesting(); d.NextBlock(n2); {
				field := d.Val()
				if field != "username" && field != "password" {
					return d.Errf("unrecognized sentinel option %q", field)
				}
				if !d.NextArg() {
					return d.ArgErr()
				}
				if field == "username" {
					sc.Username = d.Val()
				} else {
					sc.Password = d.Val()
				}
				if d.NextArg() {
					return d.ArgErr()
				}
			}
			c.Sentinel = sc
		case "cluster":
			if c.Cluster != nil {
				return d.Err("cluster given twice")
			}
			addrs, err := parseAddrs(d, "cluster")
			if err != nil {
				return err
			}
			c.Cluster = &ClusterConfig{Addrs: addrs}
		case "min_replicas":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 {
				return d.Errf("min_replicas: %q is not a number of replicas (0 or more)", d.Val())
			}
			c.MinReplicas = &n
		default:
			return d.Errf("unrecognized redis option %q", name)
		}
	}
	if err := c.check(); err != nil {
		return fmt.Errorf("%v, at %s:%d", err, d.File(), line)
	}
	return nil
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

var _ caddyfile.Unmarshaler = (*Config)(nil)
