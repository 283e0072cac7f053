package redirect

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

func testPolicy(t testing.TB) *Policy {
	t.Helper()
	p := &Policy{
		AllowedOrigins: []string{
			"https://accounts.example.com",
			"http://localhost:3000",
			"https://*.apps.example.net",
			"https://[2001:db8::1]:8443",
		},
		Default: "/home",
	}
	if err := p.Provision(); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return p
}

func TestResolve(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		name   string
		target string
		ok     bool
	}{
		// Same-origin paths.
		{"root", "/", true},
		{"path", "/dashboard", true},
		{"path with query and fragment", "/a/b?x=1&y=%2F%2Fz#frag", true},
		{"encoded space", "/a%20b", true},
		{"literal percent encoded once", "/100%25", true},
		{"encoded utf-8", "/caf%C3%A9", true},
		{"double slash later in path", "/a//b", true},
		{"colon in path", "/a:b", true},

		// Scheme-relative and slash tricks.
		{"scheme-relative", "//evil.example", false},
		{"triple slash", "///evil.example", false},
		{"slash backslash", "/\\evil.example", false},
		{"backslash slash", "\\/evil.example", false},
		{"double backslash", "\\\\evil.example", false},
		{"backslash later", "/a\\b", false},
		{"encoded second slash", "/%2Fevil.example", false},
		{"encoded second slash lower", "/%2fevil.example", false},
		{"encoded backslash", "/%5Cevil.example", false},
		{"double-encoded slash", "/%252Fevil.example", false},
		{"triple-encoded backslash", "/%25255Cevil.example", false},
		{"encoded slashes only", "%2F%2Fevil.example", false},
		{"dot segment escape", "/..//evil.example", false},
		{"dot segment", "/a/./b", false},
		{"encoded dot segment", "/%2e%2e/%2Fevil.example", false},
		{"bad escape", "/%zz", false},

		// Control characters, spaces, non-ASCII.
		{"tab inside slashes", "/\t/evil.example", false},
		{"newline inside slashes", "/\n/evil.example", false},
		{"CRLF injection", "/\r\nSet-Cookie: x=y", false},
		{"encoded CRLF", "/a%0d%0aSet-Cookie:%20x=y", false},
		{"encoded tab", "/%09/evil.example", false},
		{"NUL", "/a\x00b", false},
		{"DEL", "/a\x7fb", false},
		{"leading space", " //evil.example", false},
		{"space inside", "/a b", false},
		{"non-ASCII", "/café", false},
		{"fullwidth solidus", "/\uff0fevil.example", false},

		// Schemes.
		{"javascript", "javascript:alert(1)", false},
		{"javascript with slashes", "javascript://accounts.example.com/%0aalert(1)", false},
		{"data", "data:text/html,<script>alert(1)</script>", false},
		{"vbscript", "vbscript:msgbox(1)", false},
		{"file", "file:///etc/passwd", false},
		{"ftp allowed host", "ftp://accounts.example.com/", false},
		{"relative path", "dashboard", false},
		{"query only", "?x=1", false},
		{"empty", "", false},

		// Absolute URLs.
		{"allowlisted", "https://accounts.example.com/after?x=1#y", true},
		{"allowlisted upper-case", "HTTPS://ACCOUNTS.example.com/after", true},
		{"allowlisted explicit default port", "https://accounts.example.com:443/", true},
		{"allowlisted no path", "https://accounts.example.com", true},
		{"allowlisted wrong scheme", "http://accounts.example.com/", false},
		{"allowlisted wrong port", "https://accounts.example.com:8443/", false},
		{"allowlisted with port", "http://localhost:3000/x", true},
		{"port missing", "http://localhost/x", false},
		{"lookalike suffix", "https://accounts.example.com.evil.example/", false},
		{"lookalike prefix", "https://evilaccounts.example.com/", false},
		{"trailing dot", "https://accounts.example.com./", false},
		{"userinfo", "https://accounts.example.com@evil.example/", false},
		{"userinfo allowed host", "https://evil.example@accounts.example.com/", false},
		{"userinfo with port", "https://accounts.example.com:443@evil.example/", false},
		{"encoded host", "https://%61ccounts.example.com/", false},
		{"encoded at", "https://accounts.example.com%40evil.example/", false},
		{"missing slashes", "https:accounts.example.com", false},
		{"missing slashes evil", "https:evil.example", false},
		{"one slash", "https:/evil.example", false},
		{"three slashes", "https:///evil.example", false},
		{"backslash authority", "https:\\\\evil.example", false},
		{"backslash after host", "https://accounts.example.com\\@evil.example/", false},
		{"fragment trick", "https://evil.example#@accounts.example.com", false},
		{"query trick", "https://evil.example?@accounts.example.com", false},
		{"empty host", "https:///", false},
		{"not allowlisted", "https://evil.example/", false},
		{"wildcard subdomain", "https://a.apps.example.net/x", true},
		{"wildcard deep subdomain", "https://a.b.apps.example.net/x", true},
		{"wildcard parent", "https://apps.example.net/x", false},
		{"wildcard empty label", "https://.apps.example.net/x", false},
		{"wildcard double dot", "https://a..apps.example.net/x", false},
		{"wildcard wrong scheme", "http://a.apps.example.net/x", false},
		{"wildcard lookalike", "https://aapps.example.net/x", false},
		{"ipv6 allowlisted", "https://[2001:db8::1]:8443/x", true},
		{"ipv6 other spelling", "https://[2001:db8:0::1]:8443/x", true},
		{"ipv6 other port", "https://[2001:db8::1]/x", false},
		{"decimal ip", "https://2130706433/", false},
		{"too long", "/" + strings.Repeat("a", MaxTargetLength), false},

		// The request's own origin (the test request is https://app.example.org).
		{"own origin", "https://app.example.org/x", true},
		{"own origin other scheme", "http://app.example.org/x", false},
		{"own origin other port", "https://app.example.org:444/x", false},
		{"own origin mixed case", "https://App.eXAmple.org/x", true},
		{"absolute double slash path", "https://app.example.org//evil.example", false},
		{"allowlisted double slash path", "https://accounts.example.com//evil.example", false},
		{"allowlisted encoded double slash path", "https://accounts.example.com/%2F%2Fevil.example", false},
		{"allowlisted dot segment", "https://accounts.example.com/a/../b", false},
		{"allowlisted query", "https://accounts.example.com?next=/x", true},
		{"allowlisted encoded CRLF", "https://accounts.example.com/%0d%0a", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://app.example.org/auth/callback", nil)
			r.TLS = &tls.ConnectionState{}
			got, ok := p.Resolve(r, tc.target)
			if ok != tc.ok {
				t.Fatalf("Resolve(%q): ok=%v, want %v (got %q)", tc.target, ok, tc.ok, got)
			}
			if ok && got != tc.target {
				t.Fatalf("Resolve(%q) = %q, want the target unchanged", tc.target, got)
			}
			if !ok && got != "/home" {
				t.Fatalf("Resolve(%q) = %q, want the default /home", tc.target, got)
			}
			assertLandsSafely(t, p, "https://app.example.org/auth/callback", got)
		})
	}
}

func TestZeroPolicy(t *testing.T) {
	var p Policy
	r := httptest.NewRequest("GET", "http://app.example.org/cb", nil)
	if got, ok := p.Resolve(r, "https://evil.example/"); ok || got != "/" {
		t.Fatalf("zero policy: got %q, %v; want \"/\", false", got, ok)
	}
	if got, ok := p.Resolve(r, "/x"); !ok || got != "/x" {
		t.Fatalf("zero policy: got %q, %v; want \"/x\", true", got, ok)
	}
}

func TestProvisionErrors(t *testing.T) {
	bad := []struct {
		entry, want string
	}{
		{"evil.example", "must start with http:// or https://"},
		{"ftp://evil.example", "must start with http:// or https://"},
		{"javascript://x", "must start with http:// or https://"},
		{"https://evil.example/path", "without path"},
		{"https://evil.example?x", "without path"},
		{"https://user@evil.example", "not allowed in a host name"},
		{"https://*.com", "at least two labels"},
		{"https://*.127.0.0.1", "not an IP address"},
		{"https://a.*.example.com", "not allowed in a host name"},
		{"https://*example.com", "not allowed in a host name"},
		{"https://", "empty host"},
		{"https://example.com:0", "invalid port"},
		{"https://example.com:99999", "invalid port"},
		{"https://example.com:+1", "invalid port"},
		{"https://example.com:http", "invalid port"},
		{"https://[::1", "unclosed IPv6"},
		{"https://[1.2.3.4]", "invalid IPv6"},
		{"https://exa mple.com", "printable ASCII"},
		{"https://bücher.example", "printable ASCII"},
	}
	for _, tc := range bad {
		err := ValidateOrigin(tc.entry)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateOrigin(%q) = %v, want an error containing %q", tc.entry, err, tc.want)
		}
		p := Policy{AllowedOrigins: []string{tc.entry}}
		if err := p.Provision(); err == nil {
			t.Errorf("Provision accepted allowlist entry %q", tc.entry)
		}
	}
	good := []string{"https://example.com", "https://example.com/", "HTTP://Example.COM:8080", "https://*.example.com:8443", "http://127.0.0.1:3000", "https://[::1]:8443"}
	for _, entry := range good {
		if err := ValidateOrigin(entry); err != nil {
			t.Errorf("ValidateOrigin(%q) = %v, want nil", entry, err)
		}
	}

	for _, def := range []string{"//evil.example", "https://evil.example/", "javascript:alert(1)", "home"} {
		p := Policy{AllowedOrigins: []string{"https://accounts.example.com"}, Default: def}
		if err := p.Provision(); err == nil || !strings.Contains(err.Error(), "not a safe target") {
			t.Errorf("Provision with default %q: %v, want a refusal", def, err)
		}
		if err := p.Validate(); err == nil {
			t.Errorf("Validate with default %q: nil, want a refusal", def)
		}
	}
	for _, def := range []string{"/", "/welcome?x=1", "https://accounts.example.com/home"} {
		p := Policy{AllowedOrigins: []string{"https://accounts.example.com"}, Default: def}
		if err := p.Provision(); err != nil {
			t.Errorf("Provision with default %q: %v", def, err)
		}
		if p.DefaultTarget() != def {
			t.Errorf("DefaultTarget() = %q, want %q", p.DefaultTarget(), def)
		}
	}
}
