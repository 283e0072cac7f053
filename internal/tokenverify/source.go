package tokenverify

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// DefaultCookie is the cookie session_callback sets and auth_proxy reads by
// default.
const DefaultCookie = "_token"

// Source is one place a token is read from.
type Source struct {
	// Where the token is: `cookie` (the value of the cookie `name`),
	// `bearer` (the `Authorization: Bearer <token>` header) or `header` (the
	// whole value of the header `name`). Required.
	From string `json:"from"`

	// The cookie or header name. Required with `cookie` and `header`;
	// unused with `bearer`.
	Name string `json:"name,omitempty"`
}

// Sources is an ordered list of token sources: the first one present in
// the request wins, and later ones are not consulted.
type Sources []Source

// DefaultSources are the session cookie `_token`, then a bearer token.
func DefaultSources() Sources {
	return Sources{{From: "cookie", Name: DefaultCookie}, {From: "bearer"}}
}

// Validate checks every source is complete.
func (s Sources) Validate() error {
	for i, src := range s {
		switch src.From {
		case "cookie", "header":
			if src.Name == "" {
				return fmt.Errorf("token source %d (%s) needs a name", i, src.From)
			}
		case "bearer":
		default:
			return fmt.Errorf("token source %d: unknown kind %q (cookie, bearer or header)", i, src.From)
		}
	}
	return nil
}

// Extract returns the first token found and where it was found.
func (s Sources) Extract(r *http.Request) (token string, src Source, ok bool) {
	for _, src := range s {
		switch src.From {
		case "cookie":
			if c, err := r.Cookie(src.Name); err == nil && c.Value != "" {
				return c.Value, src, true
			}
		case "bearer":
			if t, ok := BearerToken(r); ok {
				return t, src, true
			}
		case "header":
			if v := strings.TrimSpace(r.Header.Get(src.Name)); v != "" {
				return v, src, true
			}
		}
	}
	return "", Source{}, false
}

// Accepts reports whether one of the sources is of kind from.
func (s Sources) Accepts(from string) bool {
	for _, src := range s {
		if src.From == from {
			return true
		}
	}
	return false
}

// BearerToken reads `Authorization: Bearer <token>` (scheme case-insensitive,
// RFC 6750 section 2.1).
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// UnmarshalSource reads `token_source cookie <name> | bearer | header <name>`
// with the dispenser on `token_source`.
func UnmarshalSource(d *caddyfile.Dispenser) (Source, error) {
	if !d.NextArg() {
		return Source{}, d.ArgErr()
	}
	src := Source{From: d.Val()}
	switch src.From {
	case "cookie", "header":
		if !d.NextArg() {
			return Source{}, d.Errf("token_source %s needs a name", src.From)
		}
		src.Name = d.Val()
	case "bearer":
	default:
		return Source{}, d.Errf("unknown token_source %q: expected cookie, bearer or header", src.From)
	}
	if d.NextArg() {
		return Source{}, d.ArgErr()
	}
	return src, nil
}

// Credentials returns the cookie and header names the sources read, so the
// cache can tell which requests carry a session (bearer tokens travel in
// Authorization, which the cache always counts).
func (s Sources) Credentials() standing.Credentials {
	var c standing.Credentials
	for _, src := range s {
		switch src.From {
		case "cookie":
			c.Cookies = append(c.Cookies, src.Name)
		case "header":
			c.Headers = append(c.Headers, src.Name)
		}
	}
	return c
}
