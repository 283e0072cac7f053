package authproxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/internal/redirect"
)

// FailRedirect sends unauthenticated requests to a login page, as a
// proxy.ts does with `NextResponse.redirect(new URL('/login', request.url))`.
type FailRedirect struct {
	// The redirect target: a same-origin path such as
	// `/login?next={http.request.uri}`, or an absolute URL with a fixed
	// host. Placeholders in query values are replaced per request and
	// URL-encoded, so the current URI can travel in a `next` parameter. The
	// final target must be a safe one (a same-origin path, or a URL on the
	// origin of `to` or on one of `allowed_origins`); a refused one falls
	// back to `default`. Required.
	To string `json:"to"`

	// The redirect status: 302, 303, 307 or 308. Default: 307, as
	// NextResponse.redirect.
	Status int `json:"status,omitempty"`

	// The origins the final target may point to besides the origin of an
	// absolute `to`, which is always allowed (`allowed_origins`), and where
	// to go when the final target is refused (`default`, by default `to`
	// without its query, when that holds no placeholder, else `/`).
	redirect.Policy

	base   string
	query  []queryParam
	policy redirect.Policy
}

type queryParam struct {
	key, value string
}

// provision checks the settings and prepares the target and the policy,
// leaving the configured fields as they are.
func (f *FailRedirect) provision() error {
	if f.To == "" {
		return errors.New("on_fail redirect needs a target")
	}
	if f.Status == 0 {
		f.Status = http.StatusTemporaryRedirect
	}
	switch f.Status {
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return fmt.Errorf("redirect status %d: must be 302, 303, 307 or 308", f.Status)
	}
	target, fragment, _ := strings.Cut(f.To, "#")
	if fragment != "" {
		return errors.New("the redirect target must not have a fragment")
	}
	base, rawQuery, _ := strings.Cut(target, "?")
	f.base = base
	f.query = f.query[:0]
	if rawQuery != "" {
		for pair := range strings.SplitSeq(rawQuery, "&") {
			k, v, _ := strings.Cut(pair, "=")
			f.query = append(f.query, queryParam{k, v})
		}
	}
	f.policy = redirect.Policy{AllowedOrigins: slices.Clone(f.AllowedOrigins), Default: f.Default}
	if !strings.HasPrefix(base, "/") {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.Host, "{") {
			return fmt.Errorf("redirect target %q must be a path starting with / or an absolute http(s) URL with a fixed host", f.To)
		}
		origin := u.Scheme + "://" + u.Host
		if err := redirect.ValidateOrigin(origin); err != nil {
			return err
		}
		f.policy.AllowedOrigins = append(f.policy.AllowedOrigins, origin)
	}
	if f.policy.Default == "" && !strings.Contains(base, "{") {
		f.policy.Default = base
	}
	return f.policy.Provision()
}

// serve answers with the redirect.
func (f *FailRedirect) serve(w http.ResponseWriter, r *http.Request) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	var b strings.Builder
	b.WriteString(repl.ReplaceKnown(f.base, ""))
	for i, p := range f.query {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		if p.value != "" {
			b.WriteByte('=')
			if strings.Contains(p.value, "{") {
				b.WriteString(url.QueryEscape(repl.ReplaceKnown(p.value, "")))
			} else {
				b.WriteString(p.value)
			}
		}
	}
	target, _ := f.policy.Resolve(r, b.String())
	w.Header().Set("Location", target)
	w.WriteHeader(f.Status)
	return nil
}
