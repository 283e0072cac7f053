package integration

import (
	"net/http"
	"testing"
)

// TestMatchersPathPatternCookieAuthenticated exercises the three matchers
// through real Caddy routes.
func TestMatchersPathPatternCookieAuthenticated(t *testing.T) {
	c, base := loadAuthConfig(t, `
:{PORT} {
	@item path_pattern /shop/:category/:id(\d+)
	respond @item "item {http.path_pattern.category}/{http.path_pattern.id}"

	@docs path_pattern /docs/:path+
	respond @docs "docs {http.path_pattern.path}"

	@cel expression path_pattern('/blog/:slug') && method('GET')
	respond @cel "blog {http.path_pattern.slug}"

	@dark {
		path /theme
		cookie theme ^dark|dim$
		cookie consent
	}
	respond @dark "dark"

	@missing {
		path /theme
		not cookie consent
	}
	respond @missing "no consent"

	@member {
		path /members
		authenticated {
			token_source cookie _token
			jwt {
				secret {env.JWT_SECRET}
			}
		}
	}
	respond @member "member {http.auth.user.id} {http.auth.user.plan}"

	@pages path_pattern /((?!api|_next/static|_next/image|favicon.ico).*)
	respond @pages "page {http.path_pattern.0}"

	respond "fallthrough"
}`)
	cases := []struct {
		path string
		opts []reqOpt
		want string
	}{
		{"/shop/shoes/42", nil, "item shoes/42"},
		{"/shop/shoes/abc", nil, "page shop/shoes/abc"},
		{"/docs/a/b", nil, "docs a/b"},
		{"/docs", nil, "page docs"},
		{"/blog/hello-world", nil, "blog hello-world"},
		{"/theme", []reqOpt{withCookie("theme", "dark"), withCookie("consent", "yes")}, "dark"},
		{"/theme", []reqOpt{withCookie("theme", "dim"), withCookie("consent", "yes")}, "dark"},
		{"/theme", []reqOpt{withCookie("theme", "darker"), withCookie("consent", "yes")}, "page theme"},
		{"/theme", []reqOpt{withCookie("theme", "dark")}, "no consent"},
		{"/members", []reqOpt{withCookie("_token", mintToken(t, tokenSpec{sub: "m1", claims: map[string]any{"plan": "pro"}}))}, "member m1 pro"},
		{"/members", []reqOpt{withCookie("_token", "not-a-token")}, "page members"},
		{"/members", []reqOpt{withHeader("Authorization", "Bearer "+mintToken(t, tokenSpec{sub: "m1"}))}, "page members"},
		{"/api/x", nil, "fallthrough"},
		{"/_next/static/a.js", nil, "fallthrough"},
		{"/", nil, "page "},
	}
	for _, tc := range cases {
		r := send(t, c.Client, http.MethodGet, base+tc.path, tc.opts...)
		if r.status != 200 || r.body != tc.want {
			t.Errorf("%s %v: %d %q, want %q", tc.path, tc.opts, r.status, r.body, tc.want)
		}
	}
}

// TestMatchersJSONConfig loads the matchers from JSON, the other way to
// configure them.
func TestMatchersJSONConfig(t *testing.T) {
	port := freePortString(t)
	c, _ := loadAuthConfig(t, `:{PORT} {
	respond "boot"
}`)
	c.Load(`{
	"admin": {"listen": "`+adminAddress()+`"},
	"apps": {"http": {"servers": {"s": {
		"listen": [":`+port+`"],
		"routes": [
			{"match": [{"path_pattern": {"patterns": ["/api/:function*"]}, "cookie": [{"name": "beta", "value": "on|yes"}]}],
			 "handle": [{"handler": "static_response", "body": "beta {http.path_pattern.function}"}]},
			{"handle": [{"handler": "static_response", "body": "stable"}]}
		]
	}}}}
}`, "json")
	base := "http://127.0.0.1:" + port
	if r := send(t, c.Client, http.MethodGet, base+"/api/v1/users", withCookie("beta", "yes")); r.body != "beta v1/users" {
		t.Fatalf("got %q", r.body)
	}
	if r := send(t, c.Client, http.MethodGet, base+"/api/v1/users", withCookie("beta", "no")); r.body != "stable" {
		t.Fatalf("got %q", r.body)
	}
}
