package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkAuthProxyRoute compares the same route with and without
// auth_proxy (HS256 bearer token, claim placeholders, one forwarded
// claim). Requests to the two routes alternate, so both see the same
// machine load; the metrics are the mean latency of each and their
// throughput ratio (auth / no auth; the target is at least 0.9).
func BenchmarkAuthProxyRoute(b *testing.B) {
	c, base := loadAuthConfig(b, `
:{PORT} {
	@gated path_pattern /gated/:rest*
	auth_proxy @gated {
		jwt {
			secret {env.JWT_SECRET}
			algorithms HS256
		}
		forward_claim sub X-User-Id
	}
	respond "ok"
}`)
	token := mintToken(b, tokenSpec{sub: "bench-user", claims: map[string]any{"email": "bench@example.test"}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
	_ = c
	do := func(path string) time.Duration {
		start := time.Now()
		r := send(b, client, http.MethodGet, base+path, withHeader("Authorization", "Bearer "+token))
		elapsed := time.Since(start)
		if r.status != http.StatusOK || strings.TrimSpace(r.body) != "ok" {
			b.Fatalf("%s: %d %q", path, r.status, r.body)
		}
		return elapsed
	}
	// Warm up connections and the JIT-free paths alike.
	for range 200 {
		do("/open/x")
		do("/gated/x")
	}
	var open, gated time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			open += do("/open/x")
			gated += do("/gated/x")
		} else {
			gated += do("/gated/x")
			open += do("/open/x")
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(open.Nanoseconds())/n, "ns/req-without")
	b.ReportMetric(float64(gated.Nanoseconds())/n, "ns/req-with")
	b.ReportMetric(float64(open)/float64(gated), "throughput-ratio")
}
