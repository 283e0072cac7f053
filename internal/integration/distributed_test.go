package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// instance is one Caddy of a distributed deployment, run from the built
// binary on its own ports.
type instance struct {
	name string
	proc *testharness.Process
	base string
}

func startInstance(t *testing.T, name, redisURL string) *instance {
	t.Helper()
	port, upstream := testharness.FreePort(t), testharness.FreePort(t)
	caddyfile := fmt.Sprintf(`{
	tag_cache {
		max_size 32MiB
		redis %s {
			key_prefix it:
			max_feed_lag 1s
			read_timeout 300ms
			shared_entries {
				ttl 10m
			}
		}
	}
}
http://:%d {
	revalidate_webhook /api/revalidate {
		secret {env.REVALIDATE_SECRET_TOKEN}
	}
	tag_cache
	reverse_proxy 127.0.0.1:%d
}
http://:%d {
	header Cache-Control "public, max-age=600"
	header Cache-Tag "all, {path}"
	respond "%s {time.now.unix_nano}"
}`, redisURL, port, upstream, upstream, name)
	proc := testharness.StartBinary(t, caddyfile, "REVALIDATE_SECRET_TOKEN="+webhookSecret)
	return &instance{name: name, proc: proc, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

const webhookSecret = "distributed-test-secret-0123456789"

// webhook calls the seed's revalidation endpoint on the instance.
func (in *instance) webhook(t *testing.T, tag string) (*http.Response, string) {
	t.Helper()
	return doRequest(t, http.DefaultClient, "GET", in.base+"/api/revalidate?token="+webhookSecret+"&tag="+tag, nil, nil)
}

// fetch GETs path with the Host every instance shares behind a load
// balancer, so all instances compute the same cache keys.
func (in *instance) fetch(t *testing.T, path string) (cacheStatus, body string) {
	t.Helper()
	resp, b := doRequest(t, http.DefaultClient, "GET", in.base+path, nil, nil, "app.test")
	return resp.Header.Get("Cache-Status"), b
}

func (in *instance) revalidate(t *testing.T, body string) (*http.Response, string) {
	t.Helper()
	return doRequest(t, http.DefaultClient, "POST", "http://"+in.proc.AdminAddr+"/tag_cache/revalidate", []byte(body), nil)
}

func isHit(cacheStatus string) bool {
	return strings.HasPrefix(cacheStatus, "caddy-bff; hit")
}

// TestDistributedInvalidation runs three Caddy instances on one real
// redis-server: an invalidation at one is honoured by the others, a new
// instance answers from the shared second level, and losing Redis makes the
// webhook path answer 503 and the instances revalidate until it is back.
func TestDistributedInvalidation(t *testing.T) {
	redis := testharness.StartRedis(t)
	a := startInstance(t, "A", redis.URL())
	b := startInstance(t, "B", redis.URL())
	c := startInstance(t, "C", redis.URL())
	instances := []*instance{a, b, c}

	for _, in := range instances {
		in.fetch(t, "/news")
		if cs, _ := in.fetch(t, "/news"); !isHit(cs) {
			t.Fatalf("%s: second /news is not a hit: %q", in.name, cs)
		}
	}
	resp, body := a.webhook(t, "/news")
	if resp.StatusCode != 200 || !strings.Contains(body, `"success":true`) {
		t.Fatalf("webhook at A: %d %s", resp.StatusCode, body)
	}
	for _, in := range instances {
		deadline := time.Now().Add(2 * time.Second)
		for {
			cs, _ := in.fetch(t, "/news")
			if !isHit(cs) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still serves /news from its cache after A's invalidation", in.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The shared second level: D never fetched /shared, A did.
	_, fromA := a.fetch(t, "/shared")
	testharness.WaitFor(t, 3*time.Second, "A's entry in the shared level", func() bool {
		n, _ := redis.Do("EXISTS", "it:default:e:http://app.test/shared")
		return n == "1"
	})
	d := startInstance(t, "D", redis.URL())
	testharness.WaitFor(t, 5*time.Second, "D synchronised", func() bool {
		_, st := doRequest(t, http.DefaultClient, "GET", "http://"+d.proc.AdminAddr+"/tag_cache/stats", nil, nil)
		return strings.Contains(st, `"trusted":true`)
	})
	cs, fromD := d.fetch(t, "/shared")
	if !isHit(cs) || !strings.Contains(cs, "detail=shared") || fromD != fromA {
		t.Fatalf("D's first /shared: Cache-Status %q body %q, want A's %q from the shared level", cs, fromD, fromA)
	}
	if cs, _ := d.fetch(t, "/shared"); !isHit(cs) || strings.Contains(cs, "shared") {
		t.Fatalf("D's second /shared should be a local hit: %q", cs)
	}

	// Redis goes away: invalidations cannot be recorded and are refused;
	// beyond max_feed_lag no instance serves its entries as fresh.
	b.fetch(t, "/cut")
	if cs, _ := b.fetch(t, "/cut"); !isHit(cs) {
		t.Fatalf("B's /cut not cached before the cut: %q", cs)
	}
	redis.Kill()
	resp, body = a.revalidate(t, `{"tags":["all"]}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "not recorded") {
		t.Fatalf("admin revalidate with Redis down: %d %q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = b.webhook(t, "all")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"success":false`) {
		t.Fatalf("webhook with Redis down: %d %q %s, want 503 with Retry-After and success false", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	time.Sleep(1500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if cs, _ := b.fetch(t, "/cut"); isHit(cs) {
			t.Fatalf("B served /cut as a fresh hit while cut off from its feed: %q", cs)
		}
	}
	_, st := doRequest(t, http.DefaultClient, "GET", "http://"+b.proc.AdminAddr+"/tag_cache/stats", nil, nil)
	if !strings.Contains(st, `"trusted":false`) {
		t.Fatalf("B's stats do not show the lost feed: %s", st)
	}

	// Redis is back (empty: no persistence): the instances recover alone.
	redis.Restart()
	for _, in := range instances {
		testharness.WaitFor(t, 10*time.Second, in.name+" recovered", func() bool {
			_, st := doRequest(t, http.DefaultClient, "GET", "http://"+in.proc.AdminAddr+"/tag_cache/stats", nil, nil)
			return strings.Contains(st, `"trusted":true`)
		})
	}
	resp, body = a.revalidate(t, `{"tags":["nothing"]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("revalidate after recovery: %d %s", resp.StatusCode, body)
	}
	b.fetch(t, "/after")
	if cs, _ := b.fetch(t, "/after"); !isHit(cs) {
		t.Fatalf("B does not cache again after recovery: %q", cs)
	}
}

// TestDistributedRateLimit shares one rate-limit zone between two instances
// through caddy-ratelimit's distributed mode over a storage both use (here a
// shared file_system directory; in production any Caddy storage module all
// instances share). Events spent at A count at B.
func TestDistributedRateLimit(t *testing.T) {
	storage := t.TempDir()
	start := func() *instance {
		port := testharness.FreePort(t)
		caddyfile := fmt.Sprintf(`{
	storage file_system %q
}
http://:%d {
	rate_limit {
		distributed {
			read_interval 100ms
			write_interval 100ms
		}
		zone shared {
			key static
			events 4
			window 1m
		}
	}
	respond "ok"
}`, storage, port)
		return &instance{proc: testharness.StartBinary(t, caddyfile), base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	}
	a, b := start(), start()
	for i := range 4 {
		if resp, _ := doRequest(t, http.DefaultClient, "GET", a.base+"/", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d at A: %d, want 200 within the limit", i+1, resp.StatusCode)
		}
	}
	// Once A has written its state and B has read it (ten intervals is
	// ample), B refuses its very first request: on its own it would allow 4.
	time.Sleep(time.Second)
	resp, _ := doRequest(t, http.DefaultClient, "GET", b.base+"/", nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("B's first request after A spent the shared limit: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
