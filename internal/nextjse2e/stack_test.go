package nextjse2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// Secrets of the test stack.
const (
	revalidateSecret = "next-route-secret"
	cmsSecret        = "cms-webhook-secret"
	bridgeSecret     = "bridge-secret-of-the-test"
)

// dataOrigin is the app's data source: the test's stand-in CMS. The
// published version changes when the test publishes; Draft Mode reads the
// next, unpublished one.
type dataOrigin struct {
	*httptest.Server
	version atomic.Int64
	fetches atomic.Int64
}

func startDataOrigin(t testing.TB) *dataOrigin {
	t.Helper()
	d := &dataOrigin{}
	d.version.Store(1)
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/publish" {
			d.version.Add(1)
		}
		d.fetches.Add(1)
		v := d.version.Load()
		var body any = map[string]any{"version": v}
		if r.Header.Get("X-Draft") != "" {
			body = map[string]any{"version": fmt.Sprintf("draft-%d", v+1)}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(d.Close)
	return d
}

// publish makes a new version the published one and returns it.
func (d *dataOrigin) publish() int64 { return d.version.Add(1) }

// stack is one Caddy in front of one `next start`.
type stack struct {
	caddyURL  string // the public site: tag_cache { nextjs } and reverse_proxy
	bridgeURL string // the private listener with nextjs_bridge
	caddy     *testharness.Process
	next      *testharness.NextServer
}

// startStack starts a Caddy and a Next.js app instance behind it. redisURL
// empty means the embedded in-memory tag clock.
func startStack(t testing.TB, app *testharness.NextApp, data *dataOrigin, redisURL string) *stack {
	t.Helper()
	caddyPort, nextPort, bridgePort := testharness.FreePort(t), testharness.FreePort(t), testharness.FreePort(t)
	// The documented setup itself (examples/nextjs.Caddyfile), on test
	// ports, with Redis when asked.
	raw, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", "nextjs.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	example := string(raw)
	for _, want := range []string{":8080 {", "reverse_proxy 127.0.0.1:3000", "http://127.0.0.1:9080 {", "max_size 512MiB", "revalidate_webhook /api/cms-revalidate"} {
		if !strings.Contains(example, want) {
			t.Fatalf("examples/nextjs.Caddyfile no longer contains %q: update the test with it", want)
		}
	}
	storage := "max_size 512MiB"
	if redisURL != "" {
		storage += "\n\t\tredis " + redisURL
	}
	cfg := strings.NewReplacer(
		":8080 {", ":"+strconv.Itoa(caddyPort)+" {",
		"reverse_proxy 127.0.0.1:3000", "reverse_proxy 127.0.0.1:"+strconv.Itoa(nextPort),
		"http://127.0.0.1:9080 {", "http://127.0.0.1:"+strconv.Itoa(bridgePort)+" {",
		"max_size 512MiB", storage,
	).Replace(example)
	s := &stack{
		caddyURL:  "http://127.0.0.1:" + strconv.Itoa(caddyPort),
		bridgeURL: "http://127.0.0.1:" + strconv.Itoa(bridgePort) + "/_caddy-bff/next",
	}
	s.caddy = testharness.StartBinary(t, cfg, "CMS_SECRET="+cmsSecret, "CADDY_BFF_BRIDGE_SECRET="+bridgeSecret)
	s.next = app.StartOn(t, nextPort,
		"DATA_URL="+data.URL,
		"REVALIDATE_SECRET="+revalidateSecret,
		"CADDY_BFF_BRIDGE_URL="+s.bridgeURL,
		"CADDY_BFF_BRIDGE_SECRET="+bridgeSecret,
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("next logs:\n%s", tail(s.next.Logs(), 4000))
			t.Logf("caddy logs:\n%s", tail(s.caddy.LogText(), 4000))
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// variant is one way a browser asks for the same page.
type variant struct {
	name    string
	method  string
	header  map[string]string
	rsc     bool // expects a React Server Components payload, not HTML
	carries bool // the answer carries the page's data version
}

// pageVariants are the HTML and RSC requests Next's router makes for a page.
func pageVariants(page string) []variant {
	return []variant{
		{name: "html", method: http.MethodGet, carries: true},
		{name: "html-gzip", method: http.MethodGet, header: map[string]string{"Accept-Encoding": "gzip"}, carries: true},
		{name: "head", method: http.MethodHead},
		{name: "rsc", method: http.MethodGet, header: map[string]string{"RSC": "1"}, rsc: true, carries: true},
		{name: "rsc-prefetch", method: http.MethodGet, header: map[string]string{"RSC": "1", "Next-Router-Prefetch": "1"}, rsc: true},
		{name: "rsc-segment", method: http.MethodGet, header: map[string]string{"RSC": "1", "Next-Router-Prefetch": "1", "Next-Router-Segment-Prefetch": page + "/__PAGE__"}, rsc: true, carries: true},
	}
}

// answer is what one request saw.
type answer struct {
	status      int
	contentType string
	body        string
	version     string
	cacheStatus string
	nextCache   string
	age         string
	rendered    int64
}

var (
	htmlVersion = regexp.MustCompile(`id="version">([^<]*)<`)
	rscVersion  = regexp.MustCompile(`"id":"version","children":"?([^"}\]]*)`)
	htmlDraft   = regexp.MustCompile(`id="draft">([^<]*)<`)
	rendered    = regexp.MustCompile(`id="rendered">(\d+)<|"id":"rendered","children":(\d+)`)
)

// client never follows redirects by itself: the RSC cache-busting redirect
// is followed by fetch, with the variant's headers.
var client = &http.Client{
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// fetch requests path as v asks for it, following Next's `_rsc` redirect
// as its router does.
func fetch(t testing.TB, base, path string, v variant, cookies ...*http.Cookie) answer {
	t.Helper()
	for hop := 0; ; hop++ {
		req, err := http.NewRequest(v.method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, val := range v.header {
			req.Header.Set(k, val)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s (%s): %v", v.method, path, v.name, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTemporaryRedirect && v.rsc && hop < 2 {
			path = resp.Header.Get("Location")
			continue
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: gzip body: %v", v.name, err)
			}
			raw, err = io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: gzip body: %v", v.name, err)
			}
		}
		a := answer{
			status:      resp.StatusCode,
			contentType: resp.Header.Get("Content-Type"),
			body:        string(raw),
			cacheStatus: resp.Header.Get("Cache-Status"),
			nextCache:   resp.Header.Get("X-Nextjs-Cache"),
			age:         resp.Header.Get("Age"),
		}
		re := htmlVersion
		if v.rsc {
			re = rscVersion
		}
		if m := re.FindStringSubmatch(a.body); m != nil {
			a.version = m[1]
		}
		if m := rendered.FindStringSubmatch(a.body); m != nil {
			ms := m[1]
			if ms == "" {
				ms = m[2]
			}
			a.rendered, _ = strconv.ParseInt(ms, 10, 64)
		}
		return a
	}
}

// mixUp says what is wrong when an answer is not the kind v asked for:
// HTML for an RSC request or an RSC payload for a page load.
func mixUp(v variant, a answer) string {
	if a.status != http.StatusOK {
		return fmt.Sprintf("status %d", a.status)
	}
	isRSC := strings.HasPrefix(a.contentType, "text/x-component")
	isHTML := strings.HasPrefix(a.contentType, "text/html")
	switch {
	case v.rsc && !isRSC:
		return "RSC request answered with " + a.contentType
	case !v.rsc && !isHTML:
		return "page load answered with " + a.contentType
	case v.method == http.MethodGet && !v.rsc && !strings.HasPrefix(a.body, "<!DOCTYPE html>"):
		return "page load body is not an HTML document"
	case v.method == http.MethodGet && v.rsc && strings.Contains(a.body, "<!DOCTYPE html>"):
		return "RSC body is an HTML document"
	}
	return ""
}

// checks counts the mix-up checks of a test and fails it on any mix-up.
type checks struct {
	mu    sync.Mutex
	total int
	bad   []string
}

func (c *checks) check(t testing.TB, where string, v variant, a answer) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	if problem := mixUp(v, a); problem != "" {
		c.bad = append(c.bad, where+" "+v.name+": "+problem)
		t.Errorf("%s %s: %s (Cache-Status %q)", where, v.name, problem, a.cacheStatus)
	}
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func sortDurations(d []time.Duration) []time.Duration {
	out := append([]time.Duration(nil), d...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// actionID reads the server action's id from the build's manifest: the
// Next-Action header a browser's form submission carries.
func actionID(t testing.TB, app *testharness.NextApp) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(app.Dir, ".next", "server", "server-reference-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Node map[string]json.RawMessage `json:"node"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Node) != 1 {
		t.Fatalf("expected the app's one server action, the manifest has %d", len(m.Node))
	}
	for id := range m.Node {
		return id
	}
	return ""
}

// call sends a request and returns status and body.
func call(t testing.TB, method, url string, header map[string]string, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}
