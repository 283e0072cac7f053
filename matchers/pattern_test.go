package matchers

import (
	"maps"
	"strings"
	"testing"
)

func TestCompilePattern(t *testing.T) {
	type want struct {
		path   string
		match  bool
		params map[string]string
	}
	cases := []struct {
		pattern      string
		backtracking bool
		checks       []want
	}{
		{"/api/:function*", false, []want{
			{"/api", true, nil},
			{"/api/hello", true, map[string]string{"function": "hello"}},
			{"/api/a/b/c", true, map[string]string{"function": "a/b/c"}},
			{"/API/Hello", false, nil}, // Next.js matches case-sensitively
			{"/apix", false, nil},
			{"/other/api/x", false, nil},
			{"/api/", true, nil}, // path-to-regexp's default: one optional trailing delimiter
			{"/api//", false, nil},
		}},
		{"/docs/:path+", false, []want{
			{"/docs", false, nil},
			{"/docs/a", true, map[string]string{"path": "a"}},
			{"/docs/a/b", true, map[string]string{"path": "a/b"}},
		}},
		{"/blog/:slug", false, []want{
			{"/blog/hello-world", true, map[string]string{"slug": "hello-world"}},
			{"/blog/a/b", false, nil},
			{"/blog", false, nil},
		}},
		{"/shop/:id?", false, []want{
			{"/shop", true, nil},
			{"/shop/7", true, map[string]string{"id": "7"}},
		}},
		{`/post/:id(\d+)`, false, []want{
			{"/post/42", true, map[string]string{"id": "42"}},
			{"/post/abc", false, nil},
		}},
		{"/about", false, []want{
			{"/about", true, nil},
			{"/About", false, nil},
			{"/about/", true, nil},
			{"/_next/data/build-1/about.json", true, nil},
			{"/about.rsc", true, nil},
			{"/about/team", false, nil},
		}},
		{"/files/:name.:ext", true, []want{
			{"/files/report.pdf", true, map[string]string{"name": "report", "ext": "pdf"}},
		}},
		{"/i18n{/:locale}?/home", false, []want{
			{"/i18n/home", true, nil},
			{"/i18n/fr/home", true, map[string]string{"locale": "fr"}},
		}},
		{`/literal\(x\)`, false, []want{{"/literal(x)", true, nil}}},
		{"/((?!api|_next/static|_next/image|favicon.ico).*)", true, []want{
			{"/", true, map[string]string{"0": ""}},
			{"/dashboard", true, map[string]string{"0": "dashboard"}},
			{"/dashboard/settings", true, map[string]string{"0": "dashboard/settings"}},
			{"/api/users", false, nil},
			{"/_next/static/chunk.js", false, nil},
			{"/_next/image", false, nil},
			{"/favicon.ico", false, nil},
			{"/API/users", true, map[string]string{"0": "API/users"}},
			{"/ap\u0130/x", true, map[string]string{"0": "ap\u0130/x"}},
			{"/_next/\u0130mage/x", true, map[string]string{"0": "_next/\u0130mage/x"}},
			{"/_next/data/x.json", true, map[string]string{"0": "_next/data/x.json"}},
		}},
		{"/:path((?!login).*)", true, []want{
			{"/login", false, nil},
			{"/home", true, map[string]string{"path": "home"}},
		}},
	}
	for _, tc := range cases {
		p, err := CompilePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		if p.Backtracking() != tc.backtracking {
			t.Errorf("%s: backtracking = %v, want %v", tc.pattern, p.Backtracking(), tc.backtracking)
		}
		for _, c := range tc.checks {
			ok, params, err := p.Match(c.path)
			if err != nil {
				t.Fatalf("%s on %s: %v", tc.pattern, c.path, err)
			}
			if ok != c.match {
				t.Errorf("%s on %s: match = %v, want %v", tc.pattern, c.path, ok, c.match)
				continue
			}
			if ok && !maps.Equal(params, c.params) {
				t.Errorf("%s on %s: params = %v, want %v", tc.pattern, c.path, params, c.params)
			}
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	cases := map[string]string{
		"api/:x":         "must start with /",
		"/api/:":         "missing parameter name",
		"/api/(":         "unbalanced",
		"/api/()":        "missing pattern",
		"/api/((x))":     "capturing groups are not allowed",
		"/api/(?x)":      "cannot start with",
		"/api/*":         "unexpected",
		"/a/:x/:x":       "duplicate parameter",
		"/a/{:x":         "expected close",
		"/a/([)":         "invalid regular expression",
		"/a/:x:y":        "must have text between two parameters",
		`/a/\`:           "dangling escape",
		"/a/(x{1,2}(?<)": "",
	}
	for pattern, want := range cases {
		_, err := CompilePattern(pattern)
		if err == nil {
			t.Errorf("%q compiled, want error %q", pattern, want)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), want) {
			t.Errorf("%q: error %q, want %q", pattern, err, want)
		}
	}
}

func TestBacktrackingTimeout(t *testing.T) {
	p, err := CompilePattern(`/:x((?!z)(a+)+b)`)
	if err == nil {
		t.Fatalf("capturing group accepted: %v", p)
	}
	p, err = CompilePattern(`/:x((?!z)(?:a|aa)*c)`)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Match("/" + strings.Repeat("a", 40) + "!")
	if err == nil || strings.Contains(err.Error(), "aaaa") {
		t.Fatalf("pathological backtracking: err = %v, want a time-limit error that does not echo the path", err)
	}
}

// FuzzCompilePattern checks the compiler never panics, and that whatever
// compiles matches only whole paths that start with "/" when the pattern
// has no parameter before its first literal slash.
func FuzzCompilePattern(f *testing.F) {
	for _, seed := range []string{
		"/api/:function*", "/docs/:path+", "/shop/:id?", `/post/:id(\d+)`,
		"/((?!api|_next/static|_next/image|favicon.ico).*)", "/i18n{/:locale}?/home",
		"/files/:name.:ext", "/a/((x))", "/(", "/:", `/\`, "/{", "/a/([)]", "/((?<=a)b)",
	} {
		f.Add(seed, "/api/x")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := CompilePattern(pattern)
		if err != nil {
			return
		}
		ok, params, err := p.Match(path)
		if err != nil {
			return
		}
		if !ok && params != nil {
			t.Fatal("params without a match")
		}
		for name := range params {
			found := false
			for _, n := range p.Names {
				found = found || n == name
			}
			if !found {
				t.Fatalf("param %q not among names %v", name, p.Names)
			}
		}
	})
}

func BenchmarkPatternMatch(b *testing.B) {
	for _, src := range []string{"/api/:function*", "/((?!api|_next/static|_next/image|favicon.ico).*)"} {
		p, err := CompilePattern(src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(src, func(b *testing.B) {
			for b.Loop() {
				if ok, _, _ := p.Match("/dashboard/settings/profile"); ok == (src == "/api/:function*") {
					b.Fatal("unexpected result")
				}
			}
		})
	}
}
