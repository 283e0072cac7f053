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
		r := s.send(t, method, callbackPath("/api/auth/callback", "session_token", token, "redirect_url", "/dashboard?tab=1#top"))
		if r.status != http.StatusTemporaryRedirect {
			t.Fatalf("%s: status %d, want 307; body %q", method, r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != "/dashboard?tab=1#top" {
			t.Errorf("%s: Location %q, want /dashboard?tab=1#top", method, loc)
		}
		assertSessionAnswerHeaders(t, r)
		value, attrs := setCookie(t, r, "_token")
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
		if strings.Contains(r.body, token) {
			t.Errorf("%s: the token appears in the body %q", method, r.body)
		}
	}

	// No redirect_url: the default target.
	r := s.send(t, http.MethodGet, callbackPath("/api/auth/callback", "session_token", "abc"))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/" {
		t.Fatalf("without redirect_url: %d Location %q, want 307 to /", r.status, r.header.Get("Location"))
	}
}

func TestSessionCallbackMissingToken(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb")
	for _, path := range []string{"/cb", "/cb?redirect_url=/x", "/cb?session_token=", "/cb?session_token"} {
		r := s.send(t, http.MethodGet, path)
		assertJSONProblem(t, r, http.StatusBadRequest, "missing session_token query parameter")
		assertSessionAnswerHeaders(t, r)
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
			r := s.send(t, http.MethodGet, "/cb?"+tc.rawQuery+"&redirect_url=/x")
			assertJSONProblem(t, r, http.StatusBadRequest, tc.msg)
			assertSessionAnswerHeaders(t, r)
			if strings.Contains(r.body, "abc") || strings.Contains(r.body, "admin") {
				t.Errorf("the refused token is echoed: %q", r.body)
			}
		})
	}
	// The bound itself is accepted.
	r := s.send(t, http.MethodGet, "/cb?session_token="+strings.Repeat("a", 32))
	if r.status != http.StatusTemporaryRedirect {
		t.Fatalf("a token of exactly max_token_length: status %d, want 307", r.status)
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
		r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/home" {
			t.Errorf("redirect_url %q: %d Location %q, want 307 to the default /home; body %q",
				target, r.status, r.header.Get("Location"), r.body)
		}
		if v, _ := setCookie(t, r, "_token"); v != "tok" {
			t.Errorf("redirect_url %q: cookie %q, want tok (a refused target falls back, the login still completes)", target, v)
		}
	}
	// The parameter given twice is not trusted either.
	r := s.send(t, http.MethodGet, "/cb?session_token=tok&redirect_url=/a&redirect_url=/b")
	if r.header.Get("Location") != "/home" {
		t.Errorf("redirect_url twice: Location %q, want /home", r.header.Get("Location"))
	}

	accepted := map[string]string{
		"/after?x=1":                        "/after?x=1",
		"https://accounts.example.com/done": "https://accounts.example.com/done",
		"https://eu.apps.example.net/x?y=z": "https://eu.apps.example.net/x?y=z",
		// The request's own origin is always allowed.
		s.base + "/self": s.base + "/self",
	}
	for target, want := range accepted {
		r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != want {
			t.Errorf("redirect_url %q: %d Location %q, want 307 to %q", target, r.status, r.header.Get("Location"), want)
		}
	}

	// redirect_on_invalid reject: 400 JSON, and no session is created.
	s.reload(strings.Replace(block, "redirect_default /home", "redirect_default /home\n\t\tredirect_on_invalid reject", 1))
	for _, target := range hostileTargets {
		r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", "tok", "redirect_url", target))
		assertJSONProblem(t, r, http.StatusBadRequest, "the redirect_url parameter is not an allowed redirect target")
		assertSessionAnswerHeaders(t, r)
		if strings.Contains(r.body, "evil") {
			t.Errorf("redirect_url %q: the refused target is echoed: %q", target, r.body)
		}
	}
	// A missing target is not an invalid one.
	r = s.send(t, http.MethodGet, callbackPath("/cb", "session_token", "tok"))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/home" {
		t.Errorf("reject mode without redirect_url: %d Location %q, want 307 to /home", r.status, r.header.Get("Location"))
	}
}

func TestSessionCallbackRedirectStatusAndParams(t *testing.T) {
	s := startSessionServer(t, "")
	for _, status := range []int{302, 303, 307} {
		s.reload(fmt.Sprintf("session_callback /cb {\n\ttoken_param t\n\tredirect_param next\n\tredirect_status %d\n}", status))
		r := s.send(t, http.MethodGet, "/cb?t=abc&next=/n")
		if r.status != status || r.header.Get("Location") != "/n" {
			t.Errorf("redirect_status %d: got %d Location %q", status, r.status, r.header.Get("Location"))
		}
		if v, _ := setCookie(t, r, "_token"); v != "abc" {
			t.Errorf("token_param t: cookie value %q, want abc", v)
		}
		// The default parameter names are not read any more.
		r = s.send(t, http.MethodGet, "/cb?session_token=abc")
		assertJSONProblem(t, r, http.StatusBadRequest, "missing t query parameter")
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
	r := s.send(t, http.MethodGet, "/cb?session_token=abc")
	v, attrs := setCookie(t, r, "__Host-sid")
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
	r = s.send(t, http.MethodGet, "/cb?session_token=abc")
	_, attrs = setCookie(t, r, "_token")
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
		r := s.send(t, http.MethodGet, "/cb?session_token=abc", withHost(host))
		_, attrs := setCookie(t, r, "_token")
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
			var opts []reqOpt
			if tc.cookie != "" {
				opts = append(opts, withHeader("Cookie", tc.cookie))
			}
			r := s.send(t, http.MethodGet, "/cb?"+tc.query, opts...)
			assertJSONProblem(t, r, http.StatusForbidden, "does not match the login state cookie")
			if strings.Contains(r.body, state) {
				t.Errorf("state echoed: %q", r.body)
			}
		})
	}
	r := s.send(t, http.MethodGet, "/cb?session_token=abc&redirect_url=/in&state="+state, withHeader("Cookie", "other=1; login_state="+state))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/in" {
		t.Fatalf("matching state: %d Location %q, want 307 to /in", r.status, r.header.Get("Location"))
	}
	if v, _ := setCookie(t, r, "_token"); v != "abc" {
		t.Errorf("matching state: session cookie %q, want abc", v)
	}
	v, attrs := setCookie(t, r, "login_state")
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
	good := tokenSpec{secret: secret, sub: "u1", iss: "https://login.example.com", exp: 10 * time.Minute, claims: map[string]any{"iat": time.Now().Unix()}}

	r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", mintToken(t, good), "redirect_url", "/in"))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/in" {
		t.Fatalf("valid JWT: %d Location %q body %q, want 307 to /in", r.status, r.header.Get("Location"), r.body)
	}
	_, attrs := setCookie(t, r, "_token")
	if age, err := strconv.Atoi(attrs["max-age"]); err != nil || age < 590 || age > 600 {
		t.Errorf("valid JWT expiring in 600s: cookie Max-Age %q, want the token's remaining life", attrs["max-age"])
	}

	wrongSecret, algNone, unsigned := good, good, good
	wrongSecret.secret = "another-secret-another-secret-0123456789"
	algNone.alg, algNone.unsigned = "none", true
	unsigned.unsigned = true
	expired := tokenSpec{secret: secret, sub: "u1", iss: "https://login.example.com", exp: -time.Minute}
	otherIssuer := tokenSpec{secret: secret, sub: "u1", iss: "https://evil.example", exp: 10 * time.Minute}
	forged := []struct{ name, token string }{
		{"wrong secret", mintToken(t, wrongSecret)},
		{"alg none", mintToken(t, algNone)},
		{"unsigned HS256", mintToken(t, unsigned)},
		{"expired", mintToken(t, expired)},
		{"other issuer", mintToken(t, otherIssuer)},
		{"not a JWT", "opaque-session-token"},
	}
	for _, f := range forged {
		r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", f.token, "redirect_url", "/in"))
		assertJSONProblem(t, r, http.StatusUnauthorized, "the session token failed verification")
		assertSessionAnswerHeaders(t, r)
		if strings.Contains(r.body, f.token) {
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
	r = s.send(t, http.MethodGet, callbackPath("/cb", "session_token", mintToken(t, good)))
	if _, attrs := setCookie(t, r, "_token"); attrs["max-age"] != "60" {
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
	r := s.send(t, http.MethodGet, callbackPath("/cb", "session_token", tok))
	assertJSONProblem(t, r, http.StatusServiceUnavailable, "cannot be verified right now")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
}

func TestSessionCallbackMethodSemantics(t *testing.T) {
	s := startSessionServer(t, "session_callback /cb")
	testharness.AssertRouteHandlerSemantics(t, s.caddy.Client, s.base+"/cb?session_token=abc&redirect_url=/x", http.MethodGet)
	r := s.send(t, http.MethodPost, "/cb?session_token=abc")
	assertJSONProblem(t, r, http.StatusMethodNotAllowed, "method POST is not allowed")
	assertSessionAnswerHeaders(t, r)
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
		r := s.send(t, http.MethodGet, path)
		if r.status != status || r.header.Get("X-Handled-By") != "errors" {
			t.Errorf("%s: %d (X-Handled-By %q), want %d through handle_errors", path, r.status, r.header.Get("X-Handled-By"), status)
		}
		if !strings.Contains(r.body, `"success":false`) {
			t.Errorf("%s: handle_errors body %q lacks the JSON problem", path, r.body)
		}
		assertSessionAnswerHeaders(t, r)
		if sc := r.header.Values("Set-Cookie"); len(sc) > 0 {
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
	r := send(t, c.Client, http.MethodGet, base+callbackPath("/cb", "t", "abc", "redirect_url", "https://accounts.example.com/x"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "https://accounts.example.com/x" {
		t.Fatalf("JSON config: %d Location %q", r.status, r.header.Get("Location"))
	}
	v, attrs := setCookie(t, r, "sid")
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
		`"cookie": {"insecure": true}`:                                   "insecure flag has an effect only with cookie_secure off",
		`"max_token_length": 9000`:                                       "max_token_length 9000",
		`"state_cookie_name": "a;b"`:                                     "state cookie name",
	} {
		err := c.TryLoad(sessionJSONConfig(port, `"handler": "session_callback", `+bad), "json")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("JSON config with %s: %v, want a refusal containing %q", bad, err, want)
		}
	}
	// The refused loads left the running config in place.
	r = send(t, c.Client, http.MethodGet, base+"/cb?t=abc")
	if r.status != http.StatusSeeOther {
		t.Errorf("after refused loads: status %d, want the first config still serving", r.status)
	}
}
