package tokenverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

func caddyCtx(t testing.TB) caddy.Context {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

type testKeys struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsaPEM  string
	ecPEM   string
	edPEM   string
	otherRS *rsa.PrivateKey
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	k := &testKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.otherRS, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	k.rsaPEM = publicPEM(t, &k.rsa.PublicKey)
	k.ecPEM = publicPEM(t, &k.ec.PublicKey)
	k.edPEM = publicPEM(t, k.ed.Public())
	return k
}

func publicPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// claimsFor builds a token valid now for the given issuer and audience.
func claimsFor(t testing.TB, mutate func(b *jwt.Builder) *jwt.Builder) jwt.Token {
	t.Helper()
	now := time.Now()
	b := jwt.NewBuilder().
		Subject("user-42").
		Issuer("https://issuer.test").
		Audience([]string{"caddy-bff"}).
		IssuedAt(now.Add(-time.Minute)).
		NotBefore(now.Add(-time.Minute)).
		Expiration(now.Add(time.Hour)).
		Claim("email", "ada@example.test").
		Claim("role", "admin")
	if mutate != nil {
		b = mutate(b)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sign(t testing.TB, tok jwt.Token, alg jwa.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	var opts []jwt.Option
	if kid != "" {
		hdr := jws.NewHeaders()
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, jws.WithProtectedHeaders(hdr))
	}
	buf, err := jwt.Sign(tok, jwt.WithKey(alg, key, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func provisioned(t testing.TB, v *Verifier) *Verifier {
	t.Helper()
	if err := v.Provision(caddyCtx(t)); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return v
}

func TestJWTTable(t *testing.T) {
	k := newTestKeys(t)
	rules := ClaimRules{Issuers: []string{"https://issuer.test"}, Audiences: []string{"caddy-bff"}}
	hmac := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, ClaimRules: rules}})
	rsaV := provisioned(t, &Verifier{JWT: &JWT{PublicKeysPEM: []string{k.rsaPEM}, ClaimRules: rules}})
	ecV := provisioned(t, &Verifier{JWT: &JWT{PublicKeysPEM: []string{k.ecPEM}, ClaimRules: rules}})
	edV := provisioned(t, &Verifier{JWT: &JWT{PublicKeysPEM: []string{k.edPEM}, ClaimRules: rules}})
	// A verifier that (wrongly, but possibly) pins HS256 next to RS256: the
	// RSA key must still never serve as an HMAC secret.
	mixed := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, PublicKeysPEM: []string{k.rsaPEM}, Algorithms: []string{"RS256", "HS256"}, ClaimRules: rules}})

	valid := claimsFor(t, nil)
	hsToken := sign(t, valid, jwa.HS256(), []byte(testSecret), "")
	parts := strings.Split(hsToken, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)
	payload["role"] = "superuser"
	tamperedPayload, _ := json.Marshal(payload)

	cases := []struct {
		name   string
		v      *Verifier
		token  string
		reason string // empty: must verify
	}{
		{"HS256 valid", hmac, hsToken, ""},
		{"RS256 valid", rsaV, sign(t, valid, jwa.RS256(), k.rsa, ""), ""},
		{"ES256 valid", ecV, sign(t, valid, jwa.ES256(), k.ec, ""), ""},
		{"EdDSA valid", edV, sign(t, valid, jwa.EdDSA(), k.ed, ""), ""},
		{"expired", hmac, sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
			return b.Expiration(time.Now().Add(-time.Minute))
		}), jwa.HS256(), []byte(testSecret), ""), "token expired"},
		{"not yet valid", hmac, sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
			return b.NotBefore(time.Now().Add(10 * time.Minute))
		}), jwa.HS256(), []byte(testSecret), ""), "token not yet valid"},
		{"issued in the future", hmac, sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
			return b.IssuedAt(time.Now().Add(10 * time.Minute))
		}), jwa.HS256(), []byte(testSecret), ""), "token issued in the future"},
		{"wrong issuer", hmac, sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer("https://evil.test")
		}), jwa.HS256(), []byte(testSecret), ""), "issuer not accepted"},
		{"wrong audience", hmac, sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
			return b.Audience([]string{"someone-else"})
		}), jwa.HS256(), []byte(testSecret), ""), "audience not accepted"},
		{"wrong HMAC key", hmac, sign(t, valid, jwa.HS256(), []byte(strings.Repeat("x", 40)), ""), "signature invalid"},
		{"wrong RSA key", rsaV, sign(t, valid, jwa.RS256(), k.otherRS, ""), "signature invalid"},
		{"alg none", hmac, b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", "algorithm not allowed"},
		{"alg none on RSA verifier", rsaV, b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", "algorithm not allowed"},
		{"HS256 signed with the RSA public key as secret", rsaV, sign(t, valid, jwa.HS256(), []byte(k.rsaPEM), ""), "algorithm not allowed"},
		{"HS256 signed with the RSA public key, HS256 pinned", mixed, sign(t, valid, jwa.HS256(), []byte(k.rsaPEM), ""), "signature invalid"},
		{"tampered payload", hmac, parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2], "signature invalid"},
		{"RS256 token on HMAC verifier", hmac, sign(t, valid, jwa.RS256(), k.rsa, ""), "algorithm not allowed"},
		{"garbage", hmac, "not-a-jwt", "malformed token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := tc.v.Verify(context.Background(), tc.token)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if claims["sub"] != "user-42" || claims["email"] != "ada@example.test" {
					t.Fatalf("claims = %v", claims)
				}
				return
			}
			if err == nil {
				t.Fatalf("token accepted, want refusal (%s); claims %v", tc.reason, claims)
			}
			t.Logf("refused: %v", err)
			if claims != nil {
				t.Fatalf("claims returned with error: %v", claims)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q, want reason %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), tc.token) || strings.Contains(err.Error(), testSecret) {
				t.Fatal("error leaks the token or the secret")
			}
		})
	}
}

func TestJWTLeeway(t *testing.T) {
	v := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, ClaimRules: ClaimRules{Leeway: caddy.Duration(time.Minute)}}})
	tok := sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
		return b.Expiration(time.Now().Add(-20 * time.Second))
	}), jwa.HS256(), []byte(testSecret), "")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("expired 20s ago with 1m leeway: %v", err)
	}
	strict := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret}})
	if _, err := strict.Verify(context.Background(), tok); err == nil {
		t.Fatal("expired token accepted without leeway")
	}
}

func TestJWTRequiredClaims(t *testing.T) {
	v := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, ClaimRules: ClaimRules{RequiredClaims: []string{"email", "tenant"}}}})
	tok := sign(t, claimsFor(t, nil), jwa.HS256(), []byte(testSecret), "")
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "required claim missing") {
		t.Fatalf("missing tenant: err = %v", err)
	}
	tok = sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder { return b.Claim("tenant", "t1") }), jwa.HS256(), []byte(testSecret), "")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionRefusals(t *testing.T) {
	k := newTestKeys(t)
	t.Setenv("CADDYBFF_EMPTY_SECRET", "")
	t.Setenv("CADDYBFF_GOOD_SECRET", testSecret)
	cases := []struct {
		name string
		v    Verifier
		want string
	}{
		{"no mode", Verifier{}, "jwt or introspect block is required"},
		{"both modes", Verifier{JWT: &JWT{Secret: testSecret}, Introspect: &Introspect{URL: "https://x.test"}}, "not both"},
		{"no key", Verifier{JWT: &JWT{}}, "no key"},
		{"empty env secret", Verifier{JWT: &JWT{Secret: "{env.CADDYBFF_EMPTY_SECRET}"}}, "empty value"},
		{"short secret", Verifier{JWT: &JWT{Secret: "short"}}, "at least 32"},
		{"alg none", Verifier{JWT: &JWT{Secret: testSecret, Algorithms: []string{"none"}}}, "never accepted"},
		{"HS256 with RSA key only", Verifier{JWT: &JWT{PublicKeysPEM: []string{k.rsaPEM}, Algorithms: []string{"HS256"}}}, "no configured key"},
		{"jwks without algorithms", Verifier{JWT: &JWT{JWKSURL: "http://127.0.0.1:1/jwks"}}, "algorithms is required"},
		{"private key", Verifier{JWT: &JWT{PublicKeysPEM: []string{privatePEM(t, k.rsa)}}}, "private key"},
		{"introspect secret empty", Verifier{Introspect: &Introspect{URL: "https://x.test", ClientID: "a", ClientSecret: "{env.CADDYBFF_EMPTY_SECRET}"}}, "empty value"},
		{"introspect relative url", Verifier{Introspect: &Introspect{URL: "/introspect"}}, "absolute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Provision(caddyCtx(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	v := provisioned(t, &Verifier{JWT: &JWT{Secret: "{env.CADDYBFF_GOOD_SECRET}"}})
	if _, err := v.Verify(context.Background(), sign(t, claimsFor(t, nil), jwa.HS256(), []byte(testSecret), "")); err != nil {
		t.Fatalf("secret from env: %v", err)
	}
}

func privatePEM(t testing.TB, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// jwksServer serves a JWKS that the test can swap, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...any) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

// set publishes the public halves of keys, given as kid, private key pairs.
func (s *jwksServer) set(t testing.TB, kidsAndKeys ...any) {
	t.Helper()
	set := jwk.NewSet()
	for i := 0; i < len(kidsAndKeys); i += 2 {
		key, err := jwk.PublicKeyOf(kidsAndKeys[i+1])
		if err != nil {
			t.Fatal(err)
		}
		_ = key.Set(jwk.KeyIDKey, kidsAndKeys[i].(string))
		_ = key.Set(jwk.AlgorithmKey, jwa.RS256())
		if err := set.AddKey(key); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = buf
	s.mu.Unlock()
}

func TestJWKSRotation(t *testing.T) {
	k := newTestKeys(t)
	srv := newJWKSServer(t, "k1", k.rsa)
	v := provisioned(t, &Verifier{JWT: &JWT{
		JWKSURL:                srv.URL,
		Algorithms:             []string{"RS256"},
		JWKSMinRefreshInterval: caddy.Duration(time.Millisecond),
		// RS256 signatures are deterministic, so the same token comes back
		// below: without the verified-token cache its key is looked up again.
		CacheTTL: -1,
	}})
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, claimsFor(t, nil), jwa.RS256(), k.rsa, "k1")); err != nil {
		t.Fatalf("k1: %v", err)
	}
	// The identity provider rotates: k2 replaces k1.
	srv.set(t, "k2", k.otherRS)
	time.Sleep(5 * time.Millisecond)
	if _, err := v.Verify(ctx, sign(t, claimsFor(t, nil), jwa.RS256(), k.otherRS, "k2")); err != nil {
		t.Fatalf("k2 after rotation: %v", err)
	}
	// A token claiming kid k2 but signed with the retired key fails.
	if _, err := v.Verify(ctx, sign(t, claimsFor(t, nil), jwa.RS256(), k.rsa, "k2")); err == nil {
		t.Fatal("token signed with the retired key accepted under the new kid")
	}
	// The retired k1 is gone from the set once the refetch happened.
	time.Sleep(5 * time.Millisecond)
	if _, err := v.Verify(ctx, sign(t, claimsFor(t, nil), jwa.RS256(), k.rsa, "k1")); err == nil {
		t.Fatal("token signed with the retired k1 accepted after rotation")
	}
}

func TestJWKSUnknownKidRefreshIsRateLimited(t *testing.T) {
	k := newTestKeys(t)
	srv := newJWKSServer(t, "k1", k.rsa)
	v := provisioned(t, &Verifier{JWT: &JWT{
		JWKSURL:                srv.URL,
		Algorithms:             []string{"RS256"},
		JWKSMinRefreshInterval: caddy.Duration(time.Hour),
	}})
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches after provision = %d, want 1", got)
	}
	for i := 0; i < 20; i++ {
		tok := sign(t, claimsFor(t, nil), jwa.RS256(), k.otherRS, "forged-"+string(rune('a'+i)))
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatal("forged kid accepted")
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches after 20 unknown kids = %d, want 1 (rate-limited)", got)
	}
	if _, err := v.Verify(context.Background(), sign(t, claimsFor(t, nil), jwa.RS256(), k.rsa, "k1")); err != nil {
		t.Fatalf("known kid: %v", err)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	k := newTestKeys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	v := provisioned(t, &Verifier{JWT: &JWT{JWKSURL: srv.URL, Algorithms: []string{"RS256"}, JWKSMinRefreshInterval: caddy.Duration(time.Millisecond)}})
	_, err := v.Verify(context.Background(), sign(t, claimsFor(t, nil), jwa.RS256(), k.rsa, "k1"))
	if !Unavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestIntrospection(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "bff" || secret != "client-secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token_type_hint") != "access_token" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PostForm.Get("token") {
		case "good":
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "user-7", "iss": "https://as.test", "exp": time.Now().Add(time.Hour).Unix()})
		case "expired":
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "user-8", "exp": time.Now().Add(-time.Hour).Unix()})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
		}
	}))
	defer srv.Close()
	t.Setenv("CADDYBFF_INTROSPECT_SECRET", "client-secret")
	v := provisioned(t, &Verifier{Introspect: &Introspect{
		URL: srv.URL, ClientID: "bff", ClientSecret: "{env.CADDYBFF_INTROSPECT_SECRET}",
		ClaimRules: ClaimRules{Issuers: []string{"https://as.test"}},
	}})
	ctx := context.Background()
	claims, err := v.Verify(ctx, "good")
	if err != nil || claims["sub"] != "user-7" {
		t.Fatalf("good: %v %v", claims, err)
	}
	if _, present := claims["active"]; present {
		t.Fatal("active member leaked into claims")
	}
	if _, err := v.Verify(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("endpoint calls = %d, want 1 (second answer cached)", got)
	}
	if _, err := v.Verify(ctx, "revoked"); err == nil || !strings.Contains(err.Error(), "not active") {
		t.Fatalf("inactive: %v", err)
	}
	if _, err := v.Verify(ctx, "expired"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	// The cache key is a hash: the token itself is not stored.
	for key := range v.Introspect.cache.entries {
		if strings.Contains(string(key[:]), "good") {
			t.Fatal("token stored in clear in the cache")
		}
	}
}

func TestIntrospectionUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	v := provisioned(t, &Verifier{Introspect: &Introspect{URL: srv.URL}})
	_, err := v.Verify(context.Background(), "tok")
	if !Unavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if v.Introspect.cache.len() != 0 {
		t.Fatal("an unavailable answer was cached")
	}
}

func TestAnswerCacheBounded(t *testing.T) {
	c := newAnswerCache(100)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		var key [32]byte
		key[0], key[1] = byte(i), byte(i>>8)
		c.put(key, cachedAnswer{expires: now.Add(time.Minute)}, now)
		if c.len() > 100 {
			t.Fatalf("cache grew to %d entries", c.len())
		}
	}
}

func TestJWTVerifiedTokenCache(t *testing.T) {
	v := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret}})
	ctx := context.Background()
	short := sign(t, claimsFor(t, func(b *jwt.Builder) *jwt.Builder {
		return b.Expiration(time.Now().Add(1500 * time.Millisecond))
	}), jwa.HS256(), []byte(testSecret), "")
	if _, err := v.Verify(ctx, short); err != nil {
		t.Fatal(err)
	}
	if v.JWT.cache.len() != 1 {
		t.Fatalf("cache entries = %d, want 1", v.JWT.cache.len())
	}
	// A refused token is not cached.
	if _, err := v.Verify(ctx, short+"x"); err == nil {
		t.Fatal("tampered signature accepted")
	}
	if v.JWT.cache.len() != 1 {
		t.Fatalf("refused token cached")
	}
	// The cached answer never outlives the token's exp.
	time.Sleep(1600 * time.Millisecond)
	if _, err := v.Verify(ctx, short); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token from cache: err = %v", err)
	}

	off := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, CacheTTL: -1}})
	if _, err := off.Verify(ctx, short); err == nil {
		t.Fatal("expired token accepted with the cache off")
	}
	if off.JWT.cache != nil {
		t.Fatal("cache_ttl -1 still caches")
	}
}

func TestIntrospectionCoalescesConcurrentMisses(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "s"})
	}))
	defer srv.Close()
	v := provisioned(t, &Verifier{Introspect: &Introspect{URL: srv.URL}})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), "same-token")
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("endpoint calls = %d, want 1", got)
	}
}
