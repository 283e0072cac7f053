package cache

import (
	"strconv"

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
//	        store <name> {
//	            max_size <size>
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
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", name, d.Val())
			}
			if name == "max_retention" {
				a.MaxRetention = caddy.Duration(dur)
			} else {
				a.KeepStale = caddy.Duration(dur)
			}
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
