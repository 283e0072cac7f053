package authproxy

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

// ParseCaddyfile is the auth_proxy directive. Without a matcher,
// or without forward_claim, it is the handler in a route with the
// directive's matcher. With both, it is a route without a matcher whose
// subroute first deletes the forwarded headers from every request, then runs
// auth_proxy under the matcher: an upstream that trusts X-User-Id must never
// see a client's own X-User-Id, not even on paths auth_proxy does not guard.
// (Two sibling routes would not do: the Caddyfile adapter sorts a
// directive's routes with matchers before those without, and the deletion
// would then run after auth_proxy had set the headers.)
func ParseCaddyfile(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	handler, err := parseHandler(h)
	if err != nil {
		return nil, err
	}
	auth := handler.(*Handler)
	var strip []string
	for _, fc := range auth.ForwardClaims {
		strip = append(strip, fc.Header)
	}
	if matcherSet == nil || len(strip) == 0 {
		return h.NewRoute(matcherSet, auth), nil
	}
	var warnings []caddyconfig.Warning
	del := &headers.Handler{Request: &headers.HeaderOps{Delete: strip}}
	sub := &caddyhttp.Subroute{Routes: caddyhttp.RouteList{
		{HandlersRaw: []json.RawMessage{caddyconfig.JSONModuleObject(del, "handler", "headers", &warnings)}},
		{
			MatcherSetsRaw: []caddy.ModuleMap{matcherSet},
			HandlersRaw:    []json.RawMessage{caddyconfig.JSONModuleObject(auth, "handler", "auth_proxy", &warnings)},
		},
	}}
	if len(warnings) > 0 {
		return nil, h.Errf("auth_proxy: %s", warnings[0].Message)
	}
	return h.NewRoute(nil, sub), nil
}

// parseHandler sets up the auth_proxy handler from Caddyfile tokens:
//
//	auth_proxy [<matcher>] {
//	    token_source   cookie <name> | bearer | header <name>
//	    jwt { ... } | introspect <url> { ... }
//	    forward_claim  <claim> <header>
//	    require_claim  <claim> <value...>
//	    realm          <realm>
//	    failure_body   <json>
//	    forbidden_body <json>
//	    on_fail        json | redirect <target> [<status>] {
//	        allowed_origins <origin...>
//	        default         <target>
//	    }
//	    preflight      answer | authenticate | pass
//	}
//
// token_source, forward_claim and require_claim each add one entry to the
// JSON list of the same name in the plural; on_fail redirect is the JSON
// `redirect` object; every other option is named as its JSON key.
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(Handler)
	if err := a.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return a, nil
}

// UnmarshalCaddyfile reads the auth_proxy block; see parseHandler.
func (a *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	line := d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := a.unmarshalOption(d); err != nil {
			return err
		}
	}
	if !a.Verifier.Configured() {
		return fmt.Errorf("auth_proxy: a jwt or introspect block is required, at %s:%d", d.File(), line)
	}
	return nil
}

// unmarshalOption reads the option the dispenser is on.
func (a *Handler) unmarshalOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "token_source":
		src, err := tokenverify.UnmarshalSource(d)
		if err != nil {
			return err
		}
		a.TokenSources = append(a.TokenSources, src)
	case "jwt", "introspect":
		return a.Verifier.UnmarshalCaddyfile(d.NewFromNextSegment())
	case "forward_claim":
		var fc ForwardClaim
		if !d.Args(&fc.Claim, &fc.Header) || d.NextArg() {
			return d.ArgErr()
		}
		if !httpsyntax.IsHeaderName(fc.Header) {
			return d.Errf("forward_claim: invalid header name %q", fc.Header)
		}
		a.ForwardClaims = append(a.ForwardClaims, fc)
	case "require_claim":
		if !d.NextArg() {
			return d.ArgErr()
		}
		req := ClaimRequirement{Claim: d.Val(), Values: d.RemainingArgs()}
		if len(req.Values) == 0 {
			return d.Errf("require_claim %s: at least one accepted value is required", req.Claim)
		}
		a.RequireClaims = append(a.RequireClaims, req)
	case "realm":
		if !d.Args(&a.Realm) || d.NextArg() {
			return d.ArgErr()
		}
		if !validRealm(a.Realm) {
			return d.Errf("realm %q: printable ASCII without quotes or backslashes", a.Realm)
		}
	case "failure_body":
		return unmarshalJSONBody(d, &a.FailureBody)
	case "forbidden_body":
		return unmarshalJSONBody(d, &a.ForbiddenBody)
	case "on_fail":
		return a.unmarshalOnFail(d)
	case "preflight":
		return a.unmarshalPreflight(d)
	default:
		return d.Errf("auth_proxy: unrecognized option %q", d.Val())
	}
	return nil
}

// unmarshalJSONBody reads `failure_body` or `forbidden_body`.
func unmarshalJSONBody(d *caddyfile.Dispenser, dst *json.RawMessage) error {
	name := d.Val()
	var body string
	if !d.Args(&body) || d.NextArg() {
		return d.ArgErr()
	}
	if !json.Valid([]byte(body)) {
		return d.Errf("%s must be valid JSON", name)
	}
	*dst = json.RawMessage(body)
	return nil
}

// unmarshalOnFail reads `on_fail json` or `on_fail redirect ...`, the
// latter by FailRedirect.UnmarshalCaddyfile.
func (a *Handler) unmarshalOnFail(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	mode := d.Val()
	seg := d.NewFromNextSegment()
	switch mode {
	case "redirect":
		r := new(FailRedirect)
		if err := r.UnmarshalCaddyfile(seg); err != nil {
			return err
		}
		a.Redirect = r
		return nil
	case "json":
		seg.Next()
		if seg.NextArg() || seg.NextBlock(0) {
			return seg.ArgErr()
		}
		a.Redirect = nil
		return nil
	}
	seg.Next()
	return seg.Errf("on_fail: expected json or redirect, got %q", mode)
}

// unmarshalPreflight reads `preflight answer | authenticate | pass`.
func (a *Handler) unmarshalPreflight(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	switch d.Val() {
	case PreflightAnswer, PreflightAuthenticate, PreflightPass:
		a.Preflight = d.Val()
	default:
		return d.Errf("preflight: expected answer, authenticate or pass, got %q", d.Val())
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)
