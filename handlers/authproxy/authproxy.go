// Package authproxy is the `auth_proxy` HTTP handler (module
// http.handlers.auth_proxy): it gates routes on a verified session, as a
// Next.js proxy.ts does, answering 401/403 JSON or redirecting to a login
// page, and passes the verified identity upstream.
package authproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/standing"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

// Default answers of auth_proxy: the JSON bodies a Next.js proxy.ts
// typically answers with, so clients written against one keep working.
var (
	defaultFailureBody     = json.RawMessage(`{"success":false,"message":"authentication failed"}`)
	defaultForbiddenBody   = json.RawMessage(`{"success":false,"message":"forbidden"}`)
	defaultUnavailableBody = json.RawMessage(`{"success":false,"message":"authentication unavailable"}`)
)

// Handler gates requests on a verified token, like a Next.js proxy.ts
// (middleware.ts) that checks the session before letting a request reach
// its route. A request without a valid token gets 401 with a JSON body (or a
// redirect, see `redirect`); a valid token that fails a claim requirement gets
// 403. A valid token lets the request through with its claims published as
// `{http.auth.user.*}` placeholders (`{http.auth.user.id}` is `sub`) and,
// optionally, as request headers to the upstream.
//
// Error answers go through Caddy's error handling: with `handle_errors`
// routes, the status reaches them and `{err.message}` is the JSON body.
//
// CORS preflight requests (OPTIONS with Access-Control-Request-Method) are
// answered here by default with 204 and nothing from the upstream: browsers
// never send credentials on them, and an upstream that ignores the method
// (php_fastcgi, respond, many Go handlers) would otherwise serve protected
// content to anyone who adds the header. See `preflight`.
type Handler struct {
	// The token verification: `jwt` (local verification with a secret, PEM
	// keys or a JWKS URL) or `introspect` (an RFC 7662 endpoint), exactly
	// one of them. Required.
	tokenverify.Verifier

	// Where the token is looked for, in order; the first source present in
	// the request is the token. Default: the `_token` cookie (the one
	// session_callback sets), then `Authorization: Bearer`.
	TokenSources tokenverify.Sources `json:"token_sources,omitempty"`

	// Claims sent to the upstream as request headers. Every header named
	// here is first deleted from the client's request, on every request
	// this handler sees, so a client can never supply it, even when the
	// token lacks the claim or the request is refused. Default: none.
	ForwardClaims []ForwardClaim `json:"forward_claims,omitempty"`

	// Claim values a valid token must have, every requirement at once; a
	// token that fails one is answered 403. Default: none.
	RequireClaims []ClaimRequirement `json:"require_claims,omitempty"`

	// The JSON body of 401 answers.
	// Default: `{"success":false,"message":"authentication failed"}`.
	FailureBody json.RawMessage `json:"failure_body,omitempty"`

	// The JSON body of 403 answers.
	// Default: `{"success":false,"message":"forbidden"}`.
	ForbiddenBody json.RawMessage `json:"forbidden_body,omitempty"`

	// The realm of the `WWW-Authenticate: Bearer` challenge sent with 401
	// and 403 answers when bearer tokens are accepted.
	// Default: `caddy-bff`.
	Realm string `json:"realm,omitempty"`

	// Answers unauthenticated requests with a redirect, as
	// NextResponse.redirect does, instead of 401; 403 stays a JSON answer.
	// In the Caddyfile: `on_fail redirect`. Default: none (401 JSON).
	Redirect *FailRedirect `json:"redirect,omitempty"`

	// What happens to a CORS preflight request (OPTIONS with Origin and
	// Access-Control-Request-Method). `answer` answers it here with 204 No
	// Content and no body; nothing reaches the upstream, and the response
	// carries only the headers that handlers before auth_proxy set (a
	// `header` directive with the Access-Control-Allow-* fields, say).
	// `authenticate` treats it like any other request: it needs a valid
	// token. `pass` lets it through to the upstream unauthenticated; use it
	// only when the upstream answers OPTIONS itself and serves nothing
	// protected to it, because anyone can send such a request with any path
	// and query. Default: `answer`.
	Preflight string `json:"preflight,omitempty"`

	preflight    string
	stripHeaders []string
	bearer       bool
	logger       *zap.Logger
	release      func()
}

// ForwardClaim sends one claim upstream as a request header.
type ForwardClaim struct {
	// The claim name, such as `sub` or `email`. Required.
	Claim string `json:"claim"`

	// The request header set to the claim's value; a token without the
	// claim leaves it unset. Required.
	Header string `json:"header"`
}

// ClaimRequirement requires a claim to have one of the listed values. For
// a list claim (such as `roles`), one of its items must be listed.
type ClaimRequirement struct {
	// The claim name, such as `roles`. Required.
	Claim string `json:"claim"`

	// The accepted values, compared as text; at least one. Required.
	Values []string `json:"values"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.auth_proxy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the verifier, sources, bodies and redirect policy.
func (a *Handler) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if len(a.TokenSources) == 0 {
		a.TokenSources = tokenverify.DefaultSources()
	}
	a.bearer = a.TokenSources.Accepts("bearer")
	if a.Realm == "" {
		a.Realm = "caddy-bff"
	}
	if a.FailureBody == nil {
		a.FailureBody = defaultFailureBody
	}
	if a.ForbiddenBody == nil {
		a.ForbiddenBody = defaultForbiddenBody
	}
	a.preflight = a.Preflight
	if a.preflight == "" {
		a.preflight = PreflightAnswer
	}
	a.stripHeaders = a.stripHeaders[:0]
	for _, fc := range a.ForwardClaims {
		a.stripHeaders = append(a.stripHeaders, textproto.CanonicalMIMEHeaderKey(fc.Header))
	}
	if a.Redirect != nil {
		if err := a.Redirect.provision(); err != nil {
			return fmt.Errorf("auth_proxy: %w", err)
		}
	}
	if err := a.Verifier.Provision(ctx); err != nil {
		return fmt.Errorf("auth_proxy: %w", err)
	}
	// The cache applies RFC 9111's Authorization rules to requests that
	// carry the session this gate reads.
	a.release = standing.Register(a.TokenSources.Credentials())
	return nil
}

// Cleanup releases the registration of the session's cookie and headers.
func (a *Handler) Cleanup() error {
	if a.release != nil {
		a.release()
	}
	return nil
}

// Validate checks the configuration for mistakes that would otherwise
// surface only at request time.
func (a *Handler) Validate() error {
	if !a.Verifier.Configured() {
		return errors.New("auth_proxy: a jwt or introspect block is required")
	}
	if err := a.TokenSources.Validate(); err != nil {
		return fmt.Errorf("auth_proxy: %w", err)
	}
	switch a.Preflight {
	case "", PreflightAnswer, PreflightPass, PreflightAuthenticate:
	default:
		return fmt.Errorf("auth_proxy: preflight must be %q, %q or %q, got %q", PreflightAnswer, PreflightAuthenticate, PreflightPass, a.Preflight)
	}
	for _, body := range []json.RawMessage{a.FailureBody, a.ForbiddenBody} {
		if body != nil && !json.Valid(body) {
			return errors.New("auth_proxy: failure_body and forbidden_body must be valid JSON")
		}
	}
	if !validRealm(a.Realm) {
		return errors.New("auth_proxy: realm must be printable ASCII without quotes or backslashes")
	}
	for _, fc := range a.ForwardClaims {
		if fc.Claim == "" || !httpsyntax.IsHeaderName(fc.Header) {
			return fmt.Errorf("auth_proxy: forward_claim needs a claim and a valid header name (got %q)", fc.Header)
		}
	}
	for _, req := range a.RequireClaims {
		if req.Claim == "" || len(req.Values) == 0 {
			return errors.New("auth_proxy: require_claim needs a claim and at least one value")
		}
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (a *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Identity headers come from this handler only: the client's copies go
	// before anything else happens, whatever the outcome.
	for _, h := range a.stripHeaders {
		r.Header.Del(h)
	}
	if a.preflight != PreflightAuthenticate && isPreflight(r) {
		if a.preflight == PreflightPass {
			return next.ServeHTTP(w, r)
		}
		// Answered at the edge: the upstream never sees an
		// unauthenticated request it might serve as if it were a GET.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}

	token, src, found := a.TokenSources.Extract(r)
	if !found {
		return a.unauthenticated(w, r, "no token", false)
	}
	claims, err := a.Verifier.Verify(r.Context(), token)
	if err != nil {
		if tokenverify.Unavailable(err) {
			a.logger.Error("token verification unavailable", zap.Error(err))
			w.Header().Set("Retry-After", "5")
			return jsonreply.Fail(w, r, http.StatusServiceUnavailable, defaultUnavailableBody)
		}
		return a.unauthenticated(w, r, err.Error(), src.From == "bearer")
	}

	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	tokenverify.SetPlaceholders(repl, claims)

	for _, req := range a.RequireClaims {
		if !req.satisfiedBy(claims[req.Claim]) {
			a.logger.Debug("claim requirement failed", zap.String("claim", req.Claim))
			if src.From == "bearer" {
				w.Header().Set("WWW-Authenticate", a.challenge("insufficient_scope"))
			}
			w.Header().Set("Cache-Control", "no-store")
			return jsonreply.Fail(w, r, http.StatusForbidden, a.ForbiddenBody)
		}
	}

	for _, fc := range a.ForwardClaims {
		v, ok := claims[fc.Claim]
		if !ok {
			continue
		}
		value := tokenverify.ClaimString(v)
		if !httpsyntax.IsHeaderValue(value) {
			a.logger.Warn("claim not forwarded: not a valid header value", zap.String("claim", fc.Claim))
			continue
		}
		r.Header.Set(fc.Header, value)
	}
	standing.Admit(r, "auth_proxy")
	return next.ServeHTTP(w, r)
}

// unauthenticated answers a request without a valid token: a redirect when
// configured, else 401 with the failure body and a Bearer challenge.
func (a *Handler) unauthenticated(w http.ResponseWriter, r *http.Request, reason string, presentedBearer bool) error {
	a.logger.Debug("request not authenticated", zap.String("reason", reason))
	w.Header().Set("Cache-Control", "no-store")
	if a.Redirect != nil {
		return a.Redirect.serve(w, r)
	}
	if a.bearer {
		errCode := ""
		if presentedBearer {
			errCode = "invalid_token"
		}
		w.Header().Set("WWW-Authenticate", a.challenge(errCode))
	}
	return jsonreply.Fail(w, r, http.StatusUnauthorized, a.FailureBody)
}

// challenge is the RFC 6750 WWW-Authenticate value. Only configured text
// goes in it, never anything from the request.
func (a *Handler) challenge(errCode string) string {
	c := `Bearer realm="` + a.Realm + `"`
	if errCode != "" {
		c += `, error="` + errCode + `"`
	}
	return c
}

// satisfiedBy reports whether the claim value (a string, number, boolean
// or a list of them) has one of the required values.
func (c ClaimRequirement) satisfiedBy(v any) bool {
	if v == nil {
		return false
	}
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if c.satisfiedBy(item) {
				return true
			}
		}
		return false
	}
	s := tokenverify.ClaimString(v)
	for _, want := range c.Values {
		if s == want {
			return true
		}
	}
	return false
}

// What auth_proxy does with CORS preflight requests; see Handler.Preflight.
const (
	PreflightAnswer       = "answer"
	PreflightAuthenticate = "authenticate"
	PreflightPass         = "pass"
)

// isPreflight reports whether r is a CORS preflight request as the Fetch
// standard defines one: OPTIONS with an Origin and an
// Access-Control-Request-Method naming a method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		httpsyntax.IsHeaderName(r.Header.Get("Access-Control-Request-Method"))
}

func validRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
