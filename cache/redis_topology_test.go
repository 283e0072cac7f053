package cache

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestRedisClusterRecordScript runs the record script on a real three-primary
// Redis Cluster: every key it touches must live in one hash slot.
func TestRedisClusterRecordScript(t *testing.T) {
	cluster := testharness.StartCluster(t, 3, 0)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs()})
	defer cc.Close()
	k := newRedisKeys("test:", "default")
	if err := cc.Set(t.Context(), k.epoch, "e", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err := recordScript.Run(t.Context(), cc, []string{k.clock, k.feed, k.epoch}, "h", 60, 100, k.prefix, "e", "posts").Err()
	if err != nil {
		t.Fatalf("record script on a cluster: %v", err)
	}
}
