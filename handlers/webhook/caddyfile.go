package webhook

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-bff/caddy-bff/cache"
)

// ParseCaddyfile sets up the handler from Caddyfile tokens:
//
//	revalidate_webhook [<matcher>] {
//	    secret              <value>
//	    token_query         <name> | off
//	    token_header        <name>
//	    signature           <preset> {
//	        tolerance         <duration>
//	        replay_retention  <duration>
//	        replay_cache_size <count>
//	        allow_unsigned_query
//	        header            <name>
//	        algorithm         sha256|sha512|sha1
//	        encoding          hex|base64
//	        prefix            <text>
//	        id_header         <name>
//	    }
//	    store               <name>
//	    mode                expire|stale
//	    allow_mode_override
//	    max_body_size       <size>
//	    max_items           <count>
//	    tags_from           <json path...>
//	    paths_from          <json path...>
//	    ignore_body
//	    forward
//	}
func ParseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	wh := new(Handler)
	err := wh.UnmarshalCaddyfile(h.Dispenser)
	return wh, err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (wh *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.Errf("revalidate_webhook takes no arguments besides a matcher; set the secret in its block")
	}
	oneArg := func() (string, error) {
		if !d.NextArg() {
			return "", d.ArgErr()
		}
		v := d.Val()
		if d.NextArg() {
			return "", d.ArgErr()
		}
		return v, nil
	}
	noArg := func() error {
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "secret":
			v, err := oneArg()
			if err != nil {
				return err
			}
			wh.Secret = v
		case "token_query":
			v, err := oneArg()
			if err != nil {
				return err
			}
			if v == "off" {
				wh.DisableQueryToken = true
			} else {
				wh.TokenQuery = v
			}
		case "token_header":
			v, err := oneArg()
			if err != nil {
				return err
			}
			wh.TokenHeader = v
		case "signature":
			sig, err := unmarshalSignature(d)
			if err != nil {
				return err
			}
			wh.Signature = sig
		case "store":
			v, err := oneArg()
			if err != nil {
				return err
			}
			wh.Store = v
		case "mode":
			v, err := oneArg()
			if err != nil {
				return err
			}
			mode, ok := cache.ParseMode(v)
			if !ok {
				return d.Errf("mode must be expire, stale or max, not %q", v)
			}
			wh.Mode = mode
		case "allow_mode_override":
			if err := noArg(); err != nil {
				return err
			}
			wh.AllowModeOverride = true
		case "max_body_size":
			v, err := oneArg()
			if err != nil {
				return err
			}
			size, err := humanize.ParseBytes(v)
			if err != nil || size == 0 {
				return d.Errf("max_body_size: %q is not a size such as 1MiB", v)
			}
			wh.MaxBodySize = int64(size)
		case "max_items":
			v, err := oneArg()
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > cache.MaxInvalidationItems {
				return d.Errf("max_items: %q is not a count between 1 and %d", v, cache.MaxInvalidationItems)
			}
			wh.MaxItems = n
		case "tags_from", "paths_from":
			name := d.Val()
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if _, err := parseJSONPath(a); err != nil {
					return d.Errf("%s %q: %v", name, a, err)
				}
			}
			if name == "tags_from" {
				wh.TagsFrom = append(wh.TagsFrom, args...)
			} else {
				wh.PathsFrom = append(wh.PathsFrom, args...)
			}
		case "ignore_body":
			if err := noArg(); err != nil {
				return err
			}
			wh.IgnoreBody = true
		case "forward":
			if d.NextArg() {
				return d.Err("forward takes no arguments: it passes the call to the next handler in the route (put reverse_proxy after revalidate_webhook)")
			}
			wh.Forward = true
		default:
			return d.Errf("unrecognized revalidate_webhook subdirective %q", d.Val())
		}
	}
	if wh.Secret == "" {
		return d.Err("revalidate_webhook needs a secret (for example: secret {env.REVALIDATE_SECRET_TOKEN})")
	}
	return nil
}

// unmarshalSignature parses `signature <preset> [{ ... }]`.
func unmarshalSignature(d *caddyfile.Dispenser) (*WebhookSignature, error) {
	if !d.NextArg() {
		return nil, d.Errf("signature needs a preset: %v", SignaturePresets)
	}
	sig := &WebhookSignature{Preset: d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(1) {
		sub := d.Val()
		if sub == "allow_unsigned_query" {
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			sig.AllowUnsignedQuery = true
			continue
		}
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		v := d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		switch sub {
		case "tolerance":
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("tolerance: %q is not a positive duration", v)
			}
			sig.Tolerance = caddy.Duration(dur)
		case "replay_retention":
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("replay_retention: %q is not a positive duration", v)
			}
			sig.ReplayRetention = caddy.Duration(dur)
		case "replay_cache_size":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("replay_cache_size: %q is not a positive count", v)
			}
			sig.ReplayCacheSize = n
		case "header":
			sig.Header = v
		case "algorithm":
			sig.Algorithm = v
		case "encoding":
			sig.Encoding = v
		case "prefix":
			sig.Prefix = v
		case "id_header":
			sig.IDHeader = v
		default:
			return nil, d.Errf("unrecognized signature subdirective %q", sub)
		}
	}
	if err := sig.validate(); err != nil {
		return nil, d.Errf("signature: %v", err)
	}
	return sig, nil
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)
