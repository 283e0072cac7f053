// Package caddyfileargs reads the typed arguments caddy-bff's Caddyfile
// options share: sizes such as 256MiB and positive durations, with errors
// that name the option and the line.
package caddyfileargs

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// Size reads the current option's one argument as a positive size such as
// 256MiB.
func Size(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	size, err := humanize.ParseBytes(d.Val())
	if err != nil || size == 0 || size > 1<<62 {
		return 0, d.Errf("%s: %q is not a size such as 256MiB", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return int64(size), nil
}

// Duration reads the current option's argument as a positive duration
// such as 5s.
func Duration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: %q is not a positive duration", name, d.Val())
	}
	return caddy.Duration(dur), nil
}
