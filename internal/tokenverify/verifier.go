// Package tokenverify is the token verification block of caddy-bff: the
// `jwt` and `introspect` configuration that decides whether a bearer or
// session token is genuine and returns its claims. The auth_proxy handler,
// the authenticated matcher and the session_callback handler all embed it,
// so all three accept exactly the same tokens and are configured with the
// same words.
//
// Two modes exist. `jwt` verifies a signed JSON Web Token locally (HMAC
// secret, PEM public keys or a JWKS URL), with the accepted algorithms pinned
// by the configuration. `introspect` asks an OAuth 2.0 authorization server
// (RFC 7662) and caches its answer for a bounded time under a hash of the
// token. Tokens and secrets are never logged and never part of an error.
package tokenverify

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// Verifier is the configuration and runtime of a token verification block.
// Exactly one of `jwt` or `introspect` is set. Provision it before use;
// Verify is safe for concurrent use.
type Verifier struct {
	// Verifies JSON Web Tokens locally, with an HMAC secret, PEM public keys
	// or a JWKS URL. Exclusive with `introspect`.
	JWT *JWT `json:"jwt,omitempty"`

	// Verifies opaque or JWT access tokens by asking an OAuth 2.0 token
	// introspection endpoint (RFC 7662). Exclusive with `jwt`.
	Introspect *Introspect `json:"introspect,omitempty"`

	verify func(ctx context.Context, token string) (map[string]any, error)
}

// Provision resolves placeholders in secrets, loads keys and prepares the
// JWKS or introspection clients. It fails when the block is incomplete or
// unsafe (no key, an empty secret, an algorithm without a matching key, `none`).
func (v *Verifier) Provision(ctx caddy.Context) error {
	switch {
	case v.JWT != nil && v.Introspect != nil:
		return errors.New("token verification: configure either jwt or introspect, not both")
	case v.JWT != nil:
		if err := v.JWT.provision(ctx); err != nil {
			return fmt.Errorf("jwt: %w", err)
		}
		v.verify = v.JWT.verify
	case v.Introspect != nil:
		if err := v.Introspect.provision(ctx); err != nil {
			return fmt.Errorf("introspect: %w", err)
		}
		v.verify = v.Introspect.verify
	default:
		return errors.New("token verification: a jwt or introspect block is required")
	}
	return nil
}

// Configured reports whether the block names a verification mode; callers
// use it to require the block at Validate time.
func (v *Verifier) Configured() bool { return v != nil && (v.JWT != nil || v.Introspect != nil) }

// Verify checks token and returns its claims. The returned map must be
// treated as read-only: it may be shared with other requests through the
// introspection cache. A non-nil error is always an *Error whose reason is
// safe to log (it never contains the token).
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	if v.verify == nil {
		return nil, &Error{Reason: "verifier not provisioned"}
	}
	if token == "" {
		return nil, &Error{Reason: "no token"}
	}
	return v.verify(ctx, token)
}

// Error is a verification failure. Reason is a short, fixed description
// such as "token expired" or "signature invalid"; it never holds the token,
// a secret or anything else taken from the request.
type Error struct {
	// Reason says why the token was refused.
	Reason string
	// Unavailable is true when the token could not be checked at all (the
	// JWKS or introspection endpoint failed), as opposed to being refused.
	Unavailable bool
}

func (e *Error) Error() string { return "token refused: " + e.Reason }

// Unavailable reports whether err says the verification backend could not
// be reached, so the caller may answer 503 rather than 401.
func Unavailable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Unavailable
}
