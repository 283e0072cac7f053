package nextjsbridge

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

// ParseCaddyfile sets up the handler from Caddyfile tokens:
//
//	nextjs_bridge [<matcher>] {
//	    secret        <value>
//	    store         <name>
//	    max_body_size <size>
//	}
func ParseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	b := new(Handler)
	err := b.UnmarshalCaddyfile(h.Dispenser)
	return b, err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (b *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.Errf("nextjs_bridge takes no arguments besides a matcher; set the secret in its block")
	}
	for d.NextBlock(0) {
		name := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		value := d.Val()
		if d.NextArg() {
			return d.Errf("%s takes one argument", name)
		}
		switch name {
		case "secret":
			b.Secret = value
		case "store":
			b.Store = value
		case "max_body_size":
			size, err := humanize.ParseBytes(value)
			if err != nil || size == 0 {
				return d.Errf("max_body_size: %q is not a positive size", value)
			}
			b.MaxBodySize = int64(size)
		default:
			return d.Errf("unrecognized nextjs_bridge option %q; the options are secret, store and max_body_size", name)
		}
	}
	if b.Secret == "" {
		return d.Err("nextjs_bridge needs a secret, such as {env.CADDY_BFF_BRIDGE_SECRET}")
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
