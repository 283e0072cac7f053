package signature

import (
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads the `signature` block, from its name on:
//
//	signature <preset> {
//	    tolerance            <duration>
//	    replay_retention     <duration>
//	    max_replay_entries   <count>
//	    allow_unsigned_query
//	    header               <name>
//	    algorithm            sha256|sha512|sha1
//	    encoding             hex|base64
//	    prefix               <text>
//	    id_header            <name>
//	}
//
// The block is optional; its options are named as their JSON keys. A block
// Validate refuses is refused here, on the line of `signature`.
func (c *Config) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume "signature"
	file, line := d.File(), d.Line()
	if !d.NextArg() {
		return d.Errf("signature needs a preset: %v", Presets)
	}
	c.Preset = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := c.unmarshalOption(d); err != nil {
			return err
		}
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("signature: %v, at %s:%d", err, file, line)
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (c *Config) unmarshalOption(d *caddyfile.Dispenser) error {
	name := d.Val()
	if name == "allow_unsigned_query" {
		if d.NextArg() {
			return d.ArgErr()
		}
		c.AllowUnsignedQuery = true
		return nil
	}
	var v string
	if !d.Args(&v) || d.NextArg() {
		return d.ArgErr()
	}
	switch name {
	case "tolerance":
		return positiveDuration(d, name, v, &c.Tolerance)
	case "replay_retention":
		return positiveDuration(d, name, v, &c.ReplayRetention)
	case "max_replay_entries":
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return d.Errf("max_replay_entries: %q is not a positive count", v)
		}
		c.MaxReplayEntries = n
	case "header":
		c.Header = v
	case "algorithm":
		c.Algorithm = v
	case "encoding":
		c.Encoding = v
	case "prefix":
		c.Prefix = v
	case "id_header":
		c.IDHeader = v
	default:
		return d.Errf("unrecognized signature option %q", name)
	}
	return nil
}

// positiveDuration parses the argument v of the option name into dst.
func positiveDuration(d *caddyfile.Dispenser, name, v string, dst *caddy.Duration) error {
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return d.Errf("%s: %q is not a positive duration", name, v)
	}
	*dst = caddy.Duration(dur)
	return nil
}

var _ caddyfile.Unmarshaler = (*Config)(nil)
