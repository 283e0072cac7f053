package tokenverify

import (
	"slices"

	"github.com/caddyserver/caddy/v2"
)

// ClaimRules are the claim checks both verification modes apply once a
// token is known to be genuine.
type ClaimRules struct {
	// The accepted `iss` values. When set, a token whose issuer is not one
	// of them is refused. Default: any issuer.
	Issuers []string `json:"issuers,omitempty"`

	// The accepted audiences. When set, a token is refused unless its `aud`
	// (a string or a list) holds at least one of them. Default: any
	// audience.
	Audiences []string `json:"audiences,omitempty"`

	// Claims that must be present, with any value, for a token to be
	// accepted. Default: none.
	RequiredClaims []string `json:"required_claims,omitempty"`

	// The clock skew tolerated when checking `exp`, `nbf` and `iat`, at most
	// `5m`; keep it to seconds. Default: `0s` (no tolerance).
	Leeway caddy.Duration `json:"leeway,omitempty"`
}

// check applies the issuer, audience and required-claim rules to claims.
func (c *ClaimRules) check(claims map[string]any) error {
	if len(c.Issuers) > 0 {
		iss, _ := claims["iss"].(string)
		if !slices.Contains(c.Issuers, iss) {
			return &Error{Reason: "issuer not accepted"}
		}
	}
	if len(c.Audiences) > 0 && !audienceMatches(claims["aud"], c.Audiences) {
		return &Error{Reason: "audience not accepted"}
	}
	for _, name := range c.RequiredClaims {
		if _, ok := claims[name]; !ok {
			return &Error{Reason: "required claim missing"}
		}
	}
	return nil
}

// audienceMatches reports whether aud (RFC 7519: a string or an array of
// strings) contains one of the accepted audiences.
func audienceMatches(aud any, accepted []string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(accepted, a)
	case []any:
		for _, item := range a {
			if s, ok := item.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	case []string:
		for _, s := range a {
			if slices.Contains(accepted, s) {
				return true
			}
		}
	}
	return false
}
