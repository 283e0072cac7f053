package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// The seed's behaviour: the token becomes the _token cookie (Path=/, Secure,
// HttpOnly; SameSite=Lax by default) and the browser is sent to
// redirect_url with 307.
func TestSessionCallbackSetsCookieAndRedirects(t *testing.T) {
	s := startSessionServer(t, "session_callback /api/auth/callback")
	token := "eyJhbGciOi.J9-abc_DEF~123"
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp, body := s.do(t, method, callbackPath("/api/auth/callback", "session_token", token, "redirect_url", "/dashboard?tab=1#top"))
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("%s: status %d, want 307; body %q", method, resp.StatusCode, body)
		}
		if loc := resp.Header.Get("Location"); loc != "/dashboard?tab=1#top" {
			t.Errorf("%s: Location %q, want /dashboard?tab=1#top", method, loc)
		}
		assertSessionAnswerHeaders(t, resp)
		value, attrs := setCookie(t, resp, "_token")
		if value != token {
			t.Errorf("%s: cookie value %q, want %q", method, value, token)
		}
		for _, a := range []string{"httponly", "secure"} {
			if _, ok := attrs[a]; !ok {
				t.Errorf("%s: cookie lacks %s: %v", method, a, attrs)
			}
		}
		if attrs["path"] != "/" || attrs["samesite"] != "Lax" {
			t.Errorf("%s: cookie attributes %v, want Path=/ and SameSite=Lax", method, attrs)
		}
		for _, a := range []string{"domain", "max-age", "expires"} {
			if _, ok := attrs[a]; ok {
				t.Errorf("%s: cookie has %s by default: %v", method, a, attrs)
			}
		}
		if strings.Contains(body, token) {
			t.Errorf("%s: the token appears in the body %q", method, body)
		}
	}

	// No redirect_url: the default target.
	resp, _ := s.do(t, http.MethodGet, callbackPath("/api/auth/callback", "session_token", "abc"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/" {
		t.Fatalf("without redirect_url: %d Location %q, want 307 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSessionCallbackMissingToken(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb")
	for _, path := range []string{"/cb", "/cb?redirect_url=/x", "/cb?session_token=", "/cb?session_token"} {
		resp, body := s.do(t, http.MethodGet, path)
		assertJSONProblem(t, resp, body, http.StatusBadRequest, "missing session_token query parameter")
		assertSessionAnswerHeaders(t, resp)
	}
}

// A token becomes a header only when it is made of cookie-octets and within
// the length bound; anything else is answered 400 and never echoed.
func TestSessionCallbackRefusesBadTokens(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb {\n\tmax_token_length 32\n}")
	tests := []struct {
		name, rawQuery, msg string
	}{
		{"CRLF header injection", "session_token=abc%0D%0ASet-Cookie:%20admin=1", "characters not allowed in a cookie"},
		{"LF", "session_token=abc%0Adef", "characters not allowed in a cookie"},
		{"semicolon attribute injection", "session_token=abc%3B%20Domain%3Devil.example", "characters not allowed in a cookie"},
		{"space", "session_token=abc+def", "characters not allowed in a cookie"},
		{"comma", "session_token=abc%2Cdef", "characters not allowed in a cookie"},
		{"double quote", "session_token=%22abc%22", "characters not allowed in a cookie"},
		{"backslash", "session_token=abc%5Cdef", "characters not allowed in a cookie"},
		{"NUL", "session_token=abc%00def", "characters not allowed in a cookie"},
		{"non-ASCII", "session_token=abc%C3%A9", "characters not allowed in a cookie"},
		{"too long", "session_token=" + strings.Repeat("a", 33), "longer than 32 bytes"},
		{"given twice", "session_token=abc&session_token=def", "given more than once"},
		{"given twice, first empty", "session_token=&session_token=abc", "given more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.do(t, http.MethodGet, "/cb?"+tc.rawQuery+"&redirect_url=/x")
			assertJSONProblem(t, resp, body, http.StatusBadRequest, tc.msg)
			assertSessionAnswerHeaders(t, resp)
			if strings.Contains(body, "abc") || strings.Contains(body, "admin") {
				t.Errorf("the refused token is echoed: %q", body)
			}
		})
	}
	// The bound itself is accepted.
	resp, _ := s.do(t, http.MethodGet, "/cb?session_token="+strings.Repeat("a", 32))
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("a token of exactly max_token_length: status %d, want 307", resp.StatusCode)
	}
}

// hostileTargets are redirect_url values that must never leave the origin.
var hostileTargets = []string{
	"//evil.example",
	"//evil.example/path",
	"///evil.example",
	"/\\evil.example",
	"\\\\evil.example",
	"/%2F/evil.example",
	"/%2fevil.example",
	"/%5Cevil.example",
	"/%252F%252Fevil.example",
	"/\t/evil.example",
	"/%09/evil.example",
	"/..//evil.example",
	"https://evil.example/",
	"http://evil.example",
	"https:evil.example",
	"https:/evil.example",
	"https:///evil.example",
	"https://accounts.example.com@evil.example/",
	"https://evil.example@accounts.example.com/",
	"https://accounts.example.com.evil.example/",
	"https://evil.example#@accounts.example.com",
	"http://accounts.example.com/",
	"https://accounts.example.com:8443/",
	"https://apps.example.net/",
	"https://%61ccounts.example.com/",
	"javascript:alert(document.cookie)",
	"JaVaScRiPt:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"dashboard",
	"/x\r\nSet-Cookie: admin=1",
	"/%0d%0aSet-Cookie:%20admin=1",
}

func TestSessionCallbackOpenRedirect(t *testing.T) {
	const block = `session_callback /cb {
		redirect_allowed_origins https://accounts.example.com https://*.apps.example.net
		redirect_default /home
	}`
	s := startSessionServer(t, block)

	for _, target := range hostileTargets {
		resp, body := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/home" {
			t.Errorf("redirect_url %q: %d Location %q, want 307 to the default /home; body %q",
				target, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		if v, _ := setCookie(t, resp, "_token"); v != "tok" {
			t.Errorf("redirect_url %q: cookie %q, want tok (a refused target falls back, the login still completes)", target, v)
		}
	}
	// The parameter given twice is not trusted either.
	resp, _ := s.do(t, http.MethodGet, "/cb?session_token=tok&redirect_url=/a&redirect_url=/b")
	if resp.Header.Get("Location") != "/home" {
		t.Errorf("redirect_url twice: Location %q, want /home", resp.Header.Get("Location"))
	}

	accepted := map[string]string{
		"/after?x=1":                        "/after?x=1",
		"https://accounts.example.com/done": "https://accounts.example.com/done",
		"https://eu.apps.example.net/x?y=z": "https://eu.apps.example.net/x?y=z",
		// The request's own origin is always allowed.
		s.base + "/self": s.base + "/self",
	}
	for target, want := range accepted {
		resp, _ := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
			t.Errorf("redirect_url %q: %d Location %q, want 307 to %q", target, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}

	// redirect_on_invalid reject: 400 JSON, and no session is created.
	s.reload(strings.Replace(block, "redirect_default /home", "redirect_default /home\n\t\tredirect_on_invalid reject", 1))
	for _, target := range hostileTargets {
		resp, body := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		assertJSONProblem(t, resp, body, http.StatusBadRequest, "the redirect_url parameter is not an allowed redirect target")
		assertSessionAnswerHeaders(t, resp)
		if strings.Contains(body, "evil") {
			t.Errorf("redirect_url %q: the refused target is echoed: %q", target, body)
		}
	}
	// A missing target is not an invalid one.
	resp, _ = s.do(t, http.MethodGet, callbackPath("/cb", "session_token", "tok"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/home" {
		t.Errorf("reject mode without redirect_url: %d Location %q, want 307 to /home", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSessionCallbackRedirectStatusAndParams(t *testing.T) {
	s := startSessionServer(t, "")
	for _, status := range []int{302, 303, 307} {
		s.reload(fmt.Sprintf("session_callback /cb {\n\ttoken_param t\n\tredirect_param next\n\tredirect_status %d\n}", status))
		resp, _ := s.do(t, http.MethodGet, "/cb?t=abc&next=/n")
		if resp.StatusCode != status || resp.Header.Get("Location") != "/n" {
			t.Errorf("redirect_status %d: got %d Location %q", status, resp.StatusCode, resp.Header.Get("Location"))
		}
		if v, _ := setCookie(t, resp, "_token"); v != "abc" {
			t.Errorf("token_param t: cookie value %q, want abc", v)
		}
		// The default parameter names are not read any more.
		resp, body := s.do(t, http.MethodGet, "/cb?session_token=abc")
		assertJSONProblem(t, resp, body, http.StatusBadRequest, "missing t query parameter")
	}
}

func TestSessionCallbackCookieOptions(t *testing.T) {
	s := startSessionServer(t, `session_callback /cb {
		cookie_name sid
		cookie_host_prefix
		cookie_max_age 1h
		cookie_same_site strict
		cookie_http_only off
	}`)
	resp, _ := s.do(t, http.MethodGet, "/cb?session_token=abc")
	v, attrs := setCookie(t, resp, "__Host-sid")
	if v != "abc" || attrs["max-age"] != "3600" || attrs["samesite"] != "Strict" || attrs["path"] != "/" {
		t.Errorf("cookie %q %v: want abc, Max-Age=3600, SameSite=Strict, Path=/", v, attrs)
	}
	if _, ok := attrs["httponly"]; ok {
		t.Errorf("cookie_http_only off: cookie still HttpOnly: %v", attrs)
	}
	if _, ok := attrs["secure"]; !ok {
		t.Errorf("__Host- cookie without Secure: %v", attrs)
	}
	if _, ok := attrs["domain"]; ok {
		t.Errorf("__Host- cookie with a Domain: %v", attrs)
	}

	s.reload(`session_callback /cb {
		cookie_path /app
		cookie_domain Example.COM
		cookie_same_site none
	}`)
	resp, _ = s.do(t, http.MethodGet, "/cb?session_token=abc")
	_, attrs = setCookie(t, resp, "_token")
	if attrs["path"] != "/app" || attrs["domain"] != "example.com" || attrs["samesite"] != "None" {
		t.Errorf("cookie attributes %v: want Path=/app, Domain=example.com, SameSite=None", attrs)
	}
	if _, ok := attrs["secure"]; !ok {
		t.Errorf("SameSite=None without Secure: %v", attrs)
	}
}

// secure off drops Secure only on loopback hosts unless insecure is given.
func TestSessionCallbackSecureOff(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb {\n\tcookie_secure off\n}")
	secure := func(host string) bool {
		t.Helper()
		resp, _ := s.do(t, http.MethodGet, "/cb?session_token=abc", "Host", host)
		_, attrs := setCookie(t, resp, "_token")
		_, ok := attrs["secure"]
		return ok
	}
	for _, host := range []string{"localhost", fmt.Sprintf("localhost:%d", s.port), "127.0.0.1", "app.localhost", "[::1]:8080"} {
		if secure(host) {
			t.Errorf("cookie_secure off, Host %s: cookie is Secure, want it without on loopback", host)
		}
	}
	for _, host := range []string{"app.example.com", "localhost.example.com", "10.0.0.1"} {
		if !secure(host) {
			t.Errorf("cookie_secure off, Host %s: cookie not Secure; only loopback hosts may drop it without insecure", host)
		}
	}
	s.reload("session_callback /cb {\n\tcookie_secure off insecure\n}")
	if secure("app.example.com") {
		t.Errorf("cookie_secure off insecure: cookie still Secure")
	}
	s.reload("session_callback /cb")
	if !secure("localhost") {
		t.Errorf("default: cookie not Secure on localhost")
	}
}

// With a state cookie configured, the callback must carry the same state
// (login CSRF): an attacker cannot log the victim into the attacker's account.
func TestSessionCallbackState(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb {\n\tstate_cookie_name login_state\n}")
	const state = "s3cr3t-state-value"
	tests := []struct {
		name, query, cookie string
	}{
		{"no cookie", "session_token=abc&state=" + state, ""},
		{"no parameter", "session_token=abc", "login_state=" + state},
		{"mismatch", "session_token=abc&state=other", "login_state=" + state},
		{"empty both", "session_token=abc&state=", "login_state="},
		{"prefix only", "session_token=abc&state=s3cr3t", "login_state=" + state},
		{"parameter twice", "session_token=abc&state=" + state + "&state=" + state, "login_state=" + state},
		{"cookie twice (one planted)", "session_token=abc&state=" + state, "login_state=" + state + "; login_state=attacker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.cookie != "" {
				hdr = []string{"Cookie", tc.cookie}
			}
			resp, body := s.do(t, http.MethodGet, "/cb?"+tc.query, hdr...)
			assertJSONProblem(t, resp, body, http.StatusForbidden, "does not match the login state cookie")
			if strings.Contains(body, state) {
				t.Errorf("state echoed: %q", body)
			}
		})
	}
	resp, _ := s.do(t, http.MethodGet, "/cb?session_token=abc&redirect_url=/in&state="+state, "Cookie", "other=1; login_state="+state)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/in" {
		t.Fatalf("matching state: %d Location %q, want 307 to /in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if v, _ := setCookie(t, resp, "_token"); v != "abc" {
		t.Errorf("matching state: session cookie %q, want abc", v)
	}
	v, attrs := setCookie(t, resp, "login_state")
	if v != "" || attrs["max-age"] != "0" || attrs["path"] != "/" {
		t.Errorf("the used state cookie is not expired: %q %v", v, attrs)
	}
}

// jwt { ... } verifies the token before it becomes a session.
func TestSessionCallbackJWT(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-session"
	t.Setenv("CADDYBFF_TEST_SESSION_SECRET", secret)
	s := startSessionServer(t, `session_callback /cb {
		jwt {
			secret {env.CADDYBFF_TEST_SESSION_SECRET}
			issuers https://login.example.com
		}
	}`)
	now := time.Now().Unix()
	good := map[string]any{"sub": "u1", "iss": "https://login.example.com", "exp": now + 600, "iat": now}

	resp, body := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", hs256(t, secret, good, "HS256", true), "redirect_url", "/in"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/in" {
		t.Fatalf("valid JWT: %d Location %q body %q, want 307 to /in", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, attrs := setCookie(t, resp, "_token")
	if age, err := strconv.Atoi(attrs["max-age"]); err != nil || age < 590 || age > 600 {
		t.Errorf("valid JWT expiring in 600s: cookie Max-Age %q, want the token's remaining life", attrs["max-age"])
	}

	expired := map[string]any{"sub": "u1", "iss": "https://login.example.com", "exp": now - 60}
	otherIssuer := map[string]any{"sub": "u1", "iss": "https://evil.example", "exp": now + 600}
	forged := []struct{ name, token string }{
		{"wrong secret", hs256(t, "another-secret-another-secret-0123456789", good, "HS256", true)},
		{"alg none", hs256(t, secret, good, "none", false)},
		{"unsigned HS256", hs256(t, secret, good, "HS256", false)},
		{"expired", hs256(t, secret, expired, "HS256", true)},
		{"other issuer", hs256(t, secret, otherIssuer, "HS256", true)},
		{"not a JWT", "opaque-session-token"},
	}
	for _, f := range forged {
		resp, body := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", f.token, "redirect_url", "/in"))
		assertJSONProblem(t, resp, body, http.StatusUnauthorized, "the session token failed verification")
		assertSessionAnswerHeaders(t, resp)
		if strings.Contains(body, f.token) {
			t.Errorf("%s: token echoed", f.name)
		}
	}

	// max_age shorter than the token's life wins.
	s.reload(`session_callback /cb {
		cookie_max_age 1m
		jwt {
			secret {env.CADDYBFF_TEST_SESSION_SECRET}
		}
	}`)
	resp, _ = s.do(t, http.MethodGet, callbackPath("/cb", "session_token", hs256(t, secret, good, "HS256", true)))
	if _, attrs := setCookie(t, resp, "_token"); attrs["max-age"] != "60" {
		t.Errorf("cookie_max_age 1m with a 10-minute token: Max-Age %q, want 60", attrs["max-age"])
	}
}

// A verification backend that cannot be reached is a 503, not a 401.
func TestSessionCallbackJWKSUnavailable(t *testing.T) {
	dead := testharness.FreePort(t)
	s := startSessionServer(t, fmt.Sprintf(`session_callback /cb {
		jwt {
			jwks_url http://127.0.0.1:%d/jwks.json
			algorithms RS256
		}
	}`, dead))
	tok := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
	resp, body := s.do(t, http.MethodGet, callbackPath("/cb", "session_token", tok))
	assertJSONProblem(t, resp, body, http.StatusServiceUnavailable, "cannot be verified right now")
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
}

func TestSessionCallbackMethodSemantics(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/cb?session_token=abc&redirect_url=/x", http.MethodGet)
	resp, body := s.do(t, http.MethodPost, "/cb?session_token=abc")
	assertJSONProblem(t, resp, body, http.StatusMethodNotAllowed, "method POST is not allowed")
	assertSessionAnswerHeaders(t, resp)
}

// With handle_errors routes, the handler's error statuses flow into them,
// and the JSON body is available as {err.message}.
func TestSessionCallbackHandleErrors(t *testing.T) {
	s := startSessionServer(t, `session_callback /cb {
		redirect_on_invalid reject
	}
	handle_errors {
		header X-Handled-By errors
		respond "{err.message}" {err.status_code}
	}`)
	for path, status := range map[string]int{
		"/cb":                                  http.StatusBadRequest,
		"/cb?session_token=a&redirect_url=//x": http.StatusBadRequest,
	} {
		resp, body := s.do(t, http.MethodGet, path)
		if resp.StatusCode != status || resp.Header.Get("X-Handled-By") != "errors" {
			t.Errorf("%s: %d (X-Handled-By %q), want %d through handle_errors", path, resp.StatusCode, resp.Header.Get("X-Handled-By"), status)
		}
		if !strings.Contains(body, `"success":false`) {
			t.Errorf("%s: handle_errors body %q lacks the JSON problem", path, body)
		}
		assertSessionAnswerHeaders(t, resp)
		if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("%s: error answer set cookies %q", path, sc)
		}
	}
}

// The JSON form of the configuration works as documented.
func TestSessionCallbackJSONConfig(t *testing.T) {
	port := testharness.FreePort(t)
	c := testharness.StartInProcess(t, sessionJSONConfig(port, `
		"handler": "session_callback",
		"token_param": "t",
		"cookie": {"name": "sid", "max_age": "2h", "same_site": "strict"},
		"redirect": {"allowed_origins": ["https://accounts.example.com"], "default": "/home", "status": 303}`), "json")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	resp, err := c.Client.Get(base + callbackPath("/cb", "t", "abc", "redirect_url", "https://accounts.example.com/x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://accounts.example.com/x" {
		t.Fatalf("JSON config: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	v, attrs := setCookie(t, resp, "sid")
	if v != "abc" || attrs["max-age"] != "7200" || attrs["samesite"] != "Strict" {
		t.Errorf("JSON config cookie %q %v", v, attrs)
	}

	// A JSON config the Caddyfile parser would refuse is refused at load,
	// with the reason.
	for bad, want := range map[string]string{
		`"cookie": {"host_prefix": true, "domain": "example.com"}`:       "the __Host- prefix forbids a domain",
		`"redirect": {"default": "//evil.example"}`:                      "is not a safe target",
		`"redirect": {"allowed_origins": ["https://evil.example/path"]}`: "without path, query or fragment",
		`"redirect": {"status": 301}`:                                    "must be 302, 303 or 307",
		`"cookie": {"same_site": "none", "secure": false}`:               "same_site none requires cookie_secure on",
		`"cookie": {"insecure": true}`:                                   "insecure has an effect only with cookie_secure off",
		`"max_token_length": 9000`:                                       "max_token_length 9000",
		`"state_cookie_name": "a;b"`:                                     "state cookie name",
	} {
		err := c.TryLoad(sessionJSONConfig(port, `"handler": "session_callback", `+bad), "json")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("JSON config with %s: %v, want a refusal containing %q", bad, err, want)
		}
	}
	// The refused loads left the running config in place.
	resp, err = c.Client.Get(base + "/cb?t=abc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after refused loads: status %d, want the first config still serving", resp.StatusCode)
	}
}
