package integration

import (
	"net/http"
	"testing"
)

// TestMatchersHasMissingMapping checks docs/matchers.md's mapping of Next.js
// `has` / `missing` conditions to Caddy matchers, row by row.
func TestMatchersHasMissingMapping(t *testing.T) {
	c, base := loadAuthConfig(t, `
:{PORT} {
	@header_any {
		path_pattern /h/:x
		header X-Flag *
	}
	respond @header_any "header"

	@query_any {
		path_pattern /q/:x
		query preview=*
	}
	respond @query_any "query"

	@query_value {
		path_pattern /qv/:x
		expression {query.page}.matches('^(?:\\d+)$')
	}
	respond @query_value "page {query.page}"

	@tenant {
		path_pattern /t/:x
		header_regexp tenant Host ^(.*)\.example\.test$
	}
	respond @tenant "tenant {re.tenant.1}"

	@gated {
		path_pattern /((?!api|_next/static|_next/image|favicon.ico).*)
		not header Next-Router-Prefetch *
		not cookie _token
	}
	respond @gated "gated"

	respond "other"
}`)
	cases := []struct {
		path, host string
		opts       []reqOpt
		want       string
	}{
		{"/h/1", "", []reqOpt{withHeader("X-Flag", "on")}, "header"},
		{"/h/1", "", nil, "gated"},
		{"/q/1?preview=", "", nil, "query"},
		{"/q/1?other=1", "", nil, "gated"},
		{"/qv/1?page=12", "", nil, "page 12"},
		{"/qv/1?page=x12", "", nil, "gated"},
		{"/t/1", "acme.example.test", nil, "tenant acme"},
		{"/page", "", []reqOpt{withHeader("Next-Router-Prefetch", "1")}, "other"},
		{"/page", "", []reqOpt{withCookie("_token", "abc")}, "other"},
		{"/page", "", nil, "gated"},
		{"/api/page", "", nil, "other"},
	}
	for _, tc := range cases {
		opts := tc.opts
		if tc.host != "" {
			opts = append([]reqOpt{withHost(tc.host)}, opts...)
		}
		if r := send(t, c.Client, http.MethodGet, base+tc.path, opts...); r.body != tc.want {
			t.Errorf("%s host=%q %v: %q, want %q", tc.path, tc.host, tc.opts, r.body, tc.want)
		}
	}
}
