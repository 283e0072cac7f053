package integration

import (
	"net/http"
	"strings"
	"testing"
)

// TestGatePreflightNeverReachesUpstream: behind `respond` (an upstream that
// ignores the method, as php_fastcgi and many Go handlers do), a CORS
// preflight with any Access-Control-Request-Method, path and query gets 204
// from the edge and nothing of the protected content. `preflight pass` is
// the explicit opt-in that hands it on.
func TestGatePreflightNeverReachesUpstream(t *testing.T) {
	c, base := loadAuthConfig(t, `
:{PORT} {
	header Access-Control-Allow-Origin https://app.example
	@api path_pattern /api/:p*
	auth_proxy @api {
		jwt {
			secret {env.JWT_SECRET}
		}
	}
	respond "protected payroll data"
}`)
	for _, target := range []string{"/api/payroll", "/api/payroll?export=csv", "/api/x/../payroll"} {
		for _, acrm := range []string{"GET", "PUT", "anything"} {
			r := send(t, c.Client, http.MethodOptions, base+target, "Origin: https://evil.example", "Access-Control-Request-Method: "+acrm)
			if r.status != http.StatusNoContent || strings.Contains(r.body, "payroll") || r.body != "" {
				t.Fatalf("OPTIONS %s (%s): status %d body %q, want 204 with no body", target, acrm, r.status, r.body)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
				t.Fatalf("OPTIONS %s: the site's CORS header is missing from the edge answer", target)
			}
		}
	}
	// Not a preflight (no Origin): gated like any request.
	assertSeed401(t, send(t, c.Client, http.MethodOptions, base+"/api/payroll", "Access-Control-Request-Method: GET"), "OPTIONS without Origin")

	c2, base2 := loadAuthConfig(t, `
:{PORT} {
	@api path_pattern /api/:p*
	auth_proxy @api {
		jwt {
			secret {env.JWT_SECRET}
		}
		preflight pass
	}
	respond "upstream answered {method}"
}`)
	r := send(t, c2.Client, http.MethodOptions, base2+"/api/payroll", "Origin: https://app.example", "Access-Control-Request-Method: GET")
	if r.status != http.StatusOK || r.body != "upstream answered OPTIONS" {
		t.Fatalf("preflight pass: status %d body %q", r.status, r.body)
	}
}
