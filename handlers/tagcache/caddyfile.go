package tagcache

import (
	"strings"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

// ParseCaddyfile sets up the handler from Caddyfile tokens:
//
//	tag_cache [<matcher>] {
//	    store            <name>
//	    tag_header       <name> [comma|space|both]
//	    keep_tag_headers
//	    ttl              <duration>
//	    allow_set_cookie
//	    allow_private
//	    max_item_size    <size>
//	    targeted_fields  <field...> | off
//	    cache_name       <token>
//	    lock_timeout     <duration>
//	    credential_cookie <name...>
//	    credential_header <name...>
//	    debug
//	    nextjs
//	}
func ParseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	tc := new(Handler)
	err := tc.UnmarshalCaddyfile(h.Dispenser)
	return tc, err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (tc *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "store":
			if !d.NextArg() {
				return d.ArgErr()
			}
			tc.Store = d.Val()
		case "tag_header":
			th, err := parseTagHeader(d)
			if err != nil {
				return err
			}
			tc.TagHeaders = append(tc.TagHeaders, th)
		case "keep_tag_headers":
			if d.NextArg() {
				return d.ArgErr()
			}
			tc.KeepTagHeaders = true
		case "ttl":
			dur, err := parsePositiveDuration(d)
			if err != nil {
				return err
			}
			tc.TTL = dur
		case "allow_set_cookie":
			if d.NextArg() {
				return d.ArgErr()
			}
			tc.AllowSetCookie = true
		case "allow_private":
			if d.NextArg() {
				return d.ArgErr()
			}
			tc.AllowPrivate = true
		case "max_item_size":
			if !d.NextArg() {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(d.Val())
			if err != nil || size == 0 {
				return d.Errf("max_item_size: %q is not a size such as 16MiB", d.Val())
			}
			tc.MaxItemSize = int64(size)
		case "targeted_fields":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if len(args) == 1 && args[0] == "off" {
				// A field of its own: an empty list would vanish from
				// the adapted JSON and bring the defaults back.
				tc.TargetedFields, tc.DisableTargetedFields = nil, true
			} else {
				tc.TargetedFields = args
			}
		case "cache_name":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if strings.ContainsAny(d.Val(), " ,;=\"") {
				return d.Errf("cache_name %q must be a token", d.Val())
			}
			tc.CacheName = d.Val()
		case "lock_timeout":
			dur, err := parsePositiveDuration(d)
			if err != nil {
				return err
			}
			tc.LockTimeout = dur
		case "credential_cookie":
			names, err := parseNames(d, httpsyntax.IsToken)
			if err != nil {
				return err
			}
			tc.CredentialCookies = append(tc.CredentialCookies, names...)
		case "credential_header":
			names, err := parseNames(d, httpsyntax.IsHeaderName)
			if err != nil {
				return err
			}
			tc.CredentialHeaders = append(tc.CredentialHeaders, names...)
		case "nextjs":
			if d.NextArg() {
				return d.Errf("nextjs takes no arguments")
			}
			tc.Nextjs = true
		case "debug":
			if d.NextArg() {
				return d.ArgErr()
			}
			tc.Debug = true
		default:
			return d.Errf("unrecognized tag_cache subdirective %q", d.Val())
		}
	}
	return nil
}

// parseTagHeader reads `tag_header <name> [comma|space|both]`.
func parseTagHeader(d *caddyfile.Dispenser) (TagHeader, error) {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return TagHeader{}, d.Errf("tag_header takes a header name and an optional separator (comma, space or both)")
	}
	th := TagHeader{Name: args[0]}
	if len(args) == 2 {
		th.Separator = TagSeparator(args[1])
		switch th.Separator {
		case SeparateByComma, SeparateBySpace, SeparateByBoth:
		default:
			return TagHeader{}, d.Errf("tag_header %s: separator must be comma, space or both, not %q", args[0], args[1])
		}
	}
	return th, nil
}

// parsePositiveDuration reads an option's one duration, which must be
// positive.
func parsePositiveDuration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	option := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: %q is not a positive duration", option, d.Val())
	}
	return caddy.Duration(dur), nil
}

// parseNames reads the names an option lists, each checked by valid.
func parseNames(d *caddyfile.Dispenser, valid func(string) bool) ([]string, error) {
	option := d.Val()
	names := d.RemainingArgs()
	if len(names) == 0 {
		return nil, d.ArgErr()
	}
	for _, n := range names {
		if !valid(n) {
			return nil, d.Errf("%s: %q is not a valid name", option, n)
		}
	}
	return names, nil
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)
