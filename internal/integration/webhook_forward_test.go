package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// nextOrigin emulates a `next start` app: /posts pages tagged "posts" and
// cacheable by a shared cache, and the app's own revalidate route
// (app/api/revalidate/route.ts), which checks ?secret= and answers
// {"revalidated":true,"now":...}.
type nextOrigin struct {
	srv     *httptest.Server
	secret  string
	renders atomic.Int32
	routed  atomic.Int32 // calls of the revalidate route

	mu      sync.Mutex
	status  int           // what the revalidate route answers; 0: 200
	hold    chan struct{} // when set, the route waits on it before answering
	arrived chan struct{} // signalled when the route is called
}

func newNextOrigin(t *testing.T, secret string) *nextOrigin {
	t.Helper()
	o := &nextOrigin{secret: secret, arrived: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("/posts", func(w http.ResponseWriter, r *http.Request) {
		n := o.renders.Add(1)
		w.Header().Set("Cache-Control", "public, s-maxage=60")
		w.Header().Set("x-next-cache-tags", "posts,_N_T_/posts")
		fmt.Fprintf(w, "posts render %d", n)
	})
	mux.HandleFunc("/api/revalidate", func(w http.ResponseWriter, r *http.Request) {
		o.routed.Add(1)
		o.arrived <- struct{}{}
		o.mu.Lock()
		hold, status := o.hold, o.status
		o.mu.Unlock()
		if hold != nil {
			<-hold
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "__prerender_bypass=x; Path=/")
		if r.URL.Query().Get("secret") != o.secret {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Invalid secret"}`)
			return
		}
		if status != 0 && status != http.StatusOK {
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"revalidateTag failed"}`)
			return
		}
		fmt.Fprintf(w, `{"revalidated":true,"now":%d}`, time.Now().UnixMilli())
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

// waitRoute waits for a call of the revalidate route.
func (o *nextOrigin) waitRoute(t *testing.T) {
	t.Helper()
	select {
	case <-o.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the app's revalidate route was never called")
	}
}

func (o *nextOrigin) addr() string { return strings.TrimPrefix(o.srv.URL, "http://") }

func (o *nextOrigin) set(status int, hold chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status, o.hold = status, hold
}

// loadForwardExample loads examples/webhook-forward.Caddyfile as shipped,
// on a free port, with the app at origin.
func loadForwardExample(t *testing.T, origin string) (*testharness.InProcess, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", "webhook-forward.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	site := testharness.FreePort(t)
	cfg := strings.ReplaceAll(string(raw), "localhost:3000", origin)
	cfg = strings.ReplaceAll(cfg, "8080", strconv.Itoa(site))
	// The header comment would hide the global options block from the
	// harness, which adds its admin address there.
	var lines []string
	for _, line := range strings.Split(cfg, "\n") {
		if len(lines) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	t.Setenv("REVALIDATE_SECRET_TOKEN", exampleSecret)
	c := testharness.StartInProcess(t, strings.Join(lines, "\n"), "caddyfile")
	return c, "http://127.0.0.1:" + strconv.Itoa(site)
}

// The example as shipped, against an app that emulates Next's revalidate
// route: the cached page is served from the cache until the app's route
// answered 2xx, and purged after; an app that fails leaves the cache as it
// was and the CMS gets a 502.
func TestWebhookForwardExample(t *testing.T) {
	origin := newNextOrigin(t, exampleSecret)
	c, base := loadForwardExample(t, origin.addr())
	client := c.Client
	hook := base + "/api/revalidate?secret=" + exampleSecret + "&tag=posts"

	page := func() (string, string) {
		t.Helper()
		a := send(t, client, http.MethodGet, base+"/posts")
		if a.status != 200 {
			t.Fatalf("/posts: %d %q", a.status, a.body)
		}
		return a.header.Get("Cache-Status"), a.body
	}
	page()
	cs, cached := page()
	if !strings.HasPrefix(cs, "caddy-bff; hit") {
		t.Fatalf("/posts is not cached: %q", cs)
	}

	t.Run("recorded only after the app answered 2xx", func(t *testing.T) {
		before := invalidations(t, c)
		hold := make(chan struct{})
		origin.set(0, hold)
		done := make(chan reply, 1)
		go func() { done <- send(t, client, http.MethodGet, hook) }()
		origin.waitRoute(t)
		// The app is revalidating: Caddy has recorded nothing and still
		// serves the cached page.
		if cs, body := page(); !strings.HasPrefix(cs, "caddy-bff; hit") || body != cached {
			t.Errorf("while the app revalidates: Cache-Status %q body %q, want the cached %q", cs, body, cached)
		}
		if got := invalidations(t, c); got != before {
			t.Errorf("invalidations %d before the app answered, want %d", got, before)
		}
		close(hold)
		a := <-done
		origin.set(0, nil)
		m := wantJSON(t, a, 200, true)
		up, _ := m["upstream"].(map[string]any)
		if up == nil || up["status"] != float64(200) {
			t.Fatalf("upstream %v in %s", m["upstream"], a.body)
		}
		if b, _ := up["body"].(map[string]any); b == nil || b["revalidated"] != true {
			t.Errorf("upstream body %v", up["body"])
		}
		if a.header.Get("Set-Cookie") != "" {
			t.Errorf("the app's Set-Cookie reached the CMS: %q", a.header.Get("Set-Cookie"))
		}
		if got := invalidations(t, c); got != before+1 {
			t.Errorf("invalidations %d after the 200, want %d", got, before+1)
		}
		cs, body := page()
		if !strings.Contains(cs, "fwd=miss") || body == cached {
			t.Fatalf("after the 200: Cache-Status %q body %q: want the page purged", cs, body)
		}
		cached = body
	})

	t.Run("the app fails: 502, nothing recorded", func(t *testing.T) {
		page() // now a hit again
		before, routed := invalidations(t, c), origin.routed.Load()
		origin.set(http.StatusInternalServerError, nil)
		defer origin.set(0, nil)
		a := send(t, client, http.MethodGet, hook)
		origin.waitRoute(t)
		m := wantJSON(t, a, http.StatusBadGateway, false)
		if msg := fmt.Sprint(m["error"]); !strings.Contains(msg, "500") {
			t.Errorf("error %q does not name the app's status", msg)
		}
		if origin.routed.Load() != routed+1 || invalidations(t, c) != before {
			t.Errorf("app calls %d, invalidations %d (want %d)", origin.routed.Load()-routed, invalidations(t, c), before)
		}
		if cs, body := page(); !strings.HasPrefix(cs, "caddy-bff; hit") || body != cached {
			t.Errorf("after the 502: Cache-Status %q, want the page still cached", cs)
		}
	})

	t.Run("refused calls never reach the app", func(t *testing.T) {
		routed := origin.routed.Load()
		wantJSON(t, send(t, client, http.MethodGet, base+"/api/revalidate?secret=wrong&tag=posts"), 401, false)
		wantJSON(t, send(t, client, http.MethodGet, base+"/api/revalidate?secret="+exampleSecret), 400, false)
		wantJSON(t, send(t, client, http.MethodPost, base+"/api/revalidate?secret="+exampleSecret, withBody(`{"tag":"posts"}`)), 400, false)
		if origin.routed.Load() != routed {
			t.Fatal("a refused call reached the app")
		}
	})

	t.Run("POST body reaches the app", func(t *testing.T) {
		body := `{"tags": ["posts"], "paths": ["/posts"]}`
		m := wantJSON(t, send(t, client, http.MethodPost, hook, withBody(body), withHeader("Content-Type", "application/json")), 200, true)
		origin.waitRoute(t)
		if fmt.Sprint(m["paths"]) != "[/posts]" {
			t.Errorf("body %v", m)
		}
	})
}

// reverse_proxy cannot reach the app: its own 502 arrives as an error from
// the next handler. The CMS gets the webhook's JSON 502, nothing is
// recorded and the cached page stays. In a site block where tag_cache
// follows the webhook, the forwarded call passes through the cache
// unstored.
func TestWebhookForwardUnreachableApp(t *testing.T) {
	origin := newNextOrigin(t, itSecret)
	site, closed, block := testharness.FreePort(t), testharness.FreePort(t), testharness.FreePort(t)
	c := testharness.StartInProcess(t, fmt.Sprintf(`
http://127.0.0.1:%d {
	route /api/revalidate {
		revalidate_webhook {
			secret %s
			token_param secret
			forward
		}
		reverse_proxy 127.0.0.1:%d
	}
	handle /posts* {
		tag_cache
		reverse_proxy %s
	}
}
http://127.0.0.1:%d {
	tag_cache {
		ttl 1h
	}
	revalidate_webhook /api/revalidate {
		secret %s
		token_param secret
		forward
	}
	reverse_proxy %s
}`, site, itSecret, closed, origin.addr(), block, itSecret, origin.addr()), "caddyfile")
	base := fmt.Sprintf("http://127.0.0.1:%d", site)

	send(t, c.Client, http.MethodGet, base+"/posts")
	cached := send(t, c.Client, http.MethodGet, base+"/posts")
	if !strings.HasPrefix(cached.header.Get("Cache-Status"), "caddy-bff; hit") {
		t.Fatalf("/posts is not cached: %q", cached.header.Get("Cache-Status"))
	}
	before := invalidations(t, c)
	a := send(t, c.Client, http.MethodGet, base+"/api/revalidate?secret="+itSecret+"&tag=posts")
	m := wantJSON(t, a, http.StatusBadGateway, false)
	msg := fmt.Sprint(m["error"])
	if !strings.Contains(msg, "502") || strings.Contains(a.body, strconv.Itoa(closed)) {
		t.Errorf("error %q: want the status named and no internal address in %s", msg, a.body)
	}
	if invalidations(t, c) != before {
		t.Error("recorded although the app was unreachable")
	}
	again := send(t, c.Client, http.MethodGet, base+"/posts")
	if !strings.HasPrefix(again.header.Get("Cache-Status"), "caddy-bff; hit") || again.body != cached.body {
		t.Errorf("after the 502: Cache-Status %q, want the page still cached", again.header.Get("Cache-Status"))
	}

	// The site-block form: tag_cache (with a forced TTL) after the webhook
	// never answers a forwarded call from its store.
	hook := fmt.Sprintf("http://127.0.0.1:%d/api/revalidate?secret=%s&tag=posts", block, itSecret)
	routed := origin.routed.Load()
	for range 2 {
		wantJSON(t, send(t, c.Client, http.MethodGet, hook), 200, true)
		origin.waitRoute(t)
	}
	if got := origin.routed.Load() - routed; got != 2 {
		t.Fatalf("the app's route was called %d times for 2 calls: a forwarded call was answered from the cache", got)
	}
}
