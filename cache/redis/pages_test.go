package redis

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// With Redis, the page index is shared: a page reported at one instance is
// expanded by an invalidation recorded at another, and the entry a third
// party (the first instance) holds is expired through the feed.
func TestRedisPageIndexIsShared(t *testing.T) {
	redis := testharness.StartRedis(t)
	a, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	b, _ := newDistributedStore(t, redis.URL(), 5*time.Second)
	ctx := context.Background()
	e := testEntry(a, "/posts")
	a.Put(e)
	if err := b.LearnPage(ctx, cache.PageReport{Path: "/posts", Tags: []string{"posts"}, Generated: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Invalidate(ctx, []string{"posts"}, nil, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, 5*time.Second, "instance a expires /posts", func() bool { return a.Validity(e) == cache.HardInvalidated })
	ttl, err := redis.Do("TTL", "test:default:p:posts")
	if err != nil || ttl == "-1" || ttl == "-2" {
		t.Fatalf("the page index key has no expiry (TTL %q, %v)", ttl, err)
	}
}
