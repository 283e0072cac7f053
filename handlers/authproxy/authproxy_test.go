package authproxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/caddy-bff/caddy-bff/internal/redirect"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

const authTestSecret = "auth-proxy-unit-test-secret-0123456789"

func hs256(t testing.TB, mutate func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	b := jwt.NewBuilder().Subject("user-1").Expiration(time.Now().Add(time.Hour)).
		Claim("email", "u1@example.test").Claim("roles", []string{"reader", "editor"})
	if mutate != nil {
		b = mutate(b)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	buf, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(authTestSecret)))
	if err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func provisionAuth(t testing.TB, a *Handler) *Handler {
	t.Helper()
	if a.JWT == nil && a.Introspect == nil {
		a.JWT = &tokenverify.JWT{Secret: authTestSecret}
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	return a
}

// upstream records what reached it.
type upstream struct {
	called bool
	header http.Header
	repl   *caddy.Replacer
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	u.called = true
	u.header = r.Header.Clone()
	u.repl = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	w.WriteHeader(http.StatusOK)
	return nil
}

func serveAuth(t testing.TB, a *Handler, r *http.Request) (*httptest.ResponseRecorder, *upstream, error) {
	t.Helper()
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	r = r.WithContext(ctx)
	caddyhttp.NewTestReplacer(r)
	w := httptest.NewRecorder()
	up := &upstream{}
	err := a.ServeHTTP(w, r, up)
	return w, up, err
}

func TestAuthProxyUnauthenticated(t *testing.T) {
	a := provisionAuth(t, &Handler{})
	for name, setup := range map[string]func(r *http.Request){
		"no token":      func(r *http.Request) {},
		"garbage token": func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") },
		"expired cookie": func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "_token", Value: hs256(t, func(b *jwt.Builder) *jwt.Builder {
				return b.Expiration(time.Now().Add(-time.Hour))
			})})
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/hello", nil)
			setup(r)
			w, up, err := serveAuth(t, a, r)
			if err != nil {
				t.Fatal(err)
			}
			if up.called {
				t.Fatal("upstream reached without a valid token")
			}
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", w.Code)
			}
			if got := strings.TrimSpace(w.Body.String()); got != `{"success":false,"message":"authentication failed"}` {
				t.Fatalf("body %s", got)
			}
			wantChallenge := `Bearer realm="caddy-bff"`
			if name == "garbage token" {
				wantChallenge += `, error="invalid_token"`
			}
			if got := w.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, wantChallenge)
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Fatal("not JSON")
			}
		})
	}
}

func TestAuthProxyForwardsClaimsAndStripsSpoofs(t *testing.T) {
	a := provisionAuth(t, &Handler{ForwardClaims: []ForwardClaim{
		{Claim: "sub", Header: "X-User-Id"},
		{Claim: "email", Header: "X-User-Email"},
		{Claim: "tenant", Header: "X-Tenant"}, // absent from the token
	}})
	r := httptest.NewRequest(http.MethodGet, "/api/hello", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, nil))
	r.Header.Set("X-User-Id", "admin")
	r.Header.Add("x-user-id", "root")
	r.Header.Set("X-Tenant", "other-tenant")
	_, up, err := serveAuth(t, a, r)
	if err != nil || !up.called {
		t.Fatalf("err %v called %v", err, up.called)
	}
	if got := up.header.Values("X-User-Id"); len(got) != 1 || got[0] != "user-1" {
		t.Fatalf("X-User-Id %v", got)
	}
	if got := up.header.Get("X-User-Email"); got != "u1@example.test" {
		t.Fatalf("X-User-Email %q", got)
	}
	if got := up.header.Values("X-Tenant"); len(got) != 0 {
		t.Fatalf("spoofed X-Tenant reached upstream: %v", got)
	}
	if id, _ := up.repl.GetString("http.auth.user.id"); id != "user-1" {
		t.Fatalf("http.auth.user.id = %q", id)
	}
	if roles, _ := up.repl.GetString("http.auth.user.roles"); roles != "reader,editor" {
		t.Fatalf("http.auth.user.roles = %q", roles)
	}

	// Refused and preflight requests lose the spoofed headers too.
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/api/hello", nil),
		httptest.NewRequest(http.MethodOptions, "/api/hello", nil),
	} {
		r.Header.Set("X-User-Id", "admin")
		if r.Method == http.MethodOptions {
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Origin", "https://app.example")
		}
		_, up, _ := serveAuth(t, a, r)
		if r.Header.Get("X-User-Id") != "" || (up.called && up.header.Get("X-User-Id") != "") {
			t.Fatalf("%s: spoofed X-User-Id kept", r.Method)
		}
		if r.Method == http.MethodOptions && up.called {
			t.Fatal("CORS preflight reached the upstream unauthenticated")
		}
	}
}

func TestAuthProxyDoesNotForwardHeaderBreakingClaims(t *testing.T) {
	a := provisionAuth(t, &Handler{ForwardClaims: []ForwardClaim{{Claim: "name", Header: "X-User-Name"}}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, func(b *jwt.Builder) *jwt.Builder {
		return b.Claim("name", "eve\r\nX-Admin: true")
	}))
	r.Header.Set("X-User-Name", "spoof")
	_, up, err := serveAuth(t, a, r)
	if err != nil || !up.called {
		t.Fatalf("err %v called %v", err, up.called)
	}
	if got := up.header.Values("X-User-Name"); len(got) != 0 {
		t.Fatalf("X-User-Name = %q, want it absent", got)
	}
}

func TestAuthProxyRequireClaim(t *testing.T) {
	a := provisionAuth(t, &Handler{RequireClaims: []ClaimRequirement{{Claim: "roles", Values: []string{"admin"}}}})
	r := httptest.NewRequest(http.MethodGet, "/admin", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, nil))
	w, up, err := serveAuth(t, a, r)
	if err != nil || up.called || w.Code != http.StatusForbidden {
		t.Fatalf("err %v called %v status %d", err, up.called, w.Code)
	}
	if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	r = httptest.NewRequest(http.MethodGet, "/admin", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, func(b *jwt.Builder) *jwt.Builder {
		return b.Claim("roles", []string{"admin"})
	}))
	_, up, err = serveAuth(t, a, r)
	if err != nil || !up.called {
		t.Fatalf("admin refused: %v", err)
	}
}

// TestAuthProxyPreflightAnsweredAtEdge: by default no OPTIONS reaches the
// upstream unauthenticated, whatever Access-Control-Request-Method, path or
// query it carries; `preflight pass` is the explicit opt-in.
func TestAuthProxyPreflightAnsweredAtEdge(t *testing.T) {
	preflight := func(target, method string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, target, nil)
		r.Header.Set("Origin", "https://evil.example")
		r.Header.Set("Access-Control-Request-Method", method)
		return r
	}
	a := provisionAuth(t, &Handler{})
	for _, target := range []string{"/api/secret", "/admin/export.csv?all=1", "/index.php"} {
		for _, method := range []string{"GET", "POST", "x"} {
			w, up, err := serveAuth(t, a, preflight(target, method))
			if err != nil || up.called {
				t.Fatalf("%s %s: err %v, upstream called %v", target, method, err, up.called)
			}
			if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
				t.Fatalf("%s %s: status %d body %q, want 204 and no body", target, method, w.Code, w.Body.String())
			}
		}
	}
	// Without Origin it is no preflight: it needs a token like any request.
	r := preflight("/api/secret", "GET")
	r.Header.Del("Origin")
	if w, up, _ := serveAuth(t, a, r); up.called || w.Code != http.StatusUnauthorized {
		t.Fatalf("OPTIONS without Origin: called %v status %d", up.called, w.Code)
	}
	// pass is the explicit, documented opt-in.
	pass := provisionAuth(t, &Handler{Preflight: PreflightPass})
	if _, up, _ := serveAuth(t, pass, preflight("/api/secret", "GET")); !up.called {
		t.Fatal("preflight pass: not passed on")
	}
	// An unknown value is refused by Validate.
	bad := &Handler{Preflight: "allow"}
	bad.Verifier = pass.Verifier
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "preflight") {
		t.Fatalf("preflight allow: %v", err)
	}
}

func TestAuthProxyPreflightAuthenticate(t *testing.T) {
	a := provisionAuth(t, &Handler{Preflight: PreflightAuthenticate})
	r := httptest.NewRequest(http.MethodOptions, "/api", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w, up, _ := serveAuth(t, a, r)
	if up.called || w.Code != http.StatusUnauthorized {
		t.Fatalf("preflight authenticate: called %v status %d", up.called, w.Code)
	}
}

func TestAuthProxyCustomBodyAndSources(t *testing.T) {
	a := provisionAuth(t, &Handler{
		TokenSources: tokenverify.Sources{{From: "header", Name: "X-Api-Token"}},
		FailureBody:  json.RawMessage(`{"ok":false}`),
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, nil)) // not an accepted source
	w, up, _ := serveAuth(t, a, r)
	if up.called || w.Code != http.StatusUnauthorized || strings.TrimSpace(w.Body.String()) != `{"ok":false}` {
		t.Fatalf("called %v status %d body %s", up.called, w.Code, w.Body)
	}
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("Bearer challenge sent although bearer tokens are not accepted")
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Api-Token", hs256(t, nil))
	_, up, _ = serveAuth(t, a, r)
	if !up.called {
		t.Fatal("header token refused")
	}
}

func TestAuthProxyRedirect(t *testing.T) {
	a := provisionAuth(t, &Handler{Redirect: &FailRedirect{To: "/login?next={http.request.uri}&from=proxy"}})
	r := httptest.NewRequest(http.MethodGet, "/dashboard/settings?tab=a&b=c", nil)
	w, up, err := serveAuth(t, a, r)
	if err != nil || up.called {
		t.Fatalf("err %v called %v", err, up.called)
	}
	if w.Code != http.StatusTemporaryRedirect {
		t.Fatalf("status %d", w.Code)
	}
	want := "/login?next=%2Fdashboard%2Fsettings%3Ftab%3Da%26b%3Dc&from=proxy"
	if got := w.Header().Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}

	// A placeholder in the path that a client controls cannot make it leave
	// the origin: the policy falls back to the default.
	a = provisionAuth(t, &Handler{Redirect: &FailRedirect{To: "/{http.request.header.X-Target}", Status: 302}})
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("X-Target", "/evil.example/")
	w, _, _ = serveAuth(t, a, r)
	if got := w.Header().Get("Location"); got != "/" || w.Code != http.StatusFound {
		t.Fatalf("Location %q status %d", got, w.Code)
	}
}

// TestFailRedirectKeepsConfig: provisioning adds the origin of an absolute
// target to the policy it uses, never to the configured allowed_origins.
func TestFailRedirectKeepsConfig(t *testing.T) {
	f := &FailRedirect{To: "https://login.example/signin?next={http.request.uri}"}
	if err := f.provision(); err != nil {
		t.Fatal(err)
	}
	if f.AllowedOrigins != nil || f.Default != "" {
		t.Fatalf("config changed: allowed_origins %v default %q", f.AllowedOrigins, f.Default)
	}
	if got := f.policy.DefaultTarget(); got != "https://login.example/signin" {
		t.Fatalf("default target %q", got)
	}
}

func TestAuthProxyValidate(t *testing.T) {
	cases := map[string]*Handler{
		"no verifier":   {},
		"bad body":      {Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: authTestSecret}}, FailureBody: json.RawMessage(`{`)},
		"bad realm":     {Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: authTestSecret}}, Realm: `a"b`},
		"bad header":    {Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: authTestSecret}}, ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X User"}}},
		"empty require": {Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: authTestSecret}}, RequireClaims: []ClaimRequirement{{Claim: "role"}}},
		"bad source":    {Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: authTestSecret}}, TokenSources: tokenverify.Sources{{From: "query"}}},
	}
	for name, a := range cases {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, r := range map[string]*FailRedirect{
		"offsite default": {To: "/login", Policy: redirectPolicy("https://evil.example/")},
		"bad status":      {To: "/login", Status: 200},
		"relative":        {To: "login"},
	} {
		if err := r.provision(); err == nil {
			t.Errorf("redirect %s: accepted", name)
		}
	}
}

func redirectPolicy(def string) (p redirectPolicyT) {
	p.Default = def
	return p
}

type redirectPolicyT = redirect.Policy
