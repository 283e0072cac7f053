package app

import (
	"strconv"

	"github.com/caddy-bff/caddy-bff/internal/caddyfileargs"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
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
//	        <backend> [<args...>] {
//	            <backend options...>
//	        }
//	    }
//	}
//
// <backend> is the name of a module of the tag_cache.backends namespace,
// which parses its own line and block: `redis redis://localhost:6379`, or a
// `redis { ... }` block (see the cache/redis package) for Sentinel, a
// Cluster and the other settings. It becomes the app's `backend`.
func ParseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	a := new(App)
	if existing != nil {
		return nil, d.Err("tag_cache global option given twice")
	}
	if err := a.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "tag_cache", Value: caddyconfig.JSON(a, nil)}, nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()      // option name
	backend := "" // the name of the backend given, if any
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_size":
			size, err := caddyfileargs.Size(d)
			if err != nil {
				return err
			}
			a.MaxSize = size
		case "max_retention", "keep_stale":
			name := d.Val()
			dur, err := caddyfileargs.Duration(d)
			if err != nil {
				return err
			}
			if name == "max_retention" {
				a.MaxRetention = dur
			} else {
				a.KeepStale = dur
			}
		case "max_tag_bytes":
			size, err := caddyfileargs.Size(d)
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
					size, err := caddyfileargs.Size(d)
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
			name := d.Val()
			id := BackendNamespace + "." + name
			if _, err := caddy.GetModule(id); err != nil {
				return d.Errf("unrecognized tag_cache option %q", name)
			}
			switch backend {
			case "":
			case name:
				return d.Errf("%s given twice", name)
			default:
				return d.Errf("%s: tag_cache has one backend, and %s is given already", name, backend)
			}
			mod, err := caddyfile.UnmarshalModule(d, id)
			if err != nil {
				return err
			}
			backend = name
			a.Backend = caddyconfig.JSONModuleObject(mod, "module", name, nil)
		}
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*App)(nil)
