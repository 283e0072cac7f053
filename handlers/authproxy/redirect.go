package authproxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/internal/redirect"
)

// FailRedirect sends unauthenticated requests to a login page, as a
// proxy.ts does with `NextResponse.redirect(new URL('/login', request.url))`.
type FailRedirect struct {
	// To is the redirect target: a same-origin path such as
	// `/login?next={http.request.uri}`, or an absolute URL. Placeholders in
	// query values are replaced per request and URL-encoded, so the current
	// URI can travel in a `next` parameter. The final target is checked by
	// the open-redirect policy; a refused target falls back to Default.
	To string `json:"to"`

	// Status is the redirect status. Default: 307, as NextResponse.redirect.
	// 302, 303 and 308 are accepted too.
	Status int `json:"status,omitempty"`

	// Policy holds the origins absolute targets may use ("allowed"; the
	// origin of an absolute To is added automatically) and the fallback
	// target ("default"; by default the path of To without its query).
	redirect.Policy

	base  string
	query []queryParam
}

type queryParam struct {
	key, value string
}

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
	if !strings.HasPrefix(base, "/") {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.Host, "{") {
			return fmt.Errorf("redirect target %q must be a path starting with / or an absolute http(s) URL with a fixed host", f.To)
		}
		origin := u.Scheme + "://" + u.Host
		if err := redirect.ValidateOrigin(origin); err != nil {
			return err
		}
		f.Policy.Allowed = append(f.Policy.Allowed, origin)
	}
	if f.Policy.Default == "" && !strings.Contains(base, "{") {
		f.Policy.Default = base
	}
	return f.Policy.Provision()
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
	target, _ := f.Policy.Resolve(r, b.String())
	w.Header().Set("Location", target)
	w.WriteHeader(f.Status)
	return nil
}
