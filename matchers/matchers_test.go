package matchers

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func withReplacer(r *http.Request) (*http.Request, *caddy.Replacer) {
	repl := caddy.NewReplacer()
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)), repl
}

func TestMatchPathPatternCleaning(t *testing.T) {
	m := &MatchPathPattern{Patterns: []string{"/api/:function*"}}
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"/api":                          true,
		"/api/":                         true,
		"/api/users/":                   true,
		"//api/users":                   true,
		"/api//users":                   true,
		"/static/../api/keys":           true,
		"/API/Users":                    false, // Next.js matches case-sensitively
		"/x/%2e%2e/api/y":               true,  // WHATWG: %2e%2e is ..
		"/a%2F..%2Fapi/y":               true,  // cleaned: /api/y
		"/api%2Fusers":                  true,  // decoded path is /api/users
		"/apiary":                       false,
		"/_next/data/b1/api/users.json": true,
		"/_next/data/b1/api.json":       true,
		"/_next/data/b1/about.json":     false,
		"/_next/data/api/x.json":        false, // build id "api", page /x
		"/v1/api":                       false,
		"/":                             false,
	}
	for path, want := range cases {
		r := httptest.NewRequest(http.MethodGet, "http://x"+path, nil)
		r, _ = withReplacer(r)
		got, err := m.MatchWithError(r)
		if err != nil || got != want {
			t.Errorf("%s: match = %v (err %v), want %v", path, got, err, want)
		}
	}
}

func TestMatchPathPatternPlaceholders(t *testing.T) {
	m := &MatchPathPattern{Patterns: []string{"/shop/:category/:id(\\d+)", "/((?!api).*)"}}
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	r, repl := withReplacer(httptest.NewRequest(http.MethodGet, "/shop/shoes/42", nil))
	if ok, err := m.MatchWithError(r); !ok || err != nil {
		t.Fatalf("match = %v, %v", ok, err)
	}
	if v, _ := repl.GetString("http.path_pattern.category"); v != "shoes" {
		t.Errorf("category = %q", v)
	}
	if v, _ := repl.GetString("http.path_pattern.id"); v != "42" {
		t.Errorf("id = %q", v)
	}
	r, repl = withReplacer(httptest.NewRequest(http.MethodGet, "/about/team", nil))
	if ok, _ := m.MatchWithError(r); !ok {
		t.Fatal("lookahead pattern did not match /about/team")
	}
	if v, _ := repl.GetString("http.path_pattern.0"); v != "about/team" {
		t.Errorf("0 = %q", v)
	}
	if err := (&MatchPathPattern{}).Validate(); err == nil {
		t.Error("empty path_pattern validated")
	}
}

func TestMatchCookie(t *testing.T) {
	m := MatchCookie{{Name: "theme", Value: "dark|dim"}, {Name: "consent"}}
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cookies []*http.Cookie
		want    bool
	}{
		{[]*http.Cookie{{Name: "theme", Value: "dark"}, {Name: "consent", Value: ""}}, true},
		{[]*http.Cookie{{Name: "theme", Value: "dim"}, {Name: "consent", Value: "1"}}, true},
		{[]*http.Cookie{{Name: "theme", Value: "darkest"}, {Name: "consent", Value: "1"}}, false},
		{[]*http.Cookie{{Name: "Theme", Value: "dark"}, {Name: "consent", Value: "1"}}, false},
		{[]*http.Cookie{{Name: "theme", Value: "light"}, {Name: "theme", Value: "dark"}, {Name: "consent", Value: "1"}}, true},
		{[]*http.Cookie{{Name: "theme", Value: "dark"}}, false},
		{nil, false},
	}
	for i, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, c := range tc.cookies {
			r.AddCookie(c)
		}
		if got, err := m.MatchWithError(r); got != tc.want || err != nil {
			t.Errorf("case %d: %v (err %v), want %v", i, got, err, tc.want)
		}
	}
	bad := MatchCookie{{Name: ""}}
	if err := bad.Validate(); err == nil {
		t.Error("nameless cookie rule validated")
	}
	if err := (&MatchCookie{{Name: "x", Value: "("}}).Provision(caddy.Context{}); err == nil {
		t.Error("invalid value regexp provisioned")
	}
}

// TestMatchPathPatternRewritesToTheDecidedPath: the request leaves the
// matcher carrying the path the decision was taken on, and only then.
func TestMatchPathPatternRewritesToTheDecidedPath(t *testing.T) {
	m := &MatchPathPattern{Patterns: []string{"/x/:p*", "/café/:p*"}}
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		target, path, escaped string
		match                 bool
	}{
		{"/x/%2e%2e/api/y", "/api/y", "/api/y", false},
		{"/api/%2e%2e/x/y", "/x/y", "/x/y", true},
		{"/api%2F..%2Fx/y", "/x/y", "/x/y", true},
		{"//x//y", "/x/y", "/x/y", true},
		{"/x/a%2Fb", "/x/a/b", "/x/a%2Fb", true},            // an encoded slash is kept
		{"/caf\xc3\xa9/1", "/café/1", "/caf%C3%A9/1", true}, // raw UTF-8 is not re-read as latin1
		{"/x/%7Bid%7D", "/x/{id}", "/x/%7Bid%7D", true},
	}
	for _, tc := range cases {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + tc.target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		req, _ = withReplacer(req)
		got, err := m.MatchWithError(req)
		if err != nil || got != tc.match {
			t.Errorf("%s: match %v (%v), want %v", tc.target, got, err, tc.match)
		}
		if req.URL.Path != tc.path || req.URL.EscapedPath() != tc.escaped {
			t.Errorf("%s: request now has path %q (escaped %q), want %q (%q)", tc.target, req.URL.Path, req.URL.EscapedPath(), tc.path, tc.escaped)
		}
	}
}
