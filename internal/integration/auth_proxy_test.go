package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestAuthProxyHandleErrors checks that 401 and 403 flow into handle_errors
// with their status, and that {err.message} is the JSON body.
func TestAuthProxyHandleErrors(t *testing.T) {
	c, base := loadAuthConfig(t, `
:{PORT} {
	auth_proxy {
		jwt {
			secret {env.JWT_SECRET}
		}
		require_claim role admin
	}
	respond "secret area of {http.auth.user.id}"

	handle_errors {
		header X-Handled-By errors
		header Content-Type application/json
		respond "{err.message}" {err.status_code}
	}
}`)
	r := send(t, c.Client, http.MethodGet, base+"/")
	assertSeed401(t, r, "no token")
	if r.header.Get("X-Handled-By") != "errors" {
		t.Fatal("401 did not go through handle_errors")
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("WWW-Authenticate lost on the way through handle_errors")
	}

	r = send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer "+mintToken(t, tokenSpec{sub: "u1", claims: map[string]any{"role": "user"}})))
	if r.status != http.StatusForbidden || r.header.Get("X-Handled-By") != "errors" || strings.TrimSpace(r.body) != `{"success":false,"message":"forbidden"}` {
		t.Fatalf("403: status %d handled %q body %q", r.status, r.header.Get("X-Handled-By"), r.body)
	}
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="caddy-bff", error="insufficient_scope"` {
		t.Fatalf("403 WWW-Authenticate %q", got)
	}

	r = send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer "+mintToken(t, tokenSpec{sub: "u2", claims: map[string]any{"role": "admin"}})))
	if r.status != http.StatusOK || r.body != "secret area of u2" {
		t.Fatalf("admin: status %d body %q", r.status, r.body)
	}
}

// TestAuthProxyPlaceholdersAndSpoofs checks claims as placeholders and as
// upstream headers, with spoofed copies removed even when the claim is
// absent.
func TestAuthProxyPlaceholdersAndSpoofs(t *testing.T) {
	up := startUpstream(t)
	c, base := loadAuthConfig(t, `
:{PORT} {
	auth_proxy {
		token_source header X-Session
		jwt {
			secret {env.JWT_SECRET}
		}
		forward_claim sub X-User-Id
		forward_claim email X-User-Email
		forward_claim tenant X-Tenant
	}
	request_header X-Claims "{http.auth.user.id}|{http.auth.user.email}|{http.auth.user.groups}"
	reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
}`)
	token := mintToken(t, tokenSpec{sub: "user-5", claims: map[string]any{"email": "five@example.test", "groups": []string{"a", "b"}}})
	seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/x", withHeader("X-Session", token),
		withHeader("X-User-Id", "admin"), withHeader("X-User-Email", "boss@example.test"), withHeader("X-Tenant", "other"), withHeader("x-tenant", "another")))
	want := map[string]string{"X-User-Id": "user-5", "X-User-Email": "five@example.test", "X-Claims": "user-5|five@example.test|a,b"}
	for h, v := range want {
		if got := seen.Headers[h]; len(got) != 1 || got[0] != v {
			t.Errorf("%s at upstream = %v, want [%s]", h, got, v)
		}
	}
	if got := seen.Headers["X-Tenant"]; len(got) != 0 {
		t.Errorf("spoofed X-Tenant reached the upstream: %v", got)
	}
}

// jwksEndpoint serves a swappable RS256 key set.
type jwksEndpoint struct {
	mu  sync.Mutex
	set jwk.Set
}

func (j *jwksEndpoint) publish(t testing.TB, kid string, key *rsa.PrivateKey) {
	t.Helper()
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, kid)
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256())
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	j.mu.Lock()
	j.set = set
	j.mu.Unlock()
}

func (j *jwksEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_ = json.NewEncoder(w).Encode(j.set)
}

// TestAuthProxyJWKSRotation verifies RS256 tokens against a JWKS endpoint
// through Caddy, across a key rotation at the identity provider.
func TestAuthProxyJWKSRotation(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	idp := &jwksEndpoint{}
	idp.publish(t, "k1", k1)
	jwks := httptest.NewServer(idp)
	defer jwks.Close()
	c, base := loadAuthConfig(t, `
:{PORT} {
	auth_proxy {
		token_source bearer
		jwt {
			jwks_url `+jwks.URL+`
			jwks_min_refresh_interval 1ms
			algorithms RS256
			issuers https://idp.test
			# the retired-key check below reuses a token already seen
			cache_ttl off
		}
	}
	respond "hi {http.auth.user.id}"
}`)
	get := func(token string) reply {
		return send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer "+token))
	}
	alice := tokenSpec{key: k1, kid: "k1", sub: "alice", iss: "https://idp.test"}
	if r := get(mintToken(t, alice)); r.status != 200 || r.body != "hi alice" {
		t.Fatalf("k1: %d %q", r.status, r.body)
	}
	idp.publish(t, "k2", k2)
	time.Sleep(5 * time.Millisecond)
	if r := get(mintToken(t, tokenSpec{key: k2, kid: "k2", sub: "bob", iss: "https://idp.test"})); r.status != 200 || r.body != "hi bob" {
		t.Fatalf("k2 after rotation: %d %q", r.status, r.body)
	}
	time.Sleep(5 * time.Millisecond)
	if r := get(mintToken(t, alice)); r.status != http.StatusUnauthorized {
		t.Fatalf("retired k1 still accepted: %d", r.status)
	}
	// alg confusion: HS256 signed with the RSA public key is refused.
	pubPEM, _ := jwk.EncodePEM(mustPublic(t, k2))
	forged := mintToken(t, tokenSpec{sub: "mallory", secret: string(pubPEM)})
	if r := get(forged); r.status != http.StatusUnauthorized {
		t.Fatalf("HS256 token signed with the public key: %d", r.status)
	}
}

func mustPublic(t testing.TB, k *rsa.PrivateKey) jwk.Key {
	pub, err := jwk.PublicKeyOf(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestAuthProxyJWKSUnavailable answers 503 (not 401) when the keys cannot
// be fetched, so clients do not drop valid sessions.
func TestAuthProxyJWKSUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	c, base := loadAuthConfig(t, `
:{PORT} {
	auth_proxy {
		jwt {
			jwks_url `+down.URL+`
			jwks_min_refresh_interval 1ms
			algorithms RS256
		}
	}
	respond "never"
}`)
	r := send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer "+mintToken(t, tokenSpec{key: k1, kid: "k1", sub: "alice", iss: "https://idp.test"})))
	if r.status != http.StatusServiceUnavailable || !json.Valid([]byte(r.body)) || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d body %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
}

// TestAuthProxyIntrospection gates on an RFC 7662 endpoint through Caddy
// and checks that answers are cached.
func TestAuthProxyIntrospection(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if id, secret, ok := r.BasicAuth(); !ok || id != "bff" || secret != "s3cret-introspection" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		active := r.PostForm.Get("token") == "opaque-good"
		_ = json.NewEncoder(w).Encode(map[string]any{"active": active, "sub": "svc-1", "scope": "read write"})
	}))
	defer as.Close()
	t.Setenv("INTROSPECT_SECRET", "s3cret-introspection")
	c, base := loadAuthConfig(t, `
:{PORT} {
	auth_proxy {
		introspect `+as.URL+` {
			client_id bff
			client_secret {env.INTROSPECT_SECRET}
			cache_ttl 1m
		}
	}
	respond "scope={http.auth.user.scope} user={http.auth.user.id}"
}`)
	for range 3 {
		r := send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer opaque-good"))
		if r.status != 200 || r.body != "scope=read write user=svc-1" {
			t.Fatalf("good: %d %q", r.status, r.body)
		}
	}
	assertSeed401(t, send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer opaque-bad")), "inactive token")
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("introspection calls = %d, want 2 (one per distinct token)", calls)
	}
}

// TestAuthProxyRefusesEmptySecret: a secret placeholder that resolves to
// nothing makes the config fail to load instead of accepting any token.
func TestAuthProxyRefusesEmptySecret(t *testing.T) {
	c, _ := loadAuthConfig(t, `:{PORT} {
	respond "ok"
}`)
	t.Setenv("CADDYBFF_UNSET_SECRET", "")
	err := c.TryLoad(`:`+freePortString(t)+` {
	auth_proxy {
		jwt {
			secret {env.CADDYBFF_UNSET_SECRET}
		}
	}
	respond "never"
}`, "caddyfile")
	if err == nil || !strings.Contains(err.Error(), "secret resolved to an empty value") {
		t.Fatalf("load error = %v", err)
	}
}
