package webhook

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
)

// ParseCaddyfile sets up the handler from Caddyfile tokens:
//
//	revalidate_webhook [<matcher>] {
//	    secret              <value>
//	    token_param         <name> | off
//	    token_header        <name>
//	    signature           <preset> {
//	        tolerance            <duration>
//	        replay_retention     <duration>
//	        max_replay_entries   <count>
//	        allow_unsigned_query
//	        header               <name>
//	        algorithm            sha256|sha512|sha1
//	        encoding             hex|base64
//	        prefix               <text>
//	        id_header            <name>
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
//
// Every option is named as its JSON key; `token_param off` is
// `"disable_token_param": true`, and the signature block is read by
// signature.Config.UnmarshalCaddyfile.
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
	for d.NextBlock(0) {
		if err := wh.unmarshalOption(d); err != nil {
			return err
		}
	}
	if wh.Secret == "" {
		return d.Err("revalidate_webhook needs a secret (for example: secret {env.REVALIDATE_SECRET_TOKEN})")
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (wh *Handler) unmarshalOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "secret":
		return oneArg(d, &wh.Secret)
	case "token_param":
		var v string
		if err := oneArg(d, &v); err != nil {
			return err
		}
		if v == "off" {
			wh.DisableTokenParam = true
		} else {
			wh.TokenParam = v
		}
	case "token_header":
		return oneArg(d, &wh.TokenHeader)
	case "signature":
		sig := new(signature.Config)
		if err := sig.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
			return err
		}
		wh.Signature = sig
	case "store":
		return oneArg(d, &wh.Store)
	case "mode":
		var v string
		if err := oneArg(d, &v); err != nil {
			return err
		}
		mode, ok := cache.ParseMode(v)
		if !ok {
			return d.Errf("mode must be expire, stale or max, not %q", v)
		}
		wh.Mode = mode
	case "allow_mode_override":
		return flag(d, &wh.AllowModeOverride)
	case "max_body_size":
		var v string
		if err := oneArg(d, &v); err != nil {
			return err
		}
		size, err := humanize.ParseBytes(v)
		if err != nil || size == 0 {
			return d.Errf("max_body_size: %q is not a size such as 1MiB", v)
		}
		wh.MaxBodySize = int64(size)
	case "max_items":
		var v string
		if err := oneArg(d, &v); err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > cache.MaxInvalidationItems {
			return d.Errf("max_items: %q is not a count between 1 and %d", v, cache.MaxInvalidationItems)
		}
		wh.MaxItems = n
	case "tags_from":
		return jsonPathsArg(d, &wh.TagsFrom)
	case "paths_from":
		return jsonPathsArg(d, &wh.PathsFrom)
	case "ignore_body":
		return flag(d, &wh.IgnoreBody)
	case "forward":
		if d.NextArg() {
			return d.Err("forward takes no arguments: it passes the call to the next handler in the route (put reverse_proxy after revalidate_webhook)")
		}
		wh.Forward = true
	default:
		return d.Errf("unrecognized revalidate_webhook subdirective %q", d.Val())
	}
	return nil
}

// oneArg reads the single argument of the current option into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.Args(dst) || d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// flag sets dst for an option that takes no argument.
func flag(d *caddyfile.Dispenser, dst *bool) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	*dst = true
	return nil
}

// jsonPathsArg appends the JSON paths of `tags_from` or `paths_from` to dst,
// refusing one that does not parse on its line.
func jsonPathsArg(d *caddyfile.Dispenser, dst *[]string) error {
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
	*dst = append(*dst, args...)
	return nil
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)
