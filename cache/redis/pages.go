package redis

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/cache"
)

// pageIndexTTL is how long Redis keeps a tag's page set after the last page
// was indexed under it.
const pageIndexTTL = 30 * 24 * time.Hour

// pageIndex keeps a store's page index (see cache.Store.LearnPage) in
// Redis, shared by every instance: one set of paths per tag,
//
//	<prefix><store>:p:<tag>         paths of the pages indexed under the tag
//
// expiring pageIndexTTL after its last addition.
type pageIndex struct {
	client redis.UniversalClient
	prefix string // the store's key prefix (hash-tagged on a cluster)
}

func (r *pageIndex) key(tag string) string { return r.prefix + "p:" + cache.RecordKey(tag) }

// Add implements cache.PageIndex.
func (r *pageIndex) Add(ctx context.Context, path string, tags []string) error {
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, tag := range tags {
			p.SAdd(ctx, r.key(tag), path)
			p.Expire(ctx, r.key(tag), pageIndexTTL)
		}
		return nil
	})
	return err
}

// Paths implements cache.PageIndex.
func (r *pageIndex) Paths(ctx context.Context, tags []string) ([]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(tags))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tag := range tags {
			cmds[i] = p.SMembers(ctx, r.key(tag))
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, err
	}
	var out []string
	for _, c := range cmds {
		out = append(out, c.Val()...)
	}
	return out, nil
}

var _ cache.PageIndex = (*pageIndex)(nil)
