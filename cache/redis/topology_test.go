package redis

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestRedisClusterPropagation runs two instances on a real three-primary
// Redis Cluster: every key of the tag clock shares one hash slot (whatever
// the tag holds), invalidations propagate, and the shared second level
// answers across instances with its entries spread over several slots.
func TestRedisClusterPropagation(t *testing.T) {
	cluster := testharness.StartCluster(t, 3, 0)
	cfg := func() *Config {
		return &Config{Cluster: &ClusterConfig{Addrs: cluster.Addrs()[:1]}, MaxFeedLag: caddy.Duration(5 * time.Second),
			SharedEntries: &SharedEntriesConfig{}}
	}
	a, ra := newStoreOn(t, cfg())
	b, _ := newStoreOn(t, cfg())

	k := ra.keys
	slot := cluster.Slot(k.clock)
	for _, key := range []string{k.epoch, k.feed, k.tag("h", "posts"), k.tag("s", "a{b}c"), k.tag("h", "{}"), k.tag("h", strings.Repeat("x", 300))} {
		if got := cluster.Slot(key); got != slot {
			t.Fatalf("key %q in slot %d, the clock's is %d", key, got, slot)
		}
	}
	entrySlots := map[int]bool{}
	for i := range 20 {
		entrySlots[cluster.Slot(k.entries+fmt.Sprintf("http://example.com/p%d", i))] = true
	}
	if len(entrySlots) < 2 {
		t.Fatalf("shared entries all in one slot: %v", entrySlots)
	}

	old := testEntry(b, "/page", "posts", "a{b}c")
	b.Put(old)
	for _, tag := range []string{"posts", "a{b}c"} {
		fresh := testEntry(b, "/x-"+tag, tag)
		b.Put(fresh)
		if _, err := a.InvalidateTags(t.Context(), []string{tag}, cache.ModeExpire); err != nil {
			t.Fatalf("invalidating %q on a cluster: %v", tag, err)
		}
		testharness.WaitFor(t, 3*time.Second, "invalidation of "+tag+" at b", func() bool { return b.Validity(fresh) == cache.HardInvalidated })
	}

	// The shared second level: an entry a stored is a hit for b.
	shared := testEntry(a, "/shared", "sh")
	a.Put(shared)
	req := httptest.NewRequest("GET", "http://example.com/shared", nil)
	var got *cache.Entry
	testharness.WaitFor(t, 3*time.Second, "a's entry in the shared level, read by b", func() bool {
		got = b.LookupShared(t.Context(), req)
		return got != nil
	})
	if string(got.Body) != "/shared" {
		t.Fatalf("shared entry body %q", got.Body)
	}
	if n, err := cluster.Do(k.entries+shared.Key, "EXISTS", k.entries+shared.Key); err != nil || n != "1" {
		t.Fatalf("shared entry key not where the cluster routes it: %q %v", n, err)
	}
	// Once its tag is invalidated, the shared copy is refused.
	if _, err := b.InvalidateTags(t.Context(), []string{"sh"}, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	c, _ := newStoreOn(t, cfg())
	if e := c.LookupShared(t.Context(), req); e != nil {
		t.Fatal("a shared entry whose tag was invalidated was served")
	}
}

// TestRedisWaitForReplicas: with a replica, an invalidation is acknowledged
// only once WAIT confirms it; without the replica it is refused within
// wait_timeout (the webhook answers 503), and nothing is silently dropped.
func TestRedisWaitForReplicas(t *testing.T) {
	primary := testharness.StartRedis(t)
	replica := testharness.StartReplica(t, primary)
	// Default: detected from the primary's connected replicas.
	_, rb := newStoreOn(t, &Config{URL: primary.URL()})
	if got := rb.requiredReplicas(); got != 1 {
		t.Fatalf("detected min_replicas with a replica connected: %d, want 1", got)
	}
	one := 1
	a, _ := newStoreOn(t, &Config{URL: primary.URL(), MinReplicas: &one, WaitTimeout: caddy.Duration(200 * time.Millisecond)})
	v, err := a.InvalidateTags(t.Context(), []string{"w"}, cache.ModeExpire)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := replica.Do("GET", "test:default:h:w"); got != fmt.Sprint(v) {
		t.Fatalf("acknowledged invalidation not on the replica: %q, want %d", got, v)
	}
	replica.Kill()
	start := time.Now()
	_, err = a.InvalidateTags(t.Context(), []string{"w2"}, cache.ModeExpire)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("invalidation without its replica: %v, want a refusal naming the replicas", err)
	}
	t.Logf("refused after %v: %v", time.Since(start), err)
	// A standalone server without replicas needs none.
	solo := testharness.StartRedis(t)
	_, rs := newStoreOn(t, &Config{URL: solo.URL()})
	if got := rs.requiredReplicas(); got != 0 {
		t.Fatalf("detected min_replicas without replicas: %d", got)
	}
}

// TestRedisSequenceWentBack makes Redis lose its newest writes while the
// epoch survives, as a failover to a replica that had not received them
// does: the instance that had read them detects the sequence going back,
// expires its entries and resynchronises; the one that recorded them is
// refused (BEHIND) until it has resynchronised too.
func TestRedisSequenceWentBack(t *testing.T) {
	redis := testharness.StartRedis(t)
	a, ra := newDistributedStore(t, redis.URL(), 5*time.Second)
	b, rb := newDistributedStore(t, redis.URL(), 5*time.Second)
	for i := range 3 {
		if _, err := a.InvalidateTags(t.Context(), []string{fmt.Sprint("lost-", i)}, cache.ModeExpire); err != nil {
			t.Fatal(err)
		}
	}
	seen := a.Clock().Now()
	testharness.WaitFor(t, 2*time.Second, "b read the writes about to be lost", func() bool { return b.Clock().Now() == seen })
	e := testEntry(b, "/kept", "untouched")
	b.Put(e)
	// The promoted replica had not received the last three writes.
	if _, err := redis.Do("SET", "test:default:clock", fmt.Sprint(seen-3)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		id, _ := redis.Do("XREVRANGE", "test:default:feed", "+", "-", "COUNT", "1")
		if _, err := redis.Do("XDEL", "test:default:feed", strings.Split(id, "\n")[0]); err != nil {
			t.Fatal(err)
		}
	}
	// A third instance, which never saw them, records with reused numbers.
	c, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	v, err := c.InvalidateTags(t.Context(), []string{"after-failover"}, cache.ModeExpire)
	if err != nil {
		t.Fatal(err)
	}
	if v > seen {
		t.Fatalf("the sequence was not reused (%d > %d): the test did not simulate the loss", v, seen)
	}
	testharness.WaitFor(t, 3*time.Second, "b expired its entries", func() bool { return b.Validity(e) == cache.HardInvalidated })
	testharness.WaitFor(t, 3*time.Second, "b resynchronised", rb.Trustworthy)
	testharness.WaitFor(t, 3*time.Second, "a resynchronised", ra.Trustworthy)

	// A second loss, with nothing new in the feed to reveal it: the
	// instance that recorded the lost writes is refused, then resynchronises.
	for i := range 3 {
		if _, err := a.InvalidateTags(t.Context(), []string{fmt.Sprint("lost-again-", i)}, cache.ModeExpire); err != nil {
			t.Fatal(err)
		}
	}
	now := a.Clock().Now()
	if _, err := redis.Do("SET", "test:default:clock", fmt.Sprint(now-3)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.InvalidateTags(t.Context(), []string{"x"}, cache.ModeExpire); err == nil || !strings.Contains(err.Error(), "BEHIND") {
		t.Fatalf("a records while Redis is behind what it has seen: %v, want BEHIND", err)
	}
	if ra.Trustworthy() {
		t.Fatal("a still trusts its entries after Redis refused it as behind")
	}
	testharness.WaitFor(t, 3*time.Second, "a resynchronised", ra.Trustworthy)
	checkRecovered(t, a, b, 0)
}

// TestRedisSentinelFailover kills the primary of a real Sentinel deployment
// (one primary, one replica, three sentinels) in the middle of 1,000
// invalidations: each is acknowledged or refused, every acknowledged one is
// still in Redis after the failover and honoured by both instances, and the
// instances resynchronise by themselves.
func TestRedisSentinelFailover(t *testing.T) {
	primary := testharness.StartRedis(t)
	replica := testharness.StartReplica(t, primary)
	sentinels := testharness.StartSentinels(t, primary, "bff", 3, 1)
	cfg := func() *Config {
		return &Config{Sentinel: &SentinelConfig{MasterName: "bff", Addrs: sentinels.Addrs()}, MaxFeedLag: caddy.Duration(time.Second)}
	}
	a, ra := newStoreOn(t, cfg())
	b, rb := newStoreOn(t, cfg())
	oldA, oldB := testEntry(a, "/old"), testEntry(b, "/old")
	a.Put(oldA)
	b.Put(oldB)

	killedAt, restarted := time.Time{}, false
	acked, refused := recordRun(t, a, 1000, "f-", 10*time.Millisecond, func(i int) {
		if i == 300 {
			primary.Kill()
			killedAt = time.Now()
		}
		if !killedAt.IsZero() && !restarted && sentinels.FailedOverTo(replica.Addr()) {
			// The orchestrator brings the old node back, empty; Sentinel
			// turns it into a replica of the new primary.
			t.Logf("failover observed %v after the kill (at invalidation %d)", time.Since(killedAt).Round(time.Millisecond), i)
			primary.Restart()
			restarted = true
		}
	})
	if !restarted {
		t.Fatal("Sentinel did not fail over during the run")
	}
	testharness.WaitFor(t, 15*time.Second, "both instances resynchronised", func() bool { return ra.Trustworthy() && rb.Trustworthy() })
	master := sentinels.MasterAddr()
	lost := 0
	for _, tag := range acked {
		if v, err := testharness.Do(master, "GET", "test:default:h:"+tag); err != nil || v == "" {
			lost++
			t.Errorf("acknowledged invalidation of %s is not in the new primary (%v)", tag, err)
			continue
		}
		for name, s := range map[string]*cache.Store{"a": a, "b": b} {
			old := oldA
			if name == "b" {
				old = oldB
			}
			if got := s.Clock().Check(old.Clock, []string{tag}); got != cache.HardInvalidated {
				lost++
				t.Errorf("acknowledged invalidation of %s not honoured by %s: %v", tag, name, got)
			}
		}
	}
	if len(refused) == 0 || len(acked) < 300 {
		t.Fatalf("acknowledged %d, refused %d: the run did not exercise the failover", len(acked), len(refused))
	}
	checkRecovered(t, a, b, 15*time.Second)
	t.Logf("Sentinel failover: 1000 invalidations, acknowledged %d, refused %d, lost %d (new primary %s)", len(acked), len(refused), lost, master)
}

// TestRedisConfigTopologies checks what each JSON configuration gives the
// universal client, and what it refuses.
func TestRedisConfigTopologies(t *testing.T) {
	t.Setenv("TEST_SENTINEL_PASSWORD", "s3cret")
	repl := caddy.NewReplacer()
	opts, err := (&Config{Sentinel: &SentinelConfig{MasterName: "m", Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, Password: "{env.TEST_SENTINEL_PASSWORD}"}, DB: new(int)}).provision(repl)
	if err != nil {
		t.Fatal(err)
	}
	if opts.MasterName != "m" || len(opts.Addrs) != 2 || opts.SentinelPassword != "s3cret" || opts.IsClusterMode {
		t.Fatalf("sentinel options: %+v", opts)
	}
	opts, err = (&Config{Cluster: &ClusterConfig{Addrs: []string{"10.0.0.1:6379"}}}).provision(repl)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.IsClusterMode || opts.MasterName != "" || len(opts.Addrs) != 1 {
		t.Fatalf("cluster options: %+v", opts)
	}
	opts, err = (&Config{URL: "redis://u:p@10.0.0.1:6380/3"}).provision(repl)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addrs[0] != "10.0.0.1:6380" || opts.DB != 3 || opts.Username != "u" || opts.Password != "p" || opts.IsClusterMode {
		t.Fatalf("url options: %+v", opts)
	}
	neg := -1
	for name, bad := range map[string]*Config{
		"nothing":         {},
		"url and cluster": {URL: "redis://x:1", Cluster: &ClusterConfig{Addrs: []string{"x:1"}}},
		"no master name":  {Sentinel: &SentinelConfig{Addrs: []string{"x:1"}}},
		"no sentinels":    {Sentinel: &SentinelConfig{MasterName: "m"}},
		"no seeds":        {Cluster: &ClusterConfig{}},
		"no port":         {Cluster: &ClusterConfig{Addrs: []string{"x"}}},
		"brace prefix":    {Cluster: &ClusterConfig{Addrs: []string{"x:1"}}, KeyPrefix: "a{"},
		"negative":        {URL: "redis://x:1", MinReplicas: &neg},
		"wait too long":   {URL: "redis://x:1", WaitTimeout: caddy.Duration(time.Second)},
		"empty password":  {Sentinel: &SentinelConfig{MasterName: "m", Addrs: []string{"x:1"}, Password: "{env.TEST_UNSET_VARIABLE_14}"}},
	} {
		if _, err := bad.provision(repl); err == nil {
			t.Errorf("%s: provisioned, want an error", name)
		}
	}
}

// TestDecodeTags checks the feed's fast tag decoding against what the
// record script's cjson really writes, for tags that need escaping too.
func TestDecodeTags(t *testing.T) {
	redis := testharness.StartRedis(t)
	cases := [][]string{
		{"posts"}, {"/blog/a", "path:/x"}, {""}, {"", ""}, {`a","b`}, {`quo"te`}, {`back\slash`}, {`a\/b`},
		{"a,b", "[c]"}, {"ünïcode", "tab\there"}, {strings.Repeat("x", 500), "{}"},
	}
	for _, tags := range cases {
		args := append([]string{"EVAL", "return cjson.encode(ARGV)", "0"}, tags...)
		encoded, err := redis.Do(args...)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeTags(encoded)
		if !slices.Equal(got, tags) {
			t.Errorf("decodeTags(%q) = %q, want %q", encoded, got, tags)
		}
	}
}

// TestRedisClusterFailover runs on a real Cluster of three primaries with a
// replica each: invalidations wait for the replica of the primary serving
// the tag clock's slot; that primary is killed in the middle of 300
// invalidations, its replica is promoted, and every acknowledged one is
// still there and honoured by both instances once they have resynchronised.
func TestRedisClusterFailover(t *testing.T) {
	cluster := testharness.StartCluster(t, 3, 1)
	cfg := func() *Config {
		return &Config{Cluster: &ClusterConfig{Addrs: cluster.Addrs()}, MaxFeedLag: caddy.Duration(time.Second)}
	}
	a, ra := newStoreOn(t, cfg())
	b, rb := newStoreOn(t, cfg())
	if got := ra.requiredReplicas(); got != 1 {
		t.Fatalf("detected min_replicas on a cluster with replicas: %d, want 1", got)
	}
	owner := cluster.Owner(ra.keys.clock)
	oldA, oldB := testEntry(a, "/old"), testEntry(b, "/old")
	a.Put(oldA)
	b.Put(oldB)
	acked, refused := recordRun(t, a, 300, "c-", 20*time.Millisecond, func(i int) {
		if i == 100 {
			owner.Kill()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !ra.Trustworthy() || !rb.Trustworthy() {
		if time.Now().After(deadline) {
			out, _ := cluster.Primaries()[0].Do("CLUSTER", "NODES")
			t.Fatalf("not resynchronised: a %+v, b %+v; acked %d refused %d\n%s", ra.Status(), rb.Status(), len(acked), len(refused), out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkRecovered(t, a, b, 15*time.Second)
	lost := 0
	for _, tag := range acked {
		key := ra.keys.tag("h", tag)
		if v, err := cluster.Do(key, "GET", key); err != nil || v == "" {
			lost++
			t.Errorf("acknowledged invalidation of %s is not in the promoted primary (%v)", tag, err)
		}
		if a.Clock().Check(oldA.Clock, []string{tag}) != cache.HardInvalidated || b.Clock().Check(oldB.Clock, []string{tag}) != cache.HardInvalidated {
			lost++
			t.Errorf("acknowledged invalidation of %s not honoured", tag)
		}
	}
	if len(refused) == 0 || len(acked) < 100 {
		t.Fatalf("acknowledged %d, refused %d: the run did not exercise the failover", len(acked), len(refused))
	}
	t.Logf("Cluster failover: 300 invalidations, acknowledged %d, refused %d, lost %d", len(acked), len(refused), lost)
}
