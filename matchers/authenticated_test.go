package matchers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

const matcherSecret = "matcher-unit-test-secret-0123456789abcdef"

func provisionAuthenticated(t *testing.T, m *MatchAuthenticated) *MatchAuthenticated {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchAuthenticated(t *testing.T) {
	m := provisionAuthenticated(t, &MatchAuthenticated{Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{Secret: matcherSecret}}})
	tok, _ := jwt.NewBuilder().Subject("u-1").Claim("plan", "pro").Expiration(time.Now().Add(time.Hour)).Build()
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(matcherSecret)))
	if err != nil {
		t.Fatal(err)
	}
	r, repl := withReplacer(httptest.NewRequest(http.MethodGet, "/", nil))
	r.AddCookie(&http.Cookie{Name: "_token", Value: string(signed)})
	if ok, err := m.MatchWithError(r); !ok || err != nil {
		t.Fatalf("valid cookie: %v %v", ok, err)
	}
	if id, _ := repl.GetString("http.auth.user.id"); id != "u-1" {
		t.Fatalf("http.auth.user.id = %q", id)
	}
	if plan, _ := repl.GetString("http.auth.user.plan"); plan != "pro" {
		t.Fatalf("http.auth.user.plan = %q", plan)
	}
	for name, set := range map[string]func(*http.Request){
		"none":     func(*http.Request) {},
		"forged":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+string(signed)+"x") },
		"presence": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "_token", Value: "1"}) },
	} {
		r, _ := withReplacer(httptest.NewRequest(http.MethodGet, "/", nil))
		set(r)
		if ok, err := m.MatchWithError(r); ok || err != nil {
			t.Errorf("%s: %v %v", name, ok, err)
		}
	}
}

func TestMatchAuthenticatedUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer down.Close()
	m := provisionAuthenticated(t, &MatchAuthenticated{Verifier: tokenverify.Verifier{JWT: &tokenverify.JWT{
		JWKSURL: down.URL, Algorithms: []string{"RS256"}, JWKSMinRefreshInterval: caddy.Duration(time.Millisecond),
	}}})
	r, _ := withReplacer(httptest.NewRequest(http.MethodGet, "/", nil))
	// A syntactically valid RS256 header so the key set is consulted.
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln")
	ok, err := m.MatchWithError(r)
	var he caddyhttp.HandlerError
	if ok || !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("match = %v, err = %v; want a 503 handler error", ok, err)
	}
	if he.Err.Error() != unavailableBody {
		t.Fatalf("error message %q, want the JSON body", he.Err.Error())
	}
	if (&MatchAuthenticated{}).Validate() == nil {
		t.Fatal("authenticated without a verification block validated")
	}
}
