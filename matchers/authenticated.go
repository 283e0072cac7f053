package matchers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/standing"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

// unavailableBody is the message of the 503 error the matcher returns when
// the verification backend cannot be reached; it is the body auth_proxy
// answers in the same case.
const unavailableBody = `{"success":false,"message":"authentication unavailable"}`

// MatchAuthenticated matches requests that carry a valid token: the same
// verification as auth_proxy, as a matcher, so that routes can branch on a
// session the way a Next.js proxy.ts does. `@anon not authenticated { ... }`
// with `redir @anon /login?next={uri}` is NextResponse.redirect; with
// `rewrite @anon /login` it is NextResponse.rewrite.
//
// On a match, the claims are published as `{http.auth.user.*}` placeholders.
// When the verification backend (JWKS or introspection endpoint) cannot be
// reached, the matcher fails the request with 503 instead of guessing.
type MatchAuthenticated struct {
	// The token verification: `jwt` (local verification with a secret, PEM
	// keys or a JWKS URL) or `introspect` (an RFC 7662 endpoint), exactly
	// one of them, as in auth_proxy.
	tokenverify.Verifier

	// Where the token is looked for, in order; the first source present in
	// the request is the token. Default: the `_token` cookie (the one
	// session_callback sets), then `Authorization: Bearer`.
	TokenSources tokenverify.Sources `json:"token_sources,omitempty"`

	logger  *zap.Logger
	release func()
}

// CaddyModule returns the Caddy module information.
func (MatchAuthenticated) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.authenticated",
		New: func() caddy.Module { return new(MatchAuthenticated) },
	}
}

// Provision sets up the verifier.
func (m *MatchAuthenticated) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	if len(m.TokenSources) == 0 {
		m.TokenSources = tokenverify.DefaultSources()
	}
	if err := m.TokenSources.Validate(); err != nil {
		return err
	}
	if err := m.Verifier.Provision(ctx); err != nil {
		return err
	}
	// The cache applies RFC 9111's Authorization rules to requests that
	// carry the session this matcher reads.
	m.release = standing.Register(m.TokenSources.Credentials())
	return nil
}

// Cleanup releases the registration of the session's cookie and headers.
func (m *MatchAuthenticated) Cleanup() error {
	if m.release != nil {
		m.release()
	}
	return nil
}

// Validate requires a verification block.
func (m *MatchAuthenticated) Validate() error {
	if !m.Verifier.Configured() {
		return errors.New("authenticated: a jwt or introspect block is required")
	}
	return nil
}

// Match returns true if r matches m.
func (m MatchAuthenticated) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError returns true if the request carries a token the verifier
// accepts.
func (m MatchAuthenticated) MatchWithError(r *http.Request) (bool, error) {
	token, _, found := m.TokenSources.Extract(r)
	if !found {
		return false, nil
	}
	claims, err := m.Verifier.Verify(r.Context(), token)
	if err != nil {
		if tokenverify.Unavailable(err) {
			if m.logger != nil {
				m.logger.Error("token verification unavailable", zap.Error(err))
			}
			// The error's message is the JSON body, as for the handlers'
			// errors, so handle_errors can answer it with {err.message}.
			return false, caddyhttp.Error(http.StatusServiceUnavailable, jsonreply.Error{Body: unavailableBody})
		}
		if m.logger != nil {
			m.logger.Debug("token refused", zap.Error(err))
		}
		return false, nil
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	tokenverify.SetPlaceholders(repl, claims)
	standing.Admit(r, "authenticated")
	return true, nil
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens:
//
//	authenticated {
//	    token_source cookie <name> | bearer | header <name>
//	    jwt { ... } | introspect <url> { ... }
//	}
func (m *MatchAuthenticated) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	line := d.Line()
	for d.Next() {
		line = d.Line()
		if d.NextArg() {
			return d.ArgErr()
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "token_source":
				src, err := tokenverify.UnmarshalSource(d)
				if err != nil {
					return err
				}
				m.TokenSources = append(m.TokenSources, src)
			case "jwt", "introspect":
				if err := m.Verifier.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
					return err
				}
			default:
				return d.Errf("authenticated: unrecognized option %q", d.Val())
			}
		}
	}
	if !m.Verifier.Configured() {
		return fmt.Errorf("authenticated: a jwt or introspect block is required, at %s:%d", d.File(), line)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchAuthenticated)(nil)
	_ caddy.CleanerUpper                = (*MatchAuthenticated)(nil)
	_ caddy.Validator                   = (*MatchAuthenticated)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchAuthenticated)(nil)
	_ caddyfile.Unmarshaler             = (*MatchAuthenticated)(nil)
)
