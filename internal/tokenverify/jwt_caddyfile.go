package tokenverify

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads a `jwt` block, from its name on:
//
//	jwt {
//	    secret                    <hmac secret, e.g. {env.JWT_SECRET}>
//	    public_keys_pem           <pem text...>   # e.g. {env.JWT_PUBLIC_KEY}
//	    public_key_files          <pem file...>
//	    jwks_url                  <url>
//	    jwks_refresh_interval     <duration>
//	    jwks_min_refresh_interval <duration>
//	    algorithms                <alg...>
//	    issuers                   <iss...>
//	    audiences                 <aud...>
//	    required_claims           <claim...>
//	    leeway                    <duration>
//	    allow_missing_exp
//	    types                     <typ...>
//	    cache_ttl                 <duration> | off
//	    max_cache_entries         <n>
//	}
//
// Every option is named as its JSON key. Mistakes that can be seen without
// running (alg none, an unknown algorithm, a bad duration) fail here, with
// the line of the offending token.
func (j *JWT) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume "jwt"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := j.unmarshalOption(d); err != nil {
			return err
		}
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (j *JWT) unmarshalOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "secret":
		return oneArg(d, &j.Secret)
	case "public_keys_pem":
		return listArg(d, &j.PublicKeysPEM)
	case "public_key_files":
		return listArg(d, &j.PublicKeyFiles)
	case "jwks_url":
		return oneArg(d, &j.JWKSURL)
	case "jwks_refresh_interval":
		return durationArg(d, &j.JWKSRefreshInterval)
	case "jwks_min_refresh_interval":
		return durationArg(d, &j.JWKSMinRefreshInterval)
	case "cache_ttl":
		return j.unmarshalCacheTTL(d)
	case "max_cache_entries":
		return positiveIntArg(d, &j.MaxCacheEntries)
	case "algorithms":
		return j.unmarshalAlgorithms(d)
	case "allow_missing_exp":
		if d.NextArg() {
			return d.ArgErr()
		}
		j.AllowMissingExp = true
		return nil
	case "types":
		return listArg(d, &j.Types)
	}
	if ok, err := j.ClaimRules.unmarshalClaimRule(d); ok {
		return err
	}
	return d.Errf("unrecognized jwt option %q", d.Val())
}

// unmarshalCacheTTL reads `cache_ttl <duration> | off`; off is -1 in JSON.
func (j *JWT) unmarshalCacheTTL(d *caddyfile.Dispenser) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	if s == "off" {
		j.CacheTTL = -1
		return nil
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur <= 0 {
		return d.Errf("invalid duration %q for cache_ttl (a positive duration or off)", s)
	}
	j.CacheTTL = caddy.Duration(dur)
	return nil
}

// unmarshalAlgorithms reads `algorithms <alg...>`, refusing `none` and
// names the JOSE library does not know on their line.
func (j *JWT) unmarshalAlgorithms(d *caddyfile.Dispenser) error {
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
	return nil
}

var _ caddyfile.Unmarshaler = (*JWT)(nil)
