package authproxy

import (
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-bff/caddy-bff/internal/redirect"
)

// UnmarshalCaddyfile reads the redirect of `on_fail redirect`, from the
// word `redirect` on:
//
//	redirect <to> [<status>] {
//	    allowed_origins <origin...>
//	    default         <target>
//	}
//
// The block is optional; its options are named as their JSON keys. A
// redirect that provisioning would refuse is refused here, on the line of
// `on_fail`.
func (f *FailRedirect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume "redirect"
	file, line := d.File(), d.Line()
	if !d.Args(&f.To) {
		return d.Err("on_fail redirect needs a target, e.g. /login?next={http.request.uri}")
	}
	if d.NextArg() {
		code, err := strconv.Atoi(d.Val())
		if err != nil {
			return d.Errf("on_fail redirect: bad status %q", d.Val())
		}
		f.Status = code
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := f.unmarshalOption(d); err != nil {
			return err
		}
	}
	probe := *f
	if err := probe.provision(); err != nil {
		return fmt.Errorf("on_fail redirect: %v, at %s:%d", err, file, line)
	}
	return nil
}

// unmarshalOption reads the block option the dispenser is on.
func (f *FailRedirect) unmarshalOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "allowed_origins":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		for _, o := range args {
			if err := redirect.ValidateOrigin(o); err != nil {
				return d.Errf("allowed_origins: %v", err)
			}
		}
		f.AllowedOrigins = append(f.AllowedOrigins, args...)
		return nil
	case "default":
		if !d.Args(&f.Default) || d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	return d.Errf("unrecognized on_fail redirect option %q", d.Val())
}

var _ caddyfile.Unmarshaler = (*FailRedirect)(nil)
