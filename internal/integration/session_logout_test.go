package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// assertExpiresCookie checks that resp removes the cookie name: empty value,
// Max-Age=0, an Expires in the past, and the given path.
func assertExpiresCookie(t *testing.T, resp *http.Response, name, path string) map[string]string {
	t.Helper()
	v, attrs := setCookie(t, resp, name)
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
		resp, body := s.do(t, method, callbackPath("/logout", "redirect_url", "/bye?x=1"), "Cookie", "_token=abc")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/bye?x=1" {
			t.Fatalf("%s: %d Location %q body %q, want 303 to /bye?x=1", method, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		assertSessionAnswerHeaders(t, resp)
		attrs := assertExpiresCookie(t, resp, "_token", "/")
		for _, a := range []string{"secure", "httponly"} {
			if _, ok := attrs[a]; !ok {
				t.Errorf("%s: expiring cookie lacks %s (it must match the cookie it replaces): %v", method, a, attrs)
			}
		}
	}
	resp, _ := s.do(t, http.MethodGet, callbackPath("/logout", "redirect_url", "https://accounts.example.com/signed-out"))
	if resp.Header.Get("Location") != "https://accounts.example.com/signed-out" {
		t.Errorf("allowlisted target: Location %q", resp.Header.Get("Location"))
	}
	resp, _ = s.do(t, http.MethodGet, "/logout")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("no target: %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Logout redirects obey the same open-redirect rules as the callback.
func TestSessionLogoutOpenRedirect(t *testing.T) {
	const block = "session_logout /logout {\n\tredirect_allowed_origins https://accounts.example.com\n\tredirect_default /signed-out\n%s}"
	s := startSessionServer(t, strings.Replace(block, "%s", "", 1))
	for _, target := range hostileTargets {
		resp, _ := s.do(t, http.MethodPost, callbackPath("/logout", "redirect_url", target))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signed-out" {
			t.Errorf("redirect_url %q: %d Location %q, want 303 to /signed-out", target, resp.StatusCode, resp.Header.Get("Location"))
		}
		assertExpiresCookie(t, resp, "_token", "/")
	}
	s.reload(strings.Replace(block, "%s", "\tredirect_on_invalid reject\n", 1))
	for _, target := range hostileTargets {
		resp, body := s.do(t, http.MethodPost, callbackPath("/logout", "redirect_url", target))
		assertJSONProblem(t, resp, body, http.StatusBadRequest, "the redirect_url parameter is not an allowed redirect target")
		assertSessionAnswerHeaders(t, resp)
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
	resp, _ := s.do(t, http.MethodGet, "/cb?session_token=abc")
	if v, _ := setCookie(t, resp, "__Host-sid"); v != "abc" {
		t.Fatalf("callback cookie %q", v)
	}
	resp, _ = s.do(t, http.MethodGet, "/logout")
	attrs := assertExpiresCookie(t, resp, "__Host-sid", "/")
	if _, ok := attrs["secure"]; !ok {
		t.Errorf("__Host- cookie expired without Secure: browsers would ignore it: %v", attrs)
	}

	s.reload(`session_logout /logout {
		cookie_path /app
		cookie_domain example.com
	}`)
	resp, _ = s.do(t, http.MethodGet, "/logout")
	if attrs := assertExpiresCookie(t, resp, "_token", "/app"); attrs["domain"] != "example.com" {
		t.Errorf("expiring cookie Domain %q, want example.com", attrs["domain"])
	}
}

// A foreign page cannot log the user out: browsers mark its requests
// Sec-Fetch-Site: cross-site.
func TestSessionLogoutRefusesCrossSite(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout")
	resp, body := s.do(t, http.MethodPost, "/logout", "Sec-Fetch-Site", "cross-site")
	assertJSONProblem(t, resp, body, http.StatusForbidden, "cross-site logout requests are refused")
	assertSessionAnswerHeaders(t, resp)
	for _, site := range []string{"same-origin", "same-site", "none", ""} {
		var hdr []string
		if site != "" {
			hdr = []string{"Sec-Fetch-Site", site}
		}
		resp, _ := s.do(t, http.MethodPost, "/logout", hdr...)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("Sec-Fetch-Site %q: status %d, want 303", site, resp.StatusCode)
		}
	}
	s.reload("session_logout /logout {\n\tallow_cross_site\n}")
	resp, _ = s.do(t, http.MethodPost, "/logout", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("allow_cross_site: status %d, want 303", resp.StatusCode)
	}
}

func TestSessionLogoutMethodSemantics(t *testing.T) {
	s := startSessionServer(t, "session_logout /logout")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/logout?redirect_url=/x", http.MethodGet, http.MethodPost)
	s.reload("session_logout /logout {\n\tmethods post\n\tredirect_status 307\n}")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/logout", http.MethodPost)
	resp, body := s.do(t, http.MethodGet, "/logout")
	assertJSONProblem(t, resp, body, http.StatusMethodNotAllowed, "method GET is not allowed")
	resp, _ = s.do(t, http.MethodPost, "/logout")
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect_status 307: status %d", resp.StatusCode)
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
	resp, _ := s.do(t, http.MethodGet, "/logout")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after refused loads: status %d, want the Caddyfile config still serving", resp.StatusCode)
	}
}
