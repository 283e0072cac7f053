package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestAuthProxyNeverLogsSecrets runs the built binary with debug logging
// and access logs, sends valid, tampered and refused tokens, and checks that
// neither a token nor the secret appears anywhere in what Caddy logged.
func TestAuthProxyNeverLogsSecrets(t *testing.T) {
	port := testharness.FreePort(t)
	p := testharness.StartBinary(t, fmt.Sprintf(`{
	debug
}
:%d {
	log
	@api path_pattern /api/:function*
	auth_proxy @api {
		jwt {
			secret {env.JWT_SECRET}
		}
		forward_claim sub X-User-Id
	}
	respond "ok {http.auth.user.id}"
}`, port), "JWT_SECRET="+authSecret)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := testharness.NoRedirectClient()
	valid := mintToken(t, tokenSpec{sub: "log-user"})
	tampered := valid[:len(valid)-4] + "AAAA"
	expired := mintToken(t, tokenSpec{sub: "old-user", exp: -time.Hour})

	if r := send(t, client, http.MethodGet, base+"/api/x", withHeader("Authorization", "Bearer "+valid)); r.status != 200 || r.body != "ok log-user" {
		t.Fatalf("valid: %d %q", r.status, r.body)
	}
	assertSeed401(t, send(t, client, http.MethodGet, base+"/api/x", withHeader("Authorization", "Bearer "+tampered)), "tampered")
	assertSeed401(t, send(t, client, http.MethodGet, base+"/api/x", withCookie("_token", expired)), "expired")

	time.Sleep(200 * time.Millisecond) // let the log lines be written
	logs := p.LogText()
	if !strings.Contains(logs, "request not authenticated") {
		t.Fatalf("no debug log of the refusals; the check below would prove nothing:\n%s", logs)
	}
	for name, secret := range map[string]string{"secret": authSecret, "valid token": valid, "tampered token": tampered, "expired token": expired} {
		// Tokens are long; any 20-character slice of the signature part
		// would give it away.
		sig := secret
		if i := strings.LastIndex(secret, "."); i >= 0 {
			sig = secret[i+1:]
		}
		if len(sig) > 20 {
			sig = sig[:20]
		}
		if strings.Contains(logs, sig) {
			t.Errorf("the %s appears in Caddy's logs", name)
		}
	}
}
