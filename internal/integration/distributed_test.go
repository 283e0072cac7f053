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
	return startInstanceOn(t, name, redisURL+" {")
}

// startInstanceOn starts an instance whose redis option opens with
// redisOpen: "<url> {", or "{" and a sentinel or cluster line.
func startInstanceOn(t *testing.T, name, redisOpen string) *instance {
	t.Helper()
	port, upstream := testharness.FreePort(t), testharness.FreePort(t)
	caddyfile := fmt.Sprintf(`{
	tag_cache {
		max_size 32MiB
		redis %s
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
}`, redisOpen, port, upstream, upstream, name)
	proc := testharness.StartBinary(t, caddyfile, "REVALIDATE_SECRET_TOKEN="+webhookSecret)
	return &instance{name: name, proc: proc, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

const webhookSecret = "distributed-test-secret-0123456789"

// webhook calls the seed's revalidation endpoint on the instance.
func (in *instance) webhook(t *testing.T, tag string) reply {
	t.Helper()
	return send(t, http.DefaultClient, "GET", in.base+"/api/revalidate?token="+webhookSecret+"&tag="+tag)
}

// fetch GETs path with the Host every instance shares behind a load
// balancer, so all instances compute the same cache keys.
func (in *instance) fetch(t *testing.T, path string) (cacheStatus, body string) {
	t.Helper()
	r := send(t, http.DefaultClient, "GET", in.base+path, withHost("app.test"))
	return r.header.Get("Cache-Status"), r.body
}

func (in *instance) revalidate(t *testing.T, body string) reply {
	t.Helper()
	return send(t, http.DefaultClient, "POST", "http://"+in.proc.AdminAddr+"/tag_cache/revalidate", withBody(body))
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

	checkInvalidationAndShared(t, instances, func(key string) bool {
		n, _ := redis.Do("EXISTS", key)
		return n == "1"
	}, func() *instance { return startInstance(t, "D", redis.URL()) })

	// Redis goes away: invalidations cannot be recorded and are refused;
	// beyond max_feed_lag no instance serves its entries as fresh.
	b.fetch(t, "/cut")
	if cs, _ := b.fetch(t, "/cut"); !isHit(cs) {
		t.Fatalf("B's /cut not cached before the cut: %q", cs)
	}
	redis.Kill()
	r := a.revalidate(t, `{"tags":["all"]}`)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "not recorded") {
		t.Fatalf("admin revalidate with Redis down: %d %q %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	r = b.webhook(t, "all")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"success":false`) {
		t.Fatalf("webhook with Redis down: %d %q %s, want 503 with Retry-After and success false", r.status, r.header.Get("Retry-After"), r.body)
	}
	time.Sleep(1500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if cs, _ := b.fetch(t, "/cut"); isHit(cs) {
			t.Fatalf("B served /cut as a fresh hit while cut off from its feed: %q", cs)
		}
	}
	st := send(t, http.DefaultClient, "GET", "http://"+b.proc.AdminAddr+"/tag_cache/stats").body
	if !strings.Contains(st, `"trusted":false`) {
		t.Fatalf("B's stats do not show the lost feed: %s", st)
	}

	// Redis is back (empty: no persistence): the instances recover alone.
	redis.Restart()
	for _, in := range instances {
		in.waitTrusted(t, 10*time.Second)
	}
	r = a.revalidate(t, `{"tags":["nothing"]}`)
	if r.status != 200 {
		t.Fatalf("revalidate after recovery: %d %s", r.status, r.body)
	}
	b.fetch(t, "/after")
	if cs, _ := b.fetch(t, "/after"); !isHit(cs) {
		t.Fatalf("B does not cache again after recovery: %q", cs)
	}
}

// checkInvalidationAndShared checks, on instances sharing one Redis
// deployment, that an invalidation at the first is honoured by all, and that
// a new instance (started by newInstance) answers from the shared second
// level what the first fetched. exists reports whether a key is in Redis.
func checkInvalidationAndShared(t *testing.T, instances []*instance, exists func(key string) bool, newInstance func() *instance) {
	t.Helper()
	a := instances[0]
	for _, in := range instances {
		in.fetch(t, "/news")
		if cs, _ := in.fetch(t, "/news"); !isHit(cs) {
			t.Fatalf("%s: second /news is not a hit: %q", in.name, cs)
		}
	}
	r := a.webhook(t, "/news")
	if r.status != 200 || !strings.Contains(r.body, `"success":true`) {
		t.Fatalf("webhook at A: %d %s", r.status, r.body)
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
		return exists("it:default:e:http://app.test/shared")
	})
	d := newInstance()
	d.waitTrusted(t, 5*time.Second)
	cs, fromD := d.fetch(t, "/shared")
	if !isHit(cs) || !strings.Contains(cs, "detail=shared") || fromD != fromA {
		t.Fatalf("D's first /shared: Cache-Status %q body %q, want A's %q from the shared level", cs, fromD, fromA)
	}
	if cs, _ := d.fetch(t, "/shared"); !isHit(cs) || strings.Contains(cs, "shared") {
		t.Fatalf("D's second /shared should be a local hit: %q", cs)
	}
}

// TestDistributedCluster runs the distributed checks on a real Redis
// Cluster of three primaries: invalidations propagate through the tag
// clock's slot, and a new instance answers from the shared second level.
func TestDistributedCluster(t *testing.T) {
	cluster := testharness.StartCluster(t, 3, 0)
	open := "{\n\t\t\tcluster " + strings.Join(cluster.Addrs(), " ")
	a := startInstanceOn(t, "A", open)
	b := startInstanceOn(t, "B", open)
	c := startInstanceOn(t, "C", open)
	checkInvalidationAndShared(t, []*instance{a, b, c}, func(key string) bool {
		n, _ := cluster.Do(key, "EXISTS", key)
		return n == "1"
	}, func() *instance { return startInstanceOn(t, "D", open) })
	// Every key of the tag clock is in one slot; the shared entry elsewhere
	// is allowed (entries spread).
	if s1, s2 := cluster.Slot("it:{default}:clock"), cluster.Slot("it:{default}:h:/news"); s1 != s2 {
		t.Fatalf("clock in slot %d, tag record in %d", s1, s2)
	}
	if n, err := cluster.Do("it:{default}:h:/news", "EXISTS", "it:{default}:h:/news"); err != nil || n != "1" {
		t.Fatalf("the /news invalidation is not recorded in the cluster: %q %v", n, err)
	}
}

// TestDistributedSentinelFailover runs two Caddy instances on a real Sentinel
// deployment (one primary, one replica, three sentinels) and kills the
// primary in the middle of 1,000 invalidations sent through the webhook:
// each is answered 200 or 503 with Retry-After, and every acknowledged one
// is still recorded after the failover and honoured by both instances.
func TestDistributedSentinelFailover(t *testing.T) {
	primary := testharness.StartRedis(t)
	replica := testharness.StartReplica(t, primary)
	sentinels := testharness.StartSentinels(t, primary, "bff", 3, 1)
	open := "{\n\t\t\tsentinel bff " + strings.Join(sentinels.Addrs(), " ")
	instances := []*instance{startInstanceOn(t, "A", open), startInstanceOn(t, "B", open)}
	for _, in := range instances {
		in.waitTrusted(t, 10*time.Second)
	}
	const n = 1000
	path := func(i int) string { return fmt.Sprintf("/p/%d", i) }
	// Both instances hold every page before the run.
	for _, in := range instances {
		for i := range n {
			in.fetch(t, path(i))
		}
		if cs, _ := in.fetch(t, path(n-1)); !isHit(cs) {
			t.Fatalf("%s: pages not cached before the run: %q", in.name, cs)
		}
	}

	var acked, refused []int
	var killedAt time.Time
	restarted := false
	for i := range n {
		if i == 300 {
			primary.Kill()
			killedAt = time.Now()
		}
		if !killedAt.IsZero() && !restarted && sentinels.FailedOverTo(replica.Addr()) {
			t.Logf("failover observed %v after the kill (at invalidation %d)", time.Since(killedAt).Round(time.Millisecond), i)
			primary.Restart() // back empty; Sentinel makes it a replica
			restarted = true
		}
		r := instances[i%2].webhook(t, path(i))
		switch {
		case r.status == http.StatusOK && strings.Contains(r.body, `"success":true`):
			acked = append(acked, i)
		case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "":
			refused = append(refused, i)
		default:
			t.Fatalf("invalidation %d: %d %q %s, want 200 or 503 with Retry-After", i, r.status, r.header.Get("Retry-After"), r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !restarted || len(refused) == 0 {
		t.Fatalf("the run did not exercise a failover (refused %d)", len(refused))
	}
	for _, in := range instances {
		in.waitTrusted(t, 15*time.Second)
	}
	master := sentinels.MasterAddr()
	lost := 0
	for _, i := range acked {
		if v, err := testharness.Do(master, "GET", "it:default:h:"+path(i)); err != nil || v == "" {
			lost++
			t.Errorf("acknowledged invalidation of %s is not recorded at the new primary %s (%v)", path(i), master, err)
		}
		for _, in := range instances {
			if cs, _ := in.fetch(t, path(i)); isHit(cs) {
				lost++
				t.Errorf("%s serves %s from its cache after its acknowledged invalidation: %q", in.name, path(i), cs)
			}
		}
	}
	t.Logf("Sentinel failover through the webhook: %d invalidations, acknowledged %d, refused 503 %d, lost %d", n, len(acked), len(refused), lost)
	if len(acked) < 300 {
		t.Fatalf("only %d acknowledged", len(acked))
	}
}

// waitTrusted waits until the instance's stats show a trusted backend.
func (in *instance) waitTrusted(t *testing.T, limit time.Duration) {
	t.Helper()
	testharness.WaitFor(t, limit, in.name+" trusts its feed", func() bool {
		st := send(t, http.DefaultClient, "GET", "http://"+in.proc.AdminAddr+"/tag_cache/stats").body
		return strings.Contains(st, `"trusted":true`)
	})
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
		if r := send(t, http.DefaultClient, "GET", a.base+"/"); r.status != 200 {
			t.Fatalf("request %d at A: %d, want 200 within the limit", i+1, r.status)
		}
	}
	// Once A has written its state and B has read it (ten intervals is
	// ample), B refuses its very first request: on its own it would allow 4.
	time.Sleep(time.Second)
	r := send(t, http.DefaultClient, "GET", b.base+"/")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("B's first request after A spent the shared limit: %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
}
