package redis

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// newDistributedStore returns a store whose backend is Redis at url, as one
// instance of a cluster would have.
func newDistributedStore(t *testing.T, url string, maxFeedLag time.Duration) (*cache.Store, *backend) {
	t.Helper()
	return newStoreOn(t, &Config{URL: url, MaxFeedLag: caddy.Duration(maxFeedLag)})
}

// newStoreOn returns a store whose backend is the Redis deployment cfg
// describes (its key prefix is set to "test:"), made as the tag_cache app
// makes it, once it has synchronised.
func newStoreOn(t *testing.T, cfg *Config) (*cache.Store, *backend) {
	t.Helper()
	s, err := cache.NewStore("default", cache.StoreConfig{MaxSize: 64 << 20, MaxRetention: time.Hour, KeepStale: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyPrefix = "test:"
	if err := cfg.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	b, err := cfg.NewBackend("default", s.Clock(), time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s.UseBackend(b)
	t.Cleanup(s.Close)
	rb := b.(*backend)
	testharness.WaitFor(t, 5*time.Second, "backend synchronised", rb.Trustworthy)
	return s, rb
}

// recordRun records n invalidations at s, one new tag each (prefix and the
// index), calling before(i) ahead of the i-th and pausing after each; it
// returns the tags acknowledged and those refused.
func recordRun(t *testing.T, s *cache.Store, n int, prefix string, pause time.Duration, before func(i int)) (acked, refused []string) {
	t.Helper()
	for i := range n {
		before(i)
		tag := prefix + strconv.Itoa(i)
		if _, err := s.InvalidateTags(t.Context(), []string{tag}, cache.ModeExpire); err != nil {
			refused = append(refused, tag)
		} else {
			acked = append(acked, tag)
		}
		time.Sleep(pause)
	}
	return acked, refused
}

// checkRecovered checks that instances are back to normal after a loss: an
// entry reader fetches now is valid, and an invalidation at writer (retried
// for up to retry while the deployment settles) reaches it.
func checkRecovered(t *testing.T, writer, reader *cache.Store, retry time.Duration) {
	t.Helper()
	fresh := testEntry(reader, "/fresh", "after")
	reader.Put(fresh)
	if got := reader.Validity(fresh); got != cache.Valid {
		t.Fatalf("entry fetched after recovery: %v, want cache.Valid", got)
	}
	testharness.WaitFor(t, retry+time.Second, "an invalidation acknowledged after recovery", func() bool {
		_, err := writer.InvalidateTags(t.Context(), []string{"after"}, cache.ModeExpire)
		return err == nil
	})
	testharness.WaitFor(t, 2*time.Second, "the invalidation at the reader", func() bool { return reader.Validity(fresh) == cache.HardInvalidated })
}

func testEntry(s *cache.Store, path string, tags ...string) *cache.Entry {
	now := time.Now()
	key := "http://example.com" + path
	return &cache.Entry{Key: key, PrimaryKey: key, Path: path, Status: 200, Header: http.Header{},
		Body: []byte(path), RequestTime: now, ResponseTime: now, DateValue: now, Reuse: cache.Reuse{Lifetime: time.Hour},
		Tags: append([]string{cache.PathTag(path)}, tags...), Clock: s.Clock().Now()}
}

// TestRedisPropagation records invalidations at one instance and measures
// how long each takes to reach another through the feed. The latencies are
// reported (and written to $DISTRIBUTED_REPORT when set), not asserted.
func TestRedisPropagation(t *testing.T) {
	redis := testharness.StartRedis(t)
	a, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	b, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	entry := testEntry(b, "/page", "posts")
	if !b.Put(entry) {
		t.Fatal("entry not stored")
	}
	const n = 1000
	latencies := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		v, err := a.InvalidateTags(t.Context(), []string{fmt.Sprintf("tag-%d", i)}, cache.ModeExpire)
		if err != nil {
			t.Fatal(err)
		}
		for b.Clock().Now() < v {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("invalidation %d (clock %d) never reached the other instance", i, v)
			}
			time.Sleep(50 * time.Microsecond)
		}
		latencies = append(latencies, time.Since(start))
	}
	// The invalidations reached b's tag records, not only its clock.
	if got := b.Clock().Check(entry.Clock, []string{"tag-999"}); got != cache.HardInvalidated {
		t.Fatalf("b's view of tag-999: %v, want cache.HardInvalidated", got)
	}
	if got := b.Validity(entry); got != cache.Valid {
		t.Fatalf("entry without invalidated tags: %v, want cache.Valid", got)
	}
	if _, err := a.Invalidate(t.Context(), []string{"posts"}, nil, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, 2*time.Second, "posts invalidation at b", func() bool { return b.Validity(entry) == cache.HardInvalidated })

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p50, p99, worst := latencies[n/2], latencies[n*99/100], latencies[n-1]
	report := fmt.Sprintf("propagation over %d invalidations (record at A until applied at B, loopback): p50 %v, p99 %v, max %v\n", n, p50, p99, worst)
	t.Log(report)
	if path := os.Getenv("DISTRIBUTED_REPORT"); path != "" {
		_ = os.WriteFile(filepath.Clean(path), []byte(report), 0o644)
	}
}

// TestRedisKilledNothingLost kills Redis while invalidations are being
// recorded: each one is either refused or, once Redis is back, visible on
// the other instance. Redis runs without persistence, so its restart loses
// every key: the instances must notice and expire what they cannot vouch for.
func TestRedisKilledNothingLost(t *testing.T) {
	redis := testharness.StartRedis(t)
	a, _ := newDistributedStore(t, redis.URL(), 500*time.Millisecond)
	b, rbB := newDistributedStore(t, redis.URL(), 500*time.Millisecond)
	oldEntry := testEntry(b, "/old")
	b.Put(oldEntry)

	acknowledged, refused := recordRun(t, a, 400, "k-", 2*time.Millisecond, func(i int) {
		switch i {
		case 150:
			redis.Kill()
		case 250:
			redis.Restart()
		}
	})
	if len(refused) == 0 {
		t.Fatal("no invalidation was refused while Redis was down: the test did not exercise the outage")
	}
	if len(acknowledged) < 150 {
		t.Fatalf("only %d invalidations acknowledged", len(acknowledged))
	}
	testharness.WaitFor(t, 10*time.Second, "b trusts its feed again", rbB.Trustworthy)
	// Every acknowledged invalidation covers an entry b held from before.
	for _, tag := range acknowledged {
		if got := b.Clock().Check(oldEntry.Clock, []string{tag}); got != cache.HardInvalidated {
			t.Fatalf("acknowledged invalidation of %s is not visible at b: %v", tag, got)
		}
	}
	checkRecovered(t, a, b, 0)
	t.Logf("acknowledged %d, refused %d", len(acknowledged), len(refused))
}

// TestRedisPartitionStopsFreshServing cuts an instance off from its feed:
// beyond max_feed_lag no entry is valid without revalidation, and it
// recovers by itself.
func TestRedisPartitionStopsFreshServing(t *testing.T) {
	redis := testharness.StartRedis(t)
	b, rb := newDistributedStore(t, redis.URL(), 300*time.Millisecond)
	e := testEntry(b, "/p")
	b.Put(e)
	if got := b.Validity(e); got != cache.Valid {
		t.Fatalf("before the partition: %v", got)
	}
	redis.Kill()
	testharness.WaitFor(t, 3*time.Second, "entry unverified", func() bool { return b.Validity(e) == cache.Unverified })
	testharness.WaitFor(t, 5*time.Second, "backend reported unhealthy", func() bool { return !b.Stats().Backend.Healthy })
	if st := b.Stats().Backend; st.Trusted || st.Detail == "" {
		t.Fatalf("stats during the partition: %+v", st)
	}
	redis.Restart()
	testharness.WaitFor(t, 10*time.Second, "recovery", rb.Trustworthy)
	// The restarted Redis is empty (data loss): old entries stay expired.
	if got := b.Validity(e); got != cache.HardInvalidated {
		t.Fatalf("entry from before a data loss: %v, want cache.HardInvalidated", got)
	}
	fresh := testEntry(b, "/q")
	b.Put(fresh)
	if got := b.Validity(fresh); got != cache.Valid {
		t.Fatalf("entry after recovery: %v, want cache.Valid", got)
	}
}

// TestRedisFeedGapExpiresOlderEntries makes the global sequence jump, as
// it does for a reader when the stream was trimmed past what it read, and
// checks the gap expires what the instance could have missed.
func TestRedisFeedGapExpiresOlderEntries(t *testing.T) {
	redis := testharness.StartRedis(t)
	b, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	e := testEntry(b, "/p", "untouched")
	b.Put(e)
	if _, err := redis.Do("INCRBY", "test:default:clock", "5"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.InvalidateTags(t.Context(), []string{"x"}, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, 2*time.Second, "gap detected", func() bool { return b.Validity(e) == cache.HardInvalidated })
}

// Issue 10.8 in Redis mode: a long tag (the uri: tag of a URL with a 15 kB
// query) is recorded in Redis under a fixed-size key, still invalidates the
// entries that carry it on another instance, and a shared second-level
// entry for that URL is stored under a digest, not a 15 kB key.
func TestRedisRecordsAndSharedKeysAreBounded(t *testing.T) {
	redis := testharness.StartRedis(t)
	cfg := func() *Config {
		return &Config{URL: redis.URL(), SharedEntries: &SharedEntriesConfig{}}
	}
	writer, _ := newStoreOn(t, cfg())
	reader, _ := newStoreOn(t, cfg())
	long := "/item?" + strings.Repeat("q", 15000)
	entry := testEntry(reader, long, cache.URITag("http://example.com"+long))
	if !reader.Put(entry) {
		t.Fatal("entry not stored")
	}
	if _, err := writer.InvalidateTags(t.Context(), []string{cache.URITag("http://example.com" + long)}, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, 2*time.Second, "the hashed invalidation at the other instance", func() bool {
		return reader.Validity(entry) == cache.HardInvalidated
	})
	testharness.WaitFor(t, 2*time.Second, "the shared entry written", func() bool {
		keys, _ := redis.Do("KEYS", "test:*")
		return strings.Contains(keys, "#")
	})
	keys, err := redis.Do("KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Fields(keys) {
		if len(k) > 200 {
			t.Errorf("a Redis key of %d bytes: %.80s...", len(k), k)
		}
	}
	// The feed's entry of the invalidation carries the digest, not the URI.
	feeds := 0
	for _, k := range strings.Fields(keys) {
		if !strings.HasSuffix(k, ":feed") {
			continue
		}
		feeds++
		stream, err := redis.Do("XRANGE", k, "-", "+")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stream, "uri:#") || strings.Contains(stream, strings.Repeat("q", 100)) {
			t.Errorf("feed entry of the long tag: %.200s", stream)
		}
	}
	if feeds != 1 {
		t.Fatalf("found %d feed streams in %q", feeds, keys)
	}
}
