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
			r := send(t, c.Client, http.MethodOptions, base+target, withHeader("Origin", "https://evil.example"), withHeader("Access-Control-Request-Method", acrm))
			if r.status != http.StatusNoContent || strings.Contains(r.body, "payroll") || r.body != "" {
				t.Fatalf("OPTIONS %s (%s): status %d body %q, want 204 with no body", target, acrm, r.status, r.body)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
				t.Fatalf("OPTIONS %s: the site's CORS header is missing from the edge answer", target)
			}
		}
	}
	// Not a preflight (no Origin): gated like any request.
	assertSeed401(t, send(t, c.Client, http.MethodOptions, base+"/api/payroll", withHeader("Access-Control-Request-Method", "GET")), "OPTIONS without Origin")

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
	r := send(t, c2.Client, http.MethodOptions, base2+"/api/payroll", withHeader("Origin", "https://app.example"), withHeader("Access-Control-Request-Method", "GET"))
	if r.status != http.StatusOK || r.body != "upstream answered OPTIONS" {
		t.Fatalf("preflight pass: status %d body %q", r.status, r.body)
	}
}

// TestGatePathPatternUnicodeAndDotSegments: with the usual Next.js gate,
// `İ` (U+0130) no longer folds to `i` and opens the gate, and a path whose
// raw form differs from its cleaned form reaches the upstream as the path
// the gate decided on.
func TestGatePathPatternUnicodeAndDotSegments(t *testing.T) {
	up := startUpstream(t)
	c, base := loadAuthConfig(t, `
:{PORT} {
	@gated path_pattern /((?!api|_next/static|_next/image|favicon.ico).*)
	auth_proxy @gated {
		jwt {
			secret {env.JWT_SECRET}
		}
	}
	@x path_pattern /x/:p*
	auth_proxy @x {
		jwt {
			secret {env.JWT_SECRET}
		}
	}
	reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
}`)
	for _, p := range []string{"/dashboard", "/ap%C4%B0/x", "/_next/%C4%B0mage/x", "/API/x", "/_next/data/b1/dashboard.json"} {
		assertSeed401(t, send(t, c.Client, http.MethodGet, base+p), p)
	}
	if seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+"/api/y")); seen.Path != "/api/y" {
		t.Fatalf("/api/y: upstream saw %s", seen.Path)
	}
	// The gate decides on /api/y (ungated) and the upstream receives /api/y,
	// not the /x/... path a raw-path upstream would have served.
	for _, p := range []string{"/x/%2e%2e/api/y", "/x/%2E%2E/api/y", "/x/.%2e/api/y", "/a%2F..%2Fapi/y", "//api/y"} {
		seen := upstreamSaw(t, send(t, c.Client, http.MethodGet, base+p))
		if seen.Path != "/api/y" {
			t.Fatalf("%s: upstream saw %q, want /api/y", p, seen.Path)
		}
	}
	// And the reverse: a path that looks ungated raw but cleans into /x/.
	assertSeed401(t, send(t, c.Client, http.MethodGet, base+"/api/%2e%2e/x/secret"), "/api/%2e%2e/x/secret")
	assertSeed401(t, send(t, c.Client, http.MethodGet, base+"/api%2F..%2Fx/secret"), "/api%2F..%2Fx/secret")
}
