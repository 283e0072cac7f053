package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// assertExpiresCookie checks that r removes the cookie name: empty value,
// Max-Age=0, an Expires in the past, and the given path.
func assertExpiresCookie(t *testing.T, r reply, name, path string) map[string]string {
	t.Helper()
	v, attrs := setCookie(t, r, name)
	if v != "" || attrs["max-age"] != "0" || attrs["path"] != path {
		t.Errorf("Set-Cookie %s: value %q attributes %v, want an empty value, Max-Age=0, Path=%s", name, v, attrs, path)
	}
	if !strings.Contains(attrs["expires"], "1970") {
		t.Errorf("Set-Cookie %s: Expires %q, want a date in the past", name, attrs["expires"])
	}
	return attrs
}

func TestSessionLogoutExpiresCookieAndRedirects(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout {\n\tredirect_allowed_origins https://accounts.example.com\n}")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := s.send(t, method, callbackPath("/logout", "redirect_url", "/bye?x=1"), withHeader("Cookie", "_token=abc"))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/bye?x=1" {
			t.Fatalf("%s: %d Location %q body %q, want 303 to /bye?x=1", method, r.status, r.header.Get("Location"), r.body)
		}
		assertSessionAnswerHeaders(t, r)
		attrs := assertExpiresCookie(t, r, "_token", "/")
		for _, a := range []string{"secure", "httponly"} {
			if _, ok := attrs[a]; !ok {
				t.Errorf("%s: expiring cookie lacks %s (it must match the cookie it replaces): %v", method, a, attrs)
			}
		}
	}
	r := s.send(t, http.MethodGet, callbackPath("/logout", "redirect_url", "https://accounts.example.com/signed-out"))
	if r.header.Get("Location") != "https://accounts.example.com/signed-out" {
		t.Errorf("allowlisted target: Location %q", r.header.Get("Location"))
	}
	r = s.send(t, http.MethodGet, "/logout")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Errorf("no target: %d Location %q, want 303 to /", r.status, r.header.Get("Location"))
	}
}

// Logout redirects obey the same open-redirect rules as the callback.
func TestSessionLogoutOpenRedirect(t *testing.T) {
	const block = "session_logout /logout {\n\tredirect_allowed_origins https://accounts.example.com\n\tredirect_default /signed-out\n%s}"
	s := startSessionServer(t, strings.Replace(block, "%s", "", 1))
	for _, target := range hostileTargets {
		r := s.send(t, http.MethodPost, callbackPath("/logout", "redirect_url", target))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signed-out" {
			t.Errorf("redirect_url %q: %d Location %q, want 303 to /signed-out", target, r.status, r.header.Get("Location"))
		}
		assertExpiresCookie(t, r, "_token", "/")
	}
	s.reload(strings.Replace(block, "%s", "\tredirect_on_invalid reject\n", 1))
	for _, target := range hostileTargets {
		r := s.send(t, http.MethodPost, callbackPath("/logout", "redirect_url", target))
		assertJSONProblem(t, r, http.StatusBadRequest, "the redirect_url parameter is not an allowed redirect target")
		assertSessionAnswerHeaders(t, r)
	}
}

// The logout expires exactly the cookie the callback set: same name (with
// its prefix), path and domain.
func TestSessionLogoutMatchesCallbackCookie(t *testing.T) {
	s := startSessionServer(t, `session_callback /cb {
		cookie_name sid
		cookie_host_prefix
	}
	session_logout /logout {
		cookie_name sid
		cookie_host_prefix
	}`)
	r := s.send(t, http.MethodGet, "/cb?session_token=abc")
	if v, _ := setCookie(t, r, "__Host-sid"); v != "abc" {
		t.Fatalf("callback cookie %q", v)
	}
	r = s.send(t, http.MethodGet, "/logout")
	attrs := assertExpiresCookie(t, r, "__Host-sid", "/")
	if _, ok := attrs["secure"]; !ok {
		t.Errorf("__Host- cookie expired without Secure: browsers would ignore it: %v", attrs)
	}

	s.reload(`session_logout /logout {
		cookie_path /app
		cookie_domain example.com
	}`)
	r = s.send(t, http.MethodGet, "/logout")
	if attrs := assertExpiresCookie(t, r, "_token", "/app"); attrs["domain"] != "example.com" {
		t.Errorf("expiring cookie Domain %q, want example.com", attrs["domain"])
	}
}

// A foreign page cannot log the user out: browsers mark its requests
// Sec-Fetch-Site: cross-site.
func TestSessionLogoutRefusesCrossSite(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout")
	r := s.send(t, http.MethodPost, "/logout", withHeader("Sec-Fetch-Site", "cross-site"))
	assertJSONProblem(t, r, http.StatusForbidden, "cross-site logout requests are refused")
	assertSessionAnswerHeaders(t, r)
	for _, site := range []string{"same-origin", "same-site", "none", ""} {
		var opts []reqOpt
		if site != "" {
			opts = append(opts, withHeader("Sec-Fetch-Site", site))
		}
		r := s.send(t, http.MethodPost, "/logout", opts...)
		if r.status != http.StatusSeeOther {
			t.Errorf("Sec-Fetch-Site %q: status %d, want 303", site, r.status)
		}
	}
	s.reload("session_logout /logout {\n\tallow_cross_site\n}")
	r = s.send(t, http.MethodPost, "/logout", withHeader("Sec-Fetch-Site", "cross-site"))
	if r.status != http.StatusSeeOther {
		t.Errorf("allow_cross_site: status %d, want 303", r.status)
	}
}

func TestSessionLogoutMethodSemantics(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/logout?redirect_url=/x", http.MethodGet, http.MethodPost)
	s.reload("session_logout /logout {\n\tmethods post\n\tredirect_status 307\n}")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/logout", http.MethodPost)
	r := s.send(t, http.MethodGet, "/logout")
	assertJSONProblem(t, r, http.StatusMethodNotAllowed, "method GET is not allowed")
	r = s.send(t, http.MethodPost, "/logout")
	if r.status != http.StatusTemporaryRedirect {
		t.Errorf("redirect_status 307: status %d", r.status)
	}
}

// A JSON config that would not work is refused when Caddy loads it.
func TestSessionLogoutJSONRefusals(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout")
	for bad, want := range map[string]string{
		`"cookie": {"max_age": "1h"}`:                               "max_age has no meaning for session_logout",
		`"methods": ["PUT"]`:                                        "must be GET, POST or DELETE",
		`"redirect": {"on_invalid": "ignore"}`:                      "on_invalid",
		`"redirect": {"default": "https://evil.example/"}`:          "is not a safe target",
		`"cookie": {"name": "__Host-sid", "domain": "example.com"}`: "the __Host- prefix forbids a domain",
	} {
		err := s.caddy.TryLoad(sessionJSONConfig(s.port, `"handler": "session_logout", `+bad), "json")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("JSON config with %s: %v, want a refusal containing %q", bad, err, want)
		}
	}
	r := s.send(t, http.MethodGet, "/logout")
	if r.status != http.StatusSeeOther {
		t.Errorf("after refused loads: status %d, want the Caddyfile config still serving", r.status)
	}
}
