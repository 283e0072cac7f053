package session

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddy-bff/caddy-bff/internal/redirect"
)

// ParseCallbackCaddyfile parses the session_callback directive:
//
//	session_callback [<matcher>] {
//		token_param              <name>             # default session_token
//		max_token_length         <bytes>            # default 4000
//		cookie_name              <name>             # default _token
//		cookie_path              <path>             # default /
//		cookie_domain            <domain>           # default: none (host-only)
//		cookie_max_age           <duration>         # default: session cookie
//		cookie_same_site         lax|strict|none    # default lax
//		cookie_http_only         on|off             # default on
//		cookie_secure            on|off [insecure]  # default on; off = localhost only, unless insecure
//		cookie_host_prefix                          # __Host- name; forbids cookie_domain
//		state_cookie_name        <name>             # turns on the login-CSRF state check
//		state_param              <name>             # default state
//		redirect_param           <name>             # default redirect_url
//		redirect_status          302|303|307        # default 307
//		redirect_default         <target>           # default /
//		redirect_allowed_origins <origin...>        # https://app.example.com, https://*.example.com
//		redirect_on_invalid      default|reject     # default default
//		jwt { ... }                                 # or: introspect <url> { ... }, as in auth_proxy
//	}
//
// Each option is named as its JSON key, with the `cookie_` or `redirect_`
// prefix for the keys of the `cookie` and `redirect` objects.
func ParseCallbackCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var sc Callback
	err := sc.UnmarshalCaddyfile(h.Dispenser)
	return &sc, err
}

// ParseLogoutCaddyfile parses the session_logout directive:
//
//	session_logout [<matcher>] {
//		cookie_name              <name>             # default _token
//		cookie_path              <path>             # default /
//		cookie_domain            <domain>
//		cookie_same_site         lax|strict|none    # default lax
//		cookie_http_only         on|off             # default on
//		cookie_secure            on|off [insecure]  # default on
//		cookie_host_prefix
//		methods                  <method...>        # default GET POST
//		allow_cross_site                            # serve Sec-Fetch-Site: cross-site requests
//		redirect_param           <name>             # default redirect_url
//		redirect_status          302|303|307        # default 303
//		redirect_default         <target>           # default /
//		redirect_allowed_origins <origin...>
//		redirect_on_invalid      default|reject
//	}
func ParseLogoutCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var sl Logout
	err := sl.UnmarshalCaddyfile(h.Dispenser)
	return &sl, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens; see
// ParseCallbackCaddyfile for the syntax. A block that Provision would refuse is
// refused here, so a bad Caddyfile fails at adapt time.
func (h *Callback) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	p := newSessionBlockParser(d)
	for d.NextBlock(0) {
		name := d.Val()
		if err := p.once(name); err != nil {
			return err
		}
		handled, err := p.common(name, &h.Cookie, &h.Redirect)
		if err != nil {
			return err
		}
		if handled {
			continue
		}
		switch name {
		case "token_param":
			if h.TokenParam, err = p.oneArg(); err != nil {
				return err
			}
		case "max_token_length":
			if h.MaxTokenLength, err = p.positiveInt(); err != nil {
				return err
			}
		case "cookie_max_age":
			arg, err := p.oneArg()
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(arg)
			if err != nil {
				return d.Errf("cookie_max_age %q: %v", arg, err)
			}
			if dur < 0 || dur > maxCookieAge {
				return d.Errf("cookie_max_age %s: must be between 0 (a session cookie) and 400 days", arg)
			}
			h.Cookie.MaxAge = caddy.Duration(dur)
		case "state_cookie_name":
			if h.StateCookieName, err = p.oneArg(); err != nil {
				return err
			}
		case "state_param":
			if h.StateParam, err = p.oneArg(); err != nil {
				return err
			}
		case "jwt", "introspect":
			if err := h.Verifier.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized session_callback subdirective %q", name)
		}
	}
	if err := p.checkDefault(&h.Redirect); err != nil {
		return err
	}
	// Run the same checks Provision runs, on a copy (so the adapted JSON
	// holds only what was written), and report them on the directive's line.
	probe := *h
	if err := probe.setup(); err != nil {
		return fmt.Errorf("%v, at %s:%d", err, file, line)
	}
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens; see
// ParseLogoutCaddyfile for the syntax.
func (h *Logout) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	p := newSessionBlockParser(d)
	for d.NextBlock(0) {
		name := d.Val()
		if err := p.once(name); err != nil {
			return err
		}
		handled, err := p.common(name, &h.Cookie, &h.Redirect)
		if err != nil {
			return err
		}
		if handled {
			continue
		}
		switch name {
		case "methods":
			h.Methods = d.RemainingArgs()
			if len(h.Methods) == 0 {
				return d.ArgErr()
			}
			for _, m := range h.Methods {
				switch strings.ToUpper(m) {
				case "GET", "POST", "DELETE":
				default:
					return d.Errf("logout method %q: must be GET, POST or DELETE", m)
				}
			}
		case "allow_cross_site":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.AllowCrossSite = true
		default:
			return d.Errf("unrecognized session_logout subdirective %q", name)
		}
	}
	if err := p.checkDefault(&h.Redirect); err != nil {
		return err
	}
	probe := *h
	if err := probe.setup(); err != nil {
		return fmt.Errorf("%v, at %s:%d", err, file, line)
	}
	return nil
}

// sessionBlockParser holds what parsing a session block needs across
// subdirectives.
type sessionBlockParser struct {
	d    *caddyfile.Dispenser
	seen map[string]bool
	// defaultFile and defaultLine locate redirect_default, which is
	// checked against redirect_allowed_origins once the whole block is
	// read.
	defaultFile string
	defaultLine int
}

func newSessionBlockParser(d *caddyfile.Dispenser) *sessionBlockParser {
	return &sessionBlockParser{d: d, seen: map[string]bool{}}
}

// once refuses a subdirective given twice (redirect_allowed_origins
// excepted, which accumulates), since silently keeping one of two values
// hides mistakes.
func (p *sessionBlockParser) once(name string) error {
	if name == "redirect_allowed_origins" {
		return nil
	}
	if p.seen[name] {
		return p.d.Errf("%s is given more than once", name)
	}
	p.seen[name] = true
	return nil
}

// common parses the subdirectives shared by session_callback and
// session_logout: the cookie's description and the redirect rules.
func (p *sessionBlockParser) common(name string, c *Cookie, r *Redirect) (bool, error) {
	d := p.d
	var err error
	switch name {
	case "cookie_name":
		c.Name, err = p.oneArg()
		if err == nil && !httpsyntax.IsToken(c.Name) {
			err = d.Errf("cookie_name %q: only letters, digits and !#$%%&'*+-.^_`|~ are allowed", c.Name)
		}
	case "cookie_path":
		c.Path, err = p.oneArg()
		if err == nil && (!strings.HasPrefix(c.Path, "/") || !cookieAttrSafe(c.Path)) {
			err = d.Errf("cookie_path %q: must start with / and hold no spaces, ';' or control characters", c.Path)
		}
	case "cookie_domain":
		c.Domain, err = p.oneArg()
		if err == nil && !validCookieDomain(strings.ToLower(c.Domain)) {
			err = d.Errf("cookie_domain %q: must be a host name", c.Domain)
		}
	case "cookie_same_site":
		c.SameSite, err = p.oneArg()
		if err == nil {
			c.SameSite = strings.ToLower(c.SameSite)
			if c.SameSite != "lax" && c.SameSite != "strict" && c.SameSite != "none" {
				err = d.Errf("cookie_same_site %q: must be lax, strict or none", c.SameSite)
			}
		}
	case "cookie_http_only":
		var on bool
		on, err = p.onOff()
		c.HTTPOnly = &on
	case "cookie_secure":
		args := d.RemainingArgs()
		switch {
		case len(args) == 1 && args[0] == "on":
			c.Secure = new(true)
		case len(args) == 1 && args[0] == "off":
			c.Secure = new(false)
		case len(args) == 2 && args[0] == "off" && args[1] == "insecure":
			c.Secure = new(false)
			c.Insecure = true
		default:
			err = d.Errf("cookie_secure: expected 'on', 'off' or 'off insecure'")
		}
	case "cookie_host_prefix":
		if d.NextArg() {
			err = d.ArgErr()
		}
		c.HostPrefix = true
	case "redirect_param":
		r.Param, err = p.oneArg()
	case "redirect_status":
		var n int
		if n, err = p.positiveInt(); err == nil {
			r.Status = n
			if n != 302 && n != 303 && n != 307 {
				err = d.Errf("redirect_status %d: must be 302, 303 or 307", n)
			}
		}
	case "redirect_default":
		r.Default, err = p.oneArg()
		p.defaultFile, p.defaultLine = d.File(), d.Line()
	case "redirect_allowed_origins":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		for _, a := range args {
			if e := redirect.ValidateOrigin(a); e != nil {
				return true, d.Errf("redirect_allowed_origins: %v", e)
			}
		}
		r.AllowedOrigins = append(r.AllowedOrigins, args...)
	case "redirect_on_invalid":
		r.OnInvalid, err = p.oneArg()
		if err == nil && r.OnInvalid != OnInvalidDefault && r.OnInvalid != OnInvalidReject {
			err = d.Errf("redirect_on_invalid %q: must be %q or %q", r.OnInvalid, OnInvalidDefault, OnInvalidReject)
		}
	default:
		return false, nil
	}
	return true, err
}

// checkDefault checks redirect_default against redirect_allowed_origins,
// which is only complete at the end of the block, and reports it on its own
// line.
func (p *sessionBlockParser) checkDefault(r *Redirect) error {
	if r.Default == "" {
		return nil
	}
	probe := redirect.Policy{AllowedOrigins: r.AllowedOrigins, Default: r.Default}
	if err := probe.Provision(); err != nil {
		return fmt.Errorf("redirect_default: %v, at %s:%d", err, p.defaultFile, p.defaultLine)
	}
	return nil
}

// oneArg returns the single argument of the current subdirective.
func (p *sessionBlockParser) oneArg() (string, error) {
	var v string
	if !p.d.AllArgs(&v) {
		return "", p.d.ArgErr()
	}
	return v, nil
}

// onOff parses a single on/off argument.
func (p *sessionBlockParser) onOff() (bool, error) {
	name := p.d.Val()
	v, err := p.oneArg()
	if err != nil {
		return false, err
	}
	switch v {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, p.d.Errf("%s %q: expected on or off", name, v)
}

// positiveInt parses a single positive integer argument.
func (p *sessionBlockParser) positiveInt() (int, error) {
	name := p.d.Val()
	v, err := p.oneArg()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, p.d.Errf("%s %q: expected a positive integer", name, v)
	}
	return n, nil
}

// Interface guards.
var (
	_ caddyfile.Unmarshaler = (*Callback)(nil)
	_ caddyfile.Unmarshaler = (*Logout)(nil)
)
