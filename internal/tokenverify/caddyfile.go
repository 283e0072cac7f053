package tokenverify

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads one verification block. The dispenser must be
// positioned on its first token, `jwt` or `introspect`, as it is when a
// directive meets that sub-directive in its own block:
//
//	jwt {
//	    secret         <hmac secret, e.g. {env.JWT_SECRET}>
//	    public_key     <pem file...>
//	    public_key_pem <pem text, e.g. {env.JWT_PUBLIC_KEY}>
//	    jwks_url       <url>
//	    jwks_refresh_interval     <duration>
//	    jwks_min_refresh_interval <duration>
//	    algorithms     <alg...>
//	    issuer         <iss...>
//	    audience       <aud...>
//	    require_claims <claim...>
//	    leeway         <duration>
//	    allow_missing_exp
//	    types          <typ...>
//	    cache_ttl      <duration> | off
//	    max_cache_entries <n>
//	}
//
//	introspect <url> {
//	    client_id         <id>
//	    client_secret     <secret, e.g. {env.CLIENT_SECRET}>
//	    token_type_hint   <hint>
//	    cache_ttl         <duration>
//	    max_cache_entries <n>
//	    timeout           <duration>
//	    issuer         <iss...>
//	    audience       <aud...>
//	    require_claims <claim...>
//	    leeway         <duration>
//	}
//
// Mistakes that can be seen without running (alg none, an unknown
// algorithm, a bad duration, both modes in one block) fail here with the
// line of the offending token.
func (v *Verifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	switch mode := d.Val(); mode {
	case "jwt":
		if v.JWT != nil || v.Introspect != nil {
			return d.Err("only one jwt or introspect block is allowed")
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		v.JWT = new(JWT)
		return v.JWT.unmarshalCaddyfile(d)
	case "introspect":
		if v.JWT != nil || v.Introspect != nil {
			return d.Err("only one jwt or introspect block is allowed")
		}
		v.Introspect = new(Introspect)
		return v.Introspect.unmarshalCaddyfile(d)
	default:
		return d.Errf("expected jwt or introspect, got %q", mode)
	}
}

func (j *JWT) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	nesting := d.Nesting()
	for d.NextBlock(nesting) {
		switch d.Val() {
		case "secret":
			if err := oneArg(d, &j.Secret); err != nil {
				return err
			}
		case "public_key":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			j.PublicKeyFiles = append(j.PublicKeyFiles, args...)
		case "public_key_pem":
			var pem string
			if err := oneArg(d, &pem); err != nil {
				return err
			}
			j.PublicKeys = append(j.PublicKeys, pem)
		case "jwks_url":
			if err := oneArg(d, &j.JWKSURL); err != nil {
				return err
			}
		case "jwks_refresh_interval":
			if err := durationArg(d, &j.JWKSRefreshInterval); err != nil {
				return err
			}
		case "jwks_min_refresh_interval":
			if err := durationArg(d, &j.JWKSMinRefreshInterval); err != nil {
				return err
			}
		case "cache_ttl":
			var s string
			if err := oneArg(d, &s); err != nil {
				return err
			}
			if s == "off" {
				j.CacheTTL = -1
				continue
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("invalid duration %q for cache_ttl (a positive duration or off)", s)
			}
			j.CacheTTL = caddy.Duration(dur)
		case "max_cache_entries":
			if err := positiveIntArg(d, &j.MaxCacheEntries); err != nil {
				return err
			}
		case "algorithms", "alg":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if _, err := lookupAlgorithm(a); err != nil {
					return d.Err(err.Error())
				}
			}
			j.Algorithms = append(j.Algorithms, args...)
		case "allow_missing_exp":
			if d.NextArg() {
				return d.ArgErr()
			}
			j.AllowMissingExp = true
		case "types", "type":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			j.Types = append(j.Types, args...)
		default:
			if ok, err := j.ClaimRules.unmarshalCaddyfile(d); ok || err != nil {
				if err != nil {
					return err
				}
				continue
			}
			return d.Errf("unrecognized jwt option %q", d.Val())
		}
	}
	return nil
}

func (in *Introspect) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		in.URL = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	nesting := d.Nesting()
	for d.NextBlock(nesting) {
		switch d.Val() {
		case "url":
			if err := oneArg(d, &in.URL); err != nil {
				return err
			}
		case "client_id":
			if err := oneArg(d, &in.ClientID); err != nil {
				return err
			}
		case "client_secret":
			if err := oneArg(d, &in.ClientSecret); err != nil {
				return err
			}
		case "token_type_hint":
			if err := oneArg(d, &in.TokenTypeHint); err != nil {
				return err
			}
		case "cache_ttl":
			if err := durationArg(d, &in.CacheTTL); err != nil {
				return err
			}
		case "timeout":
			if err := durationArg(d, &in.Timeout); err != nil {
				return err
			}
		case "max_cache_entries":
			if err := positiveIntArg(d, &in.MaxCacheEntries); err != nil {
				return err
			}
		default:
			if ok, err := in.ClaimRules.unmarshalCaddyfile(d); ok || err != nil {
				if err != nil {
					return err
				}
				continue
			}
			return d.Errf("unrecognized introspect option %q", d.Val())
		}
	}
	if in.URL == "" {
		return d.Err("introspect needs the endpoint URL")
	}
	return nil
}

// unmarshalCaddyfile reads a claim-rule option if the current token is
// one; ok reports whether it was.
func (c *ClaimRules) unmarshalCaddyfile(d *caddyfile.Dispenser) (ok bool, err error) {
	var list *[]string
	switch d.Val() {
	case "issuer", "issuers":
		list = &c.Issuers
	case "audience", "audiences":
		list = &c.Audiences
	case "require_claims", "require_claim":
		list = &c.RequiredClaims
	case "leeway":
		if err := durationArg(d, &c.Leeway); err != nil {
			return true, err
		}
		if err := checkLeeway(time.Duration(c.Leeway)); err != nil {
			return true, d.Err(err.Error())
		}
		return true, nil
	default:
		return false, nil
	}
	args := d.RemainingArgs()
	if len(args) == 0 {
		return true, d.ArgErr()
	}
	*list = append(*list, args...)
	return true, nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func positiveIntArg(d *caddyfile.Dispenser, dst *int) error {
	option := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return d.Errf("%s must be a positive integer, got %q", option, s)
	}
	*dst = n
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	option := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur < 0 {
		return d.Errf("invalid duration %q for %s", s, option)
	}
	*dst = caddy.Duration(dur)
	return nil
}
