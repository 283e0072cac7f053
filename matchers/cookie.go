package matchers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// MatchCookie matches requests by their cookies: it is Next.js's
// `has: [{ type: 'cookie', ... }]` condition, and with `not` its `missing`
// one. Every rule must hold (like the entries of a `has` list).
type MatchCookie []CookieRule

// CookieRule is one cookie condition.
type CookieRule struct {
	// The cookie name, matched exactly (cookie names are case-sensitive).
	// Required.
	Name string `json:"name"`

	// A regular expression the cookie's value must match as a whole, as
	// Next.js anchors `has` values (`^(?:value)$`); lookarounds are
	// supported, as in Next.js configs. Default: none, so the cookie only has to be present,
	// with any value, even empty.
	Value string `json:"value,omitempty"`

	re *anchoredRegexp
}

// CaddyModule returns the Caddy module information.
func (MatchCookie) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.cookie",
		New: func() caddy.Module { return new(MatchCookie) },
	}
}

// Provision compiles the value expressions.
func (m *MatchCookie) Provision(caddy.Context) error {
	for i := range *m {
		rule := &(*m)[i]
		if rule.Value == "" {
			continue
		}
		re, err := compileAnchored(rule.Value)
		if err != nil {
			return fmt.Errorf("cookie %s: %w", rule.Name, err)
		}
		rule.re = re
	}
	return nil
}

// Validate requires a name on every rule.
func (m *MatchCookie) Validate() error {
	if len(*m) == 0 {
		return errors.New("cookie: at least one cookie name is required")
	}
	for _, rule := range *m {
		if rule.Name == "" {
			return errors.New("cookie: a rule has no name")
		}
	}
	return nil
}

// Match returns true if r matches m.
func (m MatchCookie) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError returns true if every rule is satisfied by one of the
// request's cookies of that name.
func (m MatchCookie) MatchWithError(r *http.Request) (bool, error) {
	cookies := r.Cookies()
	for _, rule := range m {
		found := false
		for _, c := range cookies {
			if c.Name != rule.Name {
				continue
			}
			if rule.re == nil {
				found = true
				break
			}
			ok, err := rule.re.match(c.Value)
			if err != nil {
				return false, err
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens:
//
//	cookie <name> [<value regexp>]
//
// Several cookie lines in one matcher set must all hold.
func (m *MatchCookie) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() {
		var rule CookieRule
		if !d.Args(&rule.Name) {
			return d.ArgErr()
		}
		if d.NextArg() {
			rule.Value = d.Val()
			if _, err := compileAnchored(rule.Value); err != nil {
				return d.Errf("cookie %s: %v", rule.Name, err)
			}
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		if d.NextBlock(0) {
			return d.Err("cookie: blocks are not supported")
		}
		*m = append(*m, rule)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchCookie)(nil)
	_ caddy.Validator                   = (*MatchCookie)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchCookie)(nil)
	_ caddyfile.Unmarshaler             = (*MatchCookie)(nil)
)
