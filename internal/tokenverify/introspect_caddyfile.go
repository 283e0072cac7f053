package tokenverify

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// UnmarshalCaddyfile reads an `introspect` block, from its name on:
//
//	introspect <url> {
//	    url               <url>       # instead of the argument
//	    client_id         <id>
//	    client_secret     <secret, e.g. {env.CLIENT_SECRET}>
//	    token_type_hint   <hint>
//	    cache_ttl         <duration>
//	    max_cache_entries <n>
//	    timeout           <duration>
//	    issuers           <iss...>
//	    audiences         <aud...>
//	    required_claims   <claim...>
//	    leeway            <duration>
//	}
//
// Every option is named as its JSON key.
func (in *Introspect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume "introspect"
	if d.NextArg() {
		in.URL = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := in.unmarshalOption(d); err != nil {
			return err
		}
	}
	if in.URL == "" {
		return d.Err("introspect needs the endpoint URL")
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (in *Introspect) unmarshalOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "url":
		return oneArg(d, &in.URL)
	case "client_id":
		return oneArg(d, &in.ClientID)
	case "client_secret":
		return oneArg(d, &in.ClientSecret)
	case "token_type_hint":
		return oneArg(d, &in.TokenTypeHint)
	case "cache_ttl":
		return durationArg(d, &in.CacheTTL)
	case "timeout":
		return durationArg(d, &in.Timeout)
	case "max_cache_entries":
		return positiveIntArg(d, &in.MaxCacheEntries)
	}
	if ok, err := in.ClaimRules.unmarshalClaimRule(d); ok {
		return err
	}
	return d.Errf("unrecognized introspect option %q", d.Val())
}

var _ caddyfile.Unmarshaler = (*Introspect)(nil)
