package tokenverify

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads one verification block, `jwt { ... }` or
// `introspect <url> { ... }`, from a dispenser that holds only that block,
// as a directive passes it with d.NewFromNextSegment() when it meets `jwt`
// or `introspect` in its own block. The block itself is read by
// JWT.UnmarshalCaddyfile or Introspect.UnmarshalCaddyfile. A second block
// for the same Verifier is refused on its line.
func (v *Verifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if !d.Next() {
		return d.Err("expected a jwt or introspect block")
	}
	if v.Configured() {
		return d.Err("only one jwt or introspect block is allowed")
	}
	mode := d.Val()
	// The block's own parser starts from its name, as Caddy's nested
	// modules do.
	d.Reset()
	switch mode {
	case "jwt":
		v.JWT = new(JWT)
		return v.JWT.UnmarshalCaddyfile(d)
	case "introspect":
		v.Introspect = new(Introspect)
		return v.Introspect.UnmarshalCaddyfile(d)
	}
	d.Next()
	return d.Errf("expected jwt or introspect, got %q", mode)
}

// unmarshalClaimRule reads a claim-rule option (issuers, audiences,
// required_claims, leeway) if the current token is one; ok reports whether
// it was.
func (c *ClaimRules) unmarshalClaimRule(d *caddyfile.Dispenser) (ok bool, err error) {
	var list *[]string
	switch d.Val() {
	case "issuers":
		list = &c.Issuers
	case "audiences":
		list = &c.Audiences
	case "required_claims":
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

// oneArg reads the single argument of the current option into dst.
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

// listArg appends the one or more arguments of the current option to dst.
func listArg(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

// positiveIntArg reads the single positive integer argument of the current
// option into dst.
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

// durationArg reads the single non-negative duration argument of the
// current option into dst.
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
