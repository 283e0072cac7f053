package matchers

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// nextParityPatterns are matcher sources as proxy.ts / middleware.ts
// configs write them: every path-to-regexp form (`:param`, `*`, `+`, `?`,
// `(regex)`, `{...}`), the lookahead gates of the Next.js docs, Unicode and
// escapes.
var nextParityPatterns = []string{
	"/",
	"/about",
	"/api/:path*",
	"/api/:path+",
	"/api/:id?",
	"/api/:id",
	"/dashboard/:path*",
	"/account/:path*",
	"/blog/:slug",
	`/post/:id(\d+)`,
	"/files/:name.:ext",
	"/i18n{/:locale}?/home",
	"/shop{/:category}?/items",
	"/((?!api|_next/static|_next/image|favicon.ico).*)",
	"/((?!api|_next/static|_next/image|favicon.ico|sitemap.xml|robots.txt).*)",
	"/((?!_next/static|_next/image|.*\\.png$).*)",
	"/((?!api/)(?!.*\\.).*)",
	"/:path((?!login).*)",
	"/admin/(.*)",
	"/admin/:rest(.*)",
	"/(api|trpc)(.*)",
	"/docs/:slug([a-z-]+)?",
	"/(.*)",
	"/:path*",
	"/:a/:b?",
	"/:locale(en|fr)/about",
	`/literal\(x\)`,
	"/café/:p*",
	`/x/:p(\w+)`,
	`/search/(.*\.json)`,
	`/v(\d+)/:rest*`,
	`/sp/(\s+)`,
	"/u/:name([^/]+)",
	"/g/:rest*/end",
	"/((?<!\\.js)[^.]*)",
}

// nextParityBases are request targets as clients send them on the wire.
var nextParityBases = []string{
	"/", "/about", "/About", "/about/", "/about//", "/api", "/api/", "/API", "/api/users", "/api/users/",
	"/api/users/42", "/API/users", "/Api/x", "/apiary", "/ap%C4%B0/x", "/_next/%C4%B0mage/x",
	"/_next/%c4%b0mage/x", "/ap\xc4\xb0/x", "/_next/static/chunk.js", "/_next/image", "/favicon.ico",
	"/dashboard", "/dashboard/", "/dashboard/settings", "/_next/data/b1/dashboard.json",
	"/_next/data/b1/index.json", "/_next/data/b1/api/x.json", "/_next/data/b1/about.json",
	"/_next/data/api/x.json", "/index", "/index.json", "/index.rsc", "/dashboard.rsc", "/about.rsc",
	"/dashboard.segments/x.segment.rsc", "/api%2Fusers", "/api%2fusers", "/x/%2e%2e/api/y",
	"/x/%2E%2E/api/y", "/x/.%2e/api/y", "/x/../api/y", "/x/./api", "//api/users", "/api//users",
	"/\\api/users", "/x\\..\\api/users", "/a%2F..%2Fapi/y", "/a%2f%2e%2e%2fapi/y", "/%61pi/users",
	"/api%20/x", "/api/%00", "/blog/hello", "/blog/hello/", "/blog/caf\xc3\xa9", "/blog/caf%C3%A9",
	"/blog/%FF", "/blog/%C0%AF", "/post/42", "/post/abc", "/post/%D9%A4%D9%A2", "/post/42/",
	"/files/report.pdf", "/files/.pdf", "/files/report", "/i18n/home", "/i18n/fr/home", "/i18n//home",
	"/shop/items", "/shop/shoes/items", "/admin", "/admin/", "/admin/x/y", "/trpc/x", "/trpcx",
	"/docs/", "/docs/hello-world", "/docs/Hello", "/en/about", "/EN/about", "/fr/about",
	"/login", "/login/", "/Login", "/loginx", "/account/%2e%2e/admin", "/account/x/%2e%2e/%2e%2e/admin",
	"/caf%C3%A9/x", "/caf\xc3\xa9/x", "/CAF%C3%89/x", "/search/x.json", "/search/x.JSON",
	"/v2/a/b", "/v/a", "/img.png", "/x/img.png", "/x/img.PNG", "/%E2%80%A8", "/api%E2%80%A8x",
	"/x%0Ay", "/a%E2%80%A8b", "/api/x%23y", "/api/x%3Fy", "/api/x/.", "/api/x/..", "/%2e/api",
	"/%2e%2e/api", "/x/y/z", "/x/abc_1", "/x/%C3%A9", "/x/a-b", "/sp/%20", "/sp/%C2%A0",
	"/sp/%E3%80%80", "/sp/%0B", "/sp/x", "/u/a%2Fb", "/u/a", "/g/end", "/g/a/end", "/g/a/b/end",
	"/app.js", "/app", "/a.js/b", "/%F0%9F%98%80/x", "/api/%F0%9F%98%80",
	"/_next/static/%2e%2e/%2e%2e/api/x", "/api;jsessionid=1/x", "/api%3Bx", "/api.json",
	"/api/users.json", "/api/users.rsc", "/api/users.segments/a/b.segment.rsc",
}

// parityPaths adds the variants that matter to a gate: a trailing slash,
// an upper-case form and a percent-encoded first letter of each base.
func parityPaths() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, b := range nextParityBases {
		add(b)
		if !strings.HasSuffix(b, "/") {
			add(b + "/")
		}
		if len(b) > 1 {
			add(strings.ToUpper(b[:2]) + b[2:])
		}
		if len(b) > 1 && b[1] >= 'a' && b[1] <= 'z' {
			add("/%" + strings.ToUpper(hex.EncodeToString([]byte{b[1]})) + b[2:])
		}
	}
	return out
}

// TestPathPatternNextParity compiles every pattern of the corpus with
// Next.js's own build code and matches every path with Next.js's own
// runtime code (.ci/node/next-matcher.js), then checks that path_pattern
// writes the same regular expression and takes the same decision on each
// pair. Where path_pattern rewrites the path (its decoded form still had
// dot segments or empty segments, from encoded slashes), the decision is
// compared with Next.js's decision on the rewritten path, the one the
// upstream then receives.
func TestPathPatternNextParity(t *testing.T) {
	dir := testharness.NodeDir(t)
	paths := parityPaths()

	type goSide struct {
		req       *http.Request
		canonical string
	}
	requests := make([]goSide, len(paths))
	var oracleInput []string
	refusedByGo, rawNonASCII := 0, 0
	for i, p := range paths {
		// Parse the request line as Caddy's Go HTTP server does.
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			refusedByGo++
			continue
		}
		_, _, _, canonical := requestPaths(req)
		requests[i] = goSide{req: req, canonical: canonical}
		// Raw non-ASCII bytes are not allowed in a request line: Node.js
		// reads them as latin1, path_pattern as the UTF-8 clients mean
		// (see whatwgPath). Next.js decides on their percent-encoded form.
		if onWire := encodeNonASCII(p); onWire != p {
			rawNonASCII++
			p = onWire
		}
		oracleInput = append(oracleInput, hex.EncodeToString([]byte(p)))
	}
	// The rewritten paths, for Next.js's decision on them.
	canonicalIndex := map[string]int{}
	for _, g := range requests {
		if g.canonical != "" {
			if _, ok := canonicalIndex[g.canonical]; !ok {
				canonicalIndex[g.canonical] = len(oracleInput)
				oracleInput = append(oracleInput, hex.EncodeToString([]byte(g.canonical)))
			}
		}
	}
	in, _ := json.Marshal(map[string]any{"patterns": nextParityPatterns, "paths": oracleInput})
	var oracle struct {
		Next     string `json:"next"`
		Patterns map[string]struct {
			Valid   bool   `json:"valid"`
			Error   string `json:"error"`
			Regexp  string `json:"regexp"`
			Matches []bool `json:"matches"`
		} `json:"patterns"`
	}
	if err := json.Unmarshal(testharness.RunNode(t, dir, "next-matcher.js", in, 2*time.Minute), &oracle); err != nil {
		t.Fatalf("next-matcher.js output: %v", err)
	}

	compared, disagreements, rewritten := 0, 0, 0
	for _, src := range nextParityPatterns {
		want, ok := oracle.Patterns[src]
		if !ok || !want.Valid {
			t.Errorf("%s: Next.js refuses the pattern (%s); the corpus holds valid patterns only", src, want.Error)
			continue
		}
		p, err := CompilePattern(src)
		if err != nil {
			t.Errorf("%s: Next.js compiles it, path_pattern refuses it: %v", src, err)
			continue
		}
		if p.Regexp != want.Regexp {
			t.Errorf("%s: regexp\n  path_pattern %s\n  next build   %s", src, p.Regexp, want.Regexp)
		}
		m := &MatchPathPattern{Patterns: []string{src}, compiled: []*Pattern{p}}
		j := 0
		for i, g := range requests {
			if g.req == nil {
				continue
			}
			nextSays := want.Matches[j]
			j++
			if g.canonical != "" {
				nextSays = want.Matches[canonicalIndex[g.canonical]]
			}
			r := g.req.Clone(g.req.Context())
			r.URL = cloneURL(g.req)
			r, _ = withReplacer(r)
			got, err := m.MatchWithError(r)
			if err != nil {
				t.Errorf("%s on %q: %v", src, paths[i], err)
				continue
			}
			compared++
			if g.canonical != "" && g.canonical != rawRequestPath(g.req) {
				rewritten++
			}
			if got != nextSays {
				disagreements++
				t.Errorf("%s on %q: path_pattern %v, Next.js %v", src, paths[i], got, nextSays)
			}
		}
	}
	t.Logf("next@%s: %d patterns x %d paths (%d refused by Go's HTTP server before any matcher; %d sent with raw non-ASCII bytes, compared as percent-encoded): %d decisions compared, %d disagreements; %d paths rewritten before the decision",
		oracle.Next, len(nextParityPatterns), len(paths), refusedByGo, rawNonASCII, compared, disagreements, rewritten/len(nextParityPatterns))
	if compared == 0 {
		t.Fatal("nothing compared")
	}
}

func cloneURL(r *http.Request) *url.URL {
	u := *r.URL
	return &u
}

// encodeNonASCII percent-encodes the bytes of p above ASCII.
func encodeNonASCII(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c >= 0x80 {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
