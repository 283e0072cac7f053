package session

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestIsCookieOctets(t *testing.T) {
	for _, ok := range []string{"abc", "eyJhbGciOi.J9-_~", "a!#$%&'()*+-./:<=>?@[]^_`{|}~z"} {
		if !isCookieOctets(ok) {
			t.Errorf("isCookieOctets(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"a b", "a;b", "a,b", `a"b`, `a\b`, "a\r\nb", "a\tb", "a\x00b", "a\x7fb", "é"} {
		if isCookieOctets(bad) {
			t.Errorf("isCookieOctets(%q) = true, want false", bad)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for _, h := range []string{"localhost", "LOCALHOST:8080", "localhost.", "app.localhost", "127.0.0.1", "127.1.2.3:80", "[::1]:443", "::1"} {
		if !isLoopbackHost(h) {
			t.Errorf("isLoopbackHost(%q) = false", h)
		}
	}
	for _, h := range []string{"", "example.com", "localhost.example.com", "mylocalhost", "10.0.0.1", "[::2]", "0.0.0.0"} {
		if isLoopbackHost(h) {
			t.Errorf("isLoopbackHost(%q) = true", h)
		}
	}
}

func TestCookieProvision(t *testing.T) {
	var c Cookie
	if err := c.provision(); err != nil {
		t.Fatal(err)
	}
	if c.Name != "_token" || c.Path != "/" || !*c.HTTPOnly || !*c.Secure {
		t.Fatalf("defaults: %+v", c)
	}
	hp := Cookie{Name: "sid", HostPrefix: true}
	if err := hp.provision(); err != nil || hp.Name != "__Host-sid" {
		t.Fatalf("host_prefix: name %q, err %v", hp.Name, err)
	}
	off := false
	bad := []struct {
		c    Cookie
		want string
	}{
		{Cookie{HostPrefix: true, Domain: "example.com"}, "forbids a domain"},
		{Cookie{Name: "__Host-x", Path: "/a"}, "requires path /"},
		{Cookie{Name: "__Secure-x", Secure: &off}, "__Secure- prefix requires cookie_secure on"},
		{Cookie{SameSite: "none", Secure: &off}, "same_site none requires cookie_secure on"},
		{Cookie{SameSite: "sometimes"}, "must be lax, strict or none"},
		{Cookie{Insecure: true}, "only with cookie_secure off"},
		{Cookie{Name: "a b"}, "cookie name"},
		{Cookie{Path: "nope"}, "must start with /"},
		{Cookie{Path: "/a;Secure"}, "must start with /"},
		{Cookie{Domain: "exa_mple.com"}, "must be a host name"},
		{Cookie{MaxAge: caddy.Duration(401 * 24 * time.Hour)}, "400 days"},
		{Cookie{MaxAge: caddy.Duration(-time.Second)}, "400 days"},
	}
	for _, tc := range bad {
		err := tc.c.provision()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("provision(%+v) = %v, want an error containing %q", tc.c, err, tc.want)
		}
	}
}
