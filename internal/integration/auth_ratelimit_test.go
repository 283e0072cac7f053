package integration

import (
	"net/http"
	"testing"
)

// TestAuthProxyAfterRateLimit checks the order the design draws
// (rate_limit, then auth_proxy) with the global option the docs give:
// `order rate_limit before auth_proxy`. Over the limit, a client gets 429
// before its token is even looked at, so floods of forged tokens cannot
// reach the verifier or the identity provider.
func TestAuthProxyAfterRateLimit(t *testing.T) {
	c, base := loadAuthConfig(t, `{
	order rate_limit before auth_proxy
}
:{PORT} {
	rate_limit {
		zone per_client {
			key {remote_host}
			events 2
			window 1m
		}
	}
	auth_proxy {
		jwt {
			secret {env.JWT_SECRET}
		}
	}
	respond "ok"
}`)
	for range 2 {
		assertSeed401(t, send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer forged")), "within the limit")
	}
	r := send(t, c.Client, http.MethodGet, base+"/", withHeader("Authorization", "Bearer "+mintToken(t, tokenSpec{sub: "u"})))
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third request: status %d, want 429 from rate_limit before auth_proxy", r.status)
	}
}
