package integration

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuthExampleProxyTS runs examples/proxy-ts.Caddyfile: the seed's
// proxy.ts with matcher '/api/:function*' answering 401 JSON.
func TestAuthExampleProxyTS(t *testing.T) {
	up := startUpstream(t)
	c, base := loadExample(t, "proxy-ts.Caddyfile", up.URL)
	token := mintToken(t, tokenSpec{sub: "user-42"})

	// Unauthenticated API requests get the seed's answer, whatever the
	// spelling of the path. (Like Next.js, path_pattern matches
	// case-sensitively: /API/hello is not under /api, and Next.js's
	// case-sensitive router does not serve /api/hello for it.)
	for _, path := range []string{"/api", "/api/hello", "/api/a/b", "//api/hello", "/x/../api/hello", "/x/%2e%2e/api/hello", "/api/", "/api%2Fhello"} {
		r := send(t, c.Client, http.MethodGet, base+path)
		assertSeed401(t, r, path)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="caddy-bff"` {
			t.Fatalf("%s: WWW-Authenticate %q", path, got)
		}
	}
	// A bad bearer token is named as such.
	r := send(t, c.Client, http.MethodGet, base+"/api/hello", withHeader("Authorization", "Bearer "+token+"x"))
	assertSeed401(t, r, "tampered bearer")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="caddy-bff", error="invalid_token"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}

	// Authenticated by bearer or by the session cookie, the request reaches
	// the app with the verified user id, and a spoofed one is gone.
	for _, cred := range []reqOpt{withHeader("Authorization", "Bearer "+token), withCookie("_token", token)} {
		seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/api/hello?x=1", cred, withHeader("X-User-Id", "admin"), withHeader("X-User-Id", "root")))
		if seen.Path != "/api/hello" || seen.Query != "x=1" {
			t.Fatalf("upstream saw %s?%s", seen.Path, seen.Query)
		}
		if got := seen.Headers["X-User-Id"]; len(got) != 1 || got[0] != "user-42" {
			t.Fatalf("X-User-Id at upstream = %v, want [user-42]", got)
		}
	}

	// Outside the matcher nothing is asked, and a spoofed identity header
	// is dropped there too.
	seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/about", withHeader("X-User-Id", "admin")))
	if seen.Path != "/about" {
		t.Fatalf("upstream saw %s", seen.Path)
	}
	if got := seen.Headers["X-User-Id"]; len(got) != 0 {
		t.Fatalf("spoofed X-User-Id reached the upstream outside the matcher: %v", got)
	}

	// A CORS preflight is answered at the edge: 204, nothing from the app.
	if r := send(t, c.Client, http.MethodOptions, base+"/api/hello",
		withHeader("Origin", "https://app.example"), withHeader("Access-Control-Request-Method", "POST"), withHeader("X-User-Id", "admin")); r.status != http.StatusNoContent || r.body != "" {
		t.Fatalf("preflight: status %d body %q, want 204 from the edge", r.status, r.body)
	}
	// An OPTIONS that is not a preflight is authenticated.
	assertSeed401(t, send(t, c.Client, http.MethodOptions, base+"/api/hello"), "plain OPTIONS")

	// The error answer reflects no request header.
	r = send(t, c.Client, http.MethodGet, base+"/api/hello", withHeader("X-Canary", "canary-7f3a"), withHeader("Origin", "https://canary-origin.example"))
	for name, values := range r.header {
		for _, v := range values {
			if strings.Contains(v, "canary") {
				t.Fatalf("request header reflected in %s: %s", name, v)
			}
		}
	}
}

// TestAuthExampleRedirectToLogin runs examples/redirect-to-login.Caddyfile.
func TestAuthExampleRedirectToLogin(t *testing.T) {
	up := startUpstream(t)
	c, base := loadExample(t, "redirect-to-login.Caddyfile", up.URL)
	token := mintToken(t, tokenSpec{sub: "user-7"})

	// `not authenticated` + redir.
	r := send(t, c.Client, http.MethodGet, base+"/dashboard/reports?range=7d&x=1")
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("dashboard: status %d", r.status)
	}
	if got := r.header.Get("Location"); got != "/login?next=%2Fdashboard%2Freports%3Frange%3D7d%26x%3D1" {
		t.Fatalf("dashboard: Location %q", got)
	}
	// The page's Next.js data route is gated with it.
	r = send(t, c.Client, http.MethodGet, base+"/_next/data/build-1/dashboard/reports.json")
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("data route of a gated page: status %d", r.status)
	}
	// A forged token is not a session.
	r = send(t, c.Client, http.MethodGet, base+"/dashboard", withCookie("_token", "forged.token.value"))
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("forged token: status %d", r.status)
	}
	seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/dashboard", withCookie("_token", token)))
	if seen.Path != "/dashboard" {
		t.Fatalf("upstream saw %s", seen.Path)
	}

	// auth_proxy's on_fail redirect.
	r = send(t, c.Client, http.MethodGet, base+"/settings/profile?tab=a")
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("settings: status %d", r.status)
	}
	if got := r.header.Get("Location"); got != "/login?next=%2Fsettings%2Fprofile%3Ftab%3Da" {
		t.Fatalf("settings: Location %q", got)
	}
	seen = upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/settings/profile", withHeader("Authorization", "Bearer "+token)))
	if seen.Path != "/settings/profile" {
		t.Fatalf("upstream saw %s", seen.Path)
	}
	// The login page itself is not gated.
	if seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/login")); seen.Path != "/login" {
		t.Fatalf("upstream saw %s", seen.Path)
	}
}

// TestAuthExampleRewrite runs examples/rewrite.Caddyfile.
func TestAuthExampleRewrite(t *testing.T) {
	up := startUpstream(t)
	c, base := loadExample(t, "rewrite.Caddyfile", up.URL)
	seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/account/billing"))
	if seen.Path != "/login" {
		t.Fatalf("anonymous /account/billing reached %s, want the login page", seen.Path)
	}
	seen = upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/account/billing", withCookie("_token", mintToken(t, tokenSpec{sub: "user-9"})), withHeader("X-User-Id", "admin")))
	if seen.Path != "/account/billing" {
		t.Fatalf("signed-in /account/billing reached %s", seen.Path)
	}
	if got := seen.Headers["X-User-Id"]; len(got) != 1 || got[0] != "user-9" {
		t.Fatalf("X-User-Id = %v", got)
	}
}

// TestAuthExampleNextjsMatcher runs examples/nextjs-matcher.Caddyfile with
// the negative-lookahead matcher from the Next.js docs.
func TestAuthExampleNextjsMatcher(t *testing.T) {
	up := startUpstream(t)
	c, base := loadExample(t, "nextjs-matcher.Caddyfile", up.URL)
	for _, path := range []string{"/", "/dashboard", "/blog/post-1", "/_next/data/build/index.json"} {
		r := send(t, c.Client, http.MethodGet, base+path)
		if r.status != http.StatusTemporaryRedirect || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
			t.Fatalf("%s: status %d Location %q, want a redirect to the login page", path, r.status, r.header.Get("Location"))
		}
	}
	for _, path := range []string{"/api/users", "/_next/static/chunks/main.js", "/_next/image", "/favicon.ico", "/login"} {
		if seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+path)); seen.Path != path {
			t.Fatalf("%s: upstream saw %s", path, seen.Path)
		}
	}
	seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/dashboard", withCookie("_token", mintToken(t, tokenSpec{sub: "user-3"}))))
	if got := seen.Headers["X-User-Id"]; len(got) != 1 || got[0] != "user-3" {
		t.Fatalf("X-User-Id = %v", got)
	}
}
