package integration

import (
	"net/http"
	"testing"
	"time"
)

// The whole BFF sign-in: session_callback turns a verified token into the
// session cookie, auth_proxy (same verification block) lets that cookie
// through to the app, a forged token never becomes a session, and
// session_logout ends it.
func TestSessionCallbackWithAuthProxy(t *testing.T) {
	const secret = "flow-secret-0123456789abcdef0123456789"
	t.Setenv("CADDYBFF_TEST_FLOW_SECRET", secret)
	s := startSessionServer(t, `session_callback /auth/callback {
		jwt {
			secret {env.CADDYBFF_TEST_FLOW_SECRET}
		}
	}
	session_logout /auth/logout
	auth_proxy /app/* {
		token_source cookie _token
		jwt {
			secret {env.CADDYBFF_TEST_FLOW_SECRET}
		}
	}
	respond /app/* "app" 200`)

	if r := s.send(t, http.MethodGet, "/app/home"); r.status != http.StatusUnauthorized {
		t.Fatalf("/app without a session: %d, want 401", r.status)
	}

	token := mintToken(t, tokenSpec{secret: secret, sub: "u1", exp: 5 * time.Minute})
	r := s.send(t, http.MethodGet, callbackPath("/auth/callback", "session_token", token, "redirect_url", "/app/home"))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/app/home" {
		t.Fatalf("callback: %d Location %q", r.status, r.header.Get("Location"))
	}
	value, _ := setCookie(t, r, "_token")
	if r := s.send(t, http.MethodGet, "/app/home", withHeader("Cookie", "_token="+value)); r.status != http.StatusOK || r.body != "app" {
		t.Fatalf("/app with the session cookie: %d %q, want 200 app", r.status, r.body)
	}

	forged := mintToken(t, tokenSpec{secret: "attacker-secret-0123456789abcdef01234567", sub: "admin", exp: 5 * time.Minute})
	r = s.send(t, http.MethodGet, callbackPath("/auth/callback", "session_token", forged, "redirect_url", "/app/home"))
	assertJSONProblem(t, r, http.StatusUnauthorized, "failed verification")

	r = s.send(t, http.MethodPost, "/auth/logout", withHeader("Cookie", "_token="+value))
	if r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d, want 303", r.status)
	}
	assertExpiresCookie(t, r, "_token", "/")
}
