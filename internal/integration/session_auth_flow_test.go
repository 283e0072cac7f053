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

	if resp, _ := s.do(t, http.MethodGet, "/app/home"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/app without a session: %d, want 401", resp.StatusCode)
	}

	now := time.Now().Unix()
	token := hs256(t, secret, map[string]any{"sub": "u1", "exp": now + 300}, "HS256", true)
	resp, _ := s.do(t, http.MethodGet, callbackPath("/auth/callback", "session_token", token, "redirect_url", "/app/home"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/app/home" {
		t.Fatalf("callback: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	value, _ := setCookie(t, resp, "_token")
	if resp, body := s.do(t, http.MethodGet, "/app/home", "Cookie", "_token="+value); resp.StatusCode != http.StatusOK || body != "app" {
		t.Fatalf("/app with the session cookie: %d %q, want 200 app", resp.StatusCode, body)
	}

	forged := hs256(t, "attacker-secret-0123456789abcdef01234567", map[string]any{"sub": "admin", "exp": now + 300}, "HS256", true)
	resp, body := s.do(t, http.MethodGet, callbackPath("/auth/callback", "session_token", forged, "redirect_url", "/app/home"))
	assertJSONProblem(t, resp, body, http.StatusUnauthorized, "failed verification")

	resp, _ = s.do(t, http.MethodPost, "/auth/logout", "Cookie", "_token="+value)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d, want 303", resp.StatusCode)
	}
	assertExpiresCookie(t, resp, "_token", "/")
}
