package nextjse2e

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// freshness is how one variant caught up with a revalidation.
type freshness struct {
	event, variant string
	requests       int           // requests until the new data showed, the first included
	took           time.Duration // from this variant's first request to the fresh answer
	sinceAck       time.Duration // from the acknowledgment to the fresh answer
}

// warm loads every variant of page until Caddy answers it from its cache,
// so a revalidation has cached entries to reach.
func warm(t *testing.T, s *stack, c *checks, page string, variants []variant) {
	t.Helper()
	for _, v := range variants {
		// A page Next regenerates in the background (STALE) takes a few
		// requests to settle.
		var a answer
		for i := 0; i < 40; i++ {
			a = fetch(t, s.caddyURL, page, v)
			c.check(t, "warm", v, a)
			if strings.HasPrefix(a.cacheStatus, "caddy-bff; hit") {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		if v.carries && !strings.HasPrefix(a.cacheStatus, "caddy-bff; hit") {
			t.Fatalf("warm %s %s: never a cache hit; last Cache-Status %q", page, v.name, a.cacheStatus)
		}
	}
}

// catchUp requests each data-carrying variant until it shows want.
func catchUp(t *testing.T, s *stack, c *checks, event, page string, want int64, ack time.Time, variants []variant) []freshness {
	t.Helper()
	var out []freshness
	for _, v := range variants {
		if !v.carries {
			c.check(t, event, v, fetch(t, s.caddyURL, page, v))
			continue
		}
		start := time.Now()
		got := ""
		for n := 1; n <= 200; n++ {
			a := fetch(t, s.caddyURL, page, v)
			c.check(t, event, v, a)
			got = a.version
			if got == strconv.FormatInt(want, 10) {
				out = append(out, freshness{event: event, variant: v.name, requests: n, took: time.Since(start), sinceAck: time.Since(ack)})
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got != strconv.FormatInt(want, 10) {
			t.Errorf("%s: %s still shows version %q after 200 requests, want %d", event, v.name, got, want)
		}
	}
	return out
}

// TestNextJSRevalidationReachesEveryVariant is the headline flow with a
// real `next start`: each way a Next.js app revalidates (a CMS webhook at
// Caddy, a server action's updateTag, revalidatePath in a route handler,
// revalidateTag in a route handler with { expire: 0 } and with 'max')
// reaches Caddy's entries and Next's own, for the HTML and every RSC
// variant of the page, and no variant is ever answered with the other
// kind.
func TestNextJSRevalidationReachesEveryVariant(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	s := startStack(t, app, data, "")
	variants := pageVariants("/posts")
	c := &checks{}
	action := actionID(t, app)

	type event struct {
		name string
		// immediate: the first request after the acknowledgment must show
		// the new data (expire semantics); otherwise (stale, 'max') old
		// data may be served while Next regenerates.
		immediate bool
		run       func() int64 // publishes, revalidates, returns the new version
	}
	// publishThen publishes a new version, then revalidates with one
	// request, which must answer 200.
	publishThen := func(method, path string, header map[string]string, body string) func() int64 {
		return func() int64 {
			v := data.publish()
			status, answer, _ := call(t, method, s.caddyURL+path, header, body)
			if status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", method, path, status, answer)
			}
			return v
		}
	}
	route := "?secret=" + revalidateSecret
	events := []event{
		{"cms-webhook", true, publishThen(http.MethodPost, "/api/cms-revalidate",
			map[string]string{"Authorization": "Bearer " + cmsSecret, "Content-Type": "application/json"}, `{"tags":["posts"]}`)},
		{"server-action-updateTag", true, func() int64 {
			want := data.version.Load() + 1 // the action publishes
			status, body, h := call(t, http.MethodPost, s.caddyURL+"/posts", map[string]string{
				"Next-Action": action, "Content-Type": "text/plain;charset=UTF-8", "Accept": "text/x-component",
			}, "[]")
			if status != http.StatusOK || h.Get("X-Action-Revalidated") == "" {
				t.Fatalf("server action: %d, X-Action-Revalidated %q: %.300s", status, h.Get("X-Action-Revalidated"), body)
			}
			return want
		}},
		{"route-revalidatePath", true, publishThen(http.MethodPost, "/api/revalidate-path"+route+"&path=/posts", nil, "")},
		{"route-revalidateTag-expire0", true, publishThen(http.MethodGet, "/api/revalidate"+route+"&tag=posts&expire=0", nil, "")},
		{"route-awaited-revalidateTag", true, publishThen(http.MethodGet, "/api/revalidate-strict"+route+"&tag=posts", nil, "")},
		{"route-revalidateTag-max", false, publishThen(http.MethodGet, "/api/revalidate"+route+"&tag=posts", nil, "")},
	}

	var all []freshness
	for _, e := range events {
		warm(t, s, c, "/posts", variants)
		want := e.run()
		ack := time.Now()
		got := catchUp(t, s, c, e.name, "/posts", want, ack, variants)
		for _, f := range got {
			if e.immediate && f.requests != 1 {
				t.Errorf("%s: %s needed %d requests to show the new data; want the first request after the acknowledgment", e.name, f.variant, f.requests)
			}
		}
		all = append(all, got...)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %-14s %9s %12s %12s\n", "event", "variant", "requests", "ms (variant)", "ms since ack")
	for _, f := range all {
		fmt.Fprintf(&b, "%-28s %-14s %9d %12.1f %12.1f\n", f.event, f.variant, f.requests, ms(f.took), ms(f.sinceAck))
	}
	t.Logf("time to fresh data through Caddy (loopback, next start %s):\n%s", testharness.NodeVersion(t, app.NodeDir, "next"), b.String())
	t.Logf("RSC/HTML mix-up checks: %d, mix-ups: %d", c.total, len(c.bad))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestNextJSDraftModeSeesDrafts: an editor in Draft Mode gets the draft,
// rendered for them; everyone else keeps getting the published page from
// the cache, and the draft is never stored.
func TestNextJSDraftModeSeesDrafts(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	s := startStack(t, app, data, "")
	html := variant{name: "html", method: http.MethodGet, carries: true}
	c := &checks{}
	warm(t, s, c, "/posts", []variant{html})

	status, _, h := call(t, http.MethodGet, s.caddyURL+"/api/draft?secret="+revalidateSecret, nil, "")
	if status != http.StatusTemporaryRedirect && status != http.StatusSeeOther && status != http.StatusFound {
		t.Fatalf("enabling Draft Mode: status %d", status)
	}
	var bypass *http.Cookie
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "__prerender_bypass" {
			bypass = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if bypass == nil {
		t.Fatalf("Draft Mode set no __prerender_bypass cookie: %q", h.Values("Set-Cookie"))
	}
	for i := 0; i < 3; i++ {
		a := fetch(t, s.caddyURL, "/posts", html, bypass)
		c.check(t, "draft", html, a)
		draft := htmlDraft.FindStringSubmatch(a.body)
		if draft == nil || draft[1] != "draft" || !strings.HasPrefix(a.version, "draft-") {
			t.Fatalf("Draft Mode request %d got the published page (version %q): Cache-Status %q", i, a.version, a.cacheStatus)
		}
		if !strings.Contains(a.cacheStatus, "detail=draft-mode") {
			t.Errorf("Draft Mode request %d did not bypass the cache: Cache-Status %q", i, a.cacheStatus)
		}
	}
	a := fetch(t, s.caddyURL, "/posts", html)
	c.check(t, "published", html, a)
	if a.version != "1" || !strings.HasPrefix(a.cacheStatus, "caddy-bff; hit") {
		t.Fatalf("after the editor's visits an anonymous reader got version %q (Cache-Status %q), want the cached published version 1", a.version, a.cacheStatus)
	}
}

// TestNextJSTimeBasedISRAge: a page with `revalidate = 2`, polled for a few
// seconds directly and through Caddy: the oldest page seen through Caddy is
// at most one second older than the oldest seen directly, and no answer
// Next marked STALE is ever stored.
func TestNextJSTimeBasedISRAge(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	s := startStack(t, app, data, "")
	html := variant{name: "html", method: http.MethodGet, carries: true}
	c := &checks{}

	poll := func(base string, d time.Duration) (worst time.Duration, answers, staleStored, hits int) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			a := fetch(t, base, "/timed", html)
			c.check(t, "timed", html, a)
			if a.rendered == 0 {
				t.Fatalf("no render time in /timed: %.200s", a.body)
			}
			age := time.Since(time.UnixMilli(a.rendered))
			worst = max(worst, age)
			answers++
			if strings.EqualFold(a.nextCache, "STALE") && strings.Contains(a.cacheStatus, "stored") {
				staleStored++
			}
			if strings.HasPrefix(a.cacheStatus, "caddy-bff; hit") {
				hits++
			}
			time.Sleep(100 * time.Millisecond)
		}
		return
	}
	// Steady state first: the build's prerendered page is as old as the
	// build, and Next serves it once more (STALE) before regenerating.
	poll(s.next.URL, 2500*time.Millisecond)
	directWorst, directN, _, _ := poll(s.next.URL, 6*time.Second)
	caddyWorst, caddyN, staleStored, hits := poll(s.caddyURL, 6*time.Second)
	t.Logf("ISR revalidate=2: oldest page seen directly %.2fs (%d requests), through Caddy %.2fs (%d requests, %d cache hits)",
		directWorst.Seconds(), directN, caddyWorst.Seconds(), caddyN, hits)
	if staleStored > 0 {
		t.Errorf("%d answers Next marked STALE were stored", staleStored)
	}
	if caddyWorst > directWorst+time.Second {
		t.Errorf("through Caddy pages were up to %.2fs old, directly %.2fs: more than Next's own staleness plus one second", caddyWorst.Seconds(), directWorst.Seconds())
	}
	if hits == 0 {
		t.Errorf("Caddy never answered /timed from its cache: the profile must bound staleness, not disable caching")
	}
}

// TestNextJSAssetsAndRedirects: /_next/image variants share one entry
// across browsers' Accept values, /_next/static assets are cached and
// untouched by page revalidations, and the 307 Next answers a stale `_rsc`
// parameter with is never stored.
func TestNextJSAssetsAndRedirects(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	s := startStack(t, app, data, "")

	image := "/_next/image?url=" + url.QueryEscape("/pic.png") + "&w=32&q=75"
	accepts := []string{
		"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", // Chrome
		"image/avif,image/webp,*/*",                                        // Firefox
		"image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
	}
	for i, accept := range accepts {
		status, _, h := call(t, http.MethodGet, s.caddyURL+image, map[string]string{"Accept": accept}, "")
		if status != http.StatusOK || h.Get("Content-Type") != "image/avif" {
			t.Fatalf("image with Accept %q: %d %s", accept, status, h.Get("Content-Type"))
		}
		hit := strings.HasPrefix(h.Get("Cache-Status"), "caddy-bff; hit")
		if i > 0 && !hit {
			t.Errorf("image with Accept %q was not served from the entry the first browser filled: Cache-Status %q", accept, h.Get("Cache-Status"))
		}
	}
	status, _, h := call(t, http.MethodGet, s.caddyURL+image, map[string]string{"Accept": "image/webp,*/*"}, "")
	if status != http.StatusOK || h.Get("Content-Type") != "image/webp" {
		t.Fatalf("image for a WebP-only browser: %d %s", status, h.Get("Content-Type"))
	}
	status, _, h = call(t, http.MethodGet, s.caddyURL+image, map[string]string{"Accept": "image/png,*/*"}, "")
	if status != http.StatusOK || h.Get("Content-Type") != "image/png" {
		t.Fatalf("image for a browser without AVIF or WebP: %d %s", status, h.Get("Content-Type"))
	}

	// A static chunk named by the page.
	_, page, _ := call(t, http.MethodGet, s.caddyURL+"/posts", nil, "")
	chunk := regexp.MustCompile(`/_next/static/[^"]+\.js`).FindString(page)
	if chunk == "" {
		t.Fatal("no /_next/static chunk in the page")
	}
	call(t, http.MethodGet, s.caddyURL+chunk, nil, "")
	if status, body, _ := call(t, http.MethodPost, s.caddyURL+"/api/cms-revalidate", map[string]string{"Authorization": "Bearer " + cmsSecret, "Content-Type": "application/json"}, `{"tags":["posts","_N_T_/layout"]}`); status != http.StatusOK {
		t.Fatalf("webhook: %d %s", status, body)
	}
	_, _, h = call(t, http.MethodGet, s.caddyURL+chunk, nil, "")
	if !strings.HasPrefix(h.Get("Cache-Status"), "caddy-bff; hit") {
		t.Errorf("a static asset was purged by a page revalidation: Cache-Status %q", h.Get("Cache-Status"))
	}

	// A stale cache-busting parameter: Next redirects; never stored.
	for i := 0; i < 2; i++ {
		status, _, h := call(t, http.MethodGet, s.caddyURL+"/posts?_rsc=stale", map[string]string{"RSC": "1"}, "")
		if status != http.StatusTemporaryRedirect {
			t.Fatalf("stale _rsc: status %d, want Next's 307", status)
		}
		if cs := h.Get("Cache-Status"); strings.Contains(cs, "hit") || strings.Contains(cs, "stored") {
			t.Errorf("the _rsc redirect was stored or served from the cache: Cache-Status %q", cs)
		}
	}
}

// TestNextJSBridgeDownFailsLoudly: with Caddy's bridge unreachable, a
// route handler using caddy-bff's awaitable revalidateTag fails instead of
// answering {"revalidated": true}; one written as the Next.js docs show
// cannot (under next start Next runs its revalidations after the response,
// docs/nextjs.md says so), but nothing is revalidated in Next either and
// the failure is logged. Pages are still served, rendered rather than taken
// from a cache whose tags nobody can vouch for.
func TestNextJSBridgeDownFailsLoudly(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	closed := testharness.FreePort(t) // nothing listens here
	next := app.Start(t,
		"DATA_URL="+data.URL,
		"REVALIDATE_SECRET="+revalidateSecret,
		"CADDY_BFF_BRIDGE_URL=http://127.0.0.1:"+strconv.Itoa(closed)+"/_caddy-bff/next",
		"CADDY_BFF_BRIDGE_SECRET="+bridgeSecret,
	)
	status, body, _ := call(t, http.MethodGet, next.URL+"/api/revalidate-strict?secret="+revalidateSecret+"&tag=posts", nil, "")
	if status == http.StatusOK || strings.Contains(body, `"revalidated":true`) {
		t.Errorf("with the bridge down, the strict route acknowledged a revalidation it could not record: %d %s", status, body)
	}
	status, body, _ = call(t, http.MethodGet, next.URL+"/api/revalidate?secret="+revalidateSecret+"&tag=posts&expire=0", nil, "")
	t.Logf("the docs-style route with the bridge down: %d %s (Next revalidates after answering)", status, body)
	html := variant{name: "html", method: http.MethodGet, carries: true}
	v := data.publish()
	a := fetch(t, next.URL, "/posts", html)
	if a.status != http.StatusOK || a.version != strconv.FormatInt(v, 10) {
		t.Fatalf("with the bridge down /posts answered %d version %q, want a fresh render of version %d", a.status, a.version, v)
	}
	testharness.WaitFor(t, 5*time.Second, "the failed revalidations logged", func() bool {
		return strings.Count(next.Logs(), "caddy-bff bridge revalidate: connect ECONNREFUSED") >= 2
	})
}
