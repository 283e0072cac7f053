package tokenverify

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`jwt {
		secret {env.JWT_SECRET}
		public_key_files /etc/keys/a.pem /etc/keys/b.pem
		jwks_url https://idp.test/.well-known/jwks.json
		jwks_min_refresh_interval 10s
		algorithms HS256 RS256
		issuers https://idp.test
		audiences app1 app2
		required_claims email
		leeway 30s
		cache_ttl 2m
		max_cache_entries 100
	}`)
	var v Verifier
	if err := v.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := &JWT{
		Secret:                 "{env.JWT_SECRET}",
		PublicKeyFiles:         []string{"/etc/keys/a.pem", "/etc/keys/b.pem"},
		JWKSURL:                "https://idp.test/.well-known/jwks.json",
		JWKSMinRefreshInterval: caddy.Duration(10 * time.Second),
		Algorithms:             []string{"HS256", "RS256"},
		CacheTTL:               caddy.Duration(2 * time.Minute),
		MaxCacheEntries:        100,
		ClaimRules: ClaimRules{
			Issuers:        []string{"https://idp.test"},
			Audiences:      []string{"app1", "app2"},
			RequiredClaims: []string{"email"},
			Leeway:         caddy.Duration(30 * time.Second),
		},
	}
	if !reflect.DeepEqual(v.JWT, want) {
		t.Fatalf("got %+v\nwant %+v", v.JWT, want)
	}

	d = caddyfile.NewTestDispenser(`introspect https://as.test/introspect {
		client_id bff
		client_secret {env.CLIENT_SECRET}
		cache_ttl 30s
		timeout 2s
		max_cache_entries 500
		audiences api
	}`)
	v = Verifier{}
	if err := v.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	in := v.Introspect
	if in.URL != "https://as.test/introspect" || in.ClientID != "bff" || in.ClientSecret != "{env.CLIENT_SECRET}" ||
		in.CacheTTL != caddy.Duration(30*time.Second) || in.Timeout != caddy.Duration(2*time.Second) ||
		in.MaxCacheEntries != 500 || !reflect.DeepEqual(in.Audiences, []string{"api"}) {
		t.Fatalf("introspect = %+v", in)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	cases := map[string]string{
		"jwt {\n algorithms none\n}":               "never accepted",
		"jwt {\n algorithms XS999\n}":              "unknown signature algorithm",
		"jwt {\n leeway soon\n}":                   "invalid duration",
		"jwt {\n secret\n}":                        "wrong argument count",
		"jwt {\n bogus 1\n}":                       `unrecognized jwt option "bogus"`,
		"jwt extra":                                "wrong argument count",
		"introspect {\n cache_ttl 1s\n}":           "needs the endpoint URL",
		"introspect u {\n max_cache_entries -1\n}": "positive integer",
		"basic {\n}":                               "expected jwt or introspect",
		"jwt {\n issuer x\n}":                      `unrecognized jwt option "issuer"`,
		"jwt {\n public_key a.pem\n}":              `unrecognized jwt option "public_key"`,
		"jwt {\n alg RS256\n}":                     `unrecognized jwt option "alg"`,
	}
	for input, want := range cases {
		d := caddyfile.NewTestDispenser(input)
		var v Verifier
		err := v.UnmarshalCaddyfile(d)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", input, err, want)
		}
	}
}

func TestSources(t *testing.T) {
	d := caddyfile.NewTestDispenser("token_source header X-Api-Token")
	d.Next()
	src, err := UnmarshalSource(d)
	if err != nil || src != (Source{From: "header", Name: "X-Api-Token"}) {
		t.Fatalf("%v %v", src, err)
	}
	for _, bad := range []string{"token_source", "token_source cookie", "token_source query x", "token_source bearer x"} {
		d := caddyfile.NewTestDispenser(bad)
		d.Next()
		if _, err := UnmarshalSource(d); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
