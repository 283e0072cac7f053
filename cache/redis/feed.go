package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// followFeed reads the invalidation stream until ctx ends, resynchronising
// after every failure.
func (b *backend) followFeed(ctx context.Context) {
	backoff := 50 * time.Millisecond
	block := min(time.Second, b.maxFeedLag/3)
	needResync := true
	var lastReplicaCheck time.Time
	for ctx.Err() == nil {
		if b.lossSuspected.Swap(false) {
			b.lost, needResync = true, true
		}
		if needResync {
			if err := b.resync(ctx); err != nil {
				b.primaryFailed(ctx, err)
				b.setHealth(false, err)
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			needResync = false
			backoff = 50 * time.Millisecond
			lastReplicaCheck = b.now()
			b.setHealth(true, nil)
		}
		if b.now().Sub(lastReplicaCheck) >= 5*time.Second {
			b.detectReplicas(ctx)
			lastReplicaCheck = b.now()
		}
		streams, err := b.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{b.keys.feed, b.lastID},
			Count:   1000,
			Block:   block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return
			}
			b.primaryFailed(ctx, err)
			b.setHealth(false, err)
			b.resyncing.Store(true)
			needResync = true
			sleepCtx(ctx, backoff)
			continue
		}
	read:
		for _, s := range streams {
			for _, msg := range s.Messages {
				if !b.apply(msg) {
					// The sequence went back: Redis lost writes this
					// instance had read. Nothing after it can be placed.
					b.resyncing.Store(true)
					b.lost, needResync = true, true
					break read
				}
			}
		}
		b.lastFeedOK.Store(b.now().UnixNano())
	}
}

// resync establishes where this instance stands after start-up or a
// failure: the dataset epoch, the newest sequence, and whether anything was
// lost. What cannot be vouched for is expired by raising the floor.
func (b *backend) resync(ctx context.Context) error {
	epoch, err := b.client.Get(ctx, b.keys.epoch).Result()
	if errors.Is(err, redis.Nil) {
		fresh := randomID()
		if _, err := b.client.SetNX(ctx, b.keys.epoch, fresh, 0).Result(); err != nil {
			return err
		}
		if epoch, err = b.client.Get(ctx, b.keys.epoch).Result(); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	// The sequence and the newest stream entry, read together (one slot,
	// one transaction) so that neither runs ahead of the other.
	var cur uint64
	var last []redis.XMessage
	cmds, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, b.keys.clock)
		p.XRevRangeN(ctx, b.keys.feed, "+", "-", 1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if cur, err = cmds[0].(*redis.StringCmd).Uint64(); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if last, err = cmds[1].(*redis.XMessageSliceCmd).Result(); err != nil {
		return err
	}
	local := b.clock.Now()
	reset := b.lastID == "" // first sync
	switch {
	case b.epoch != "" && epoch != b.epoch:
		// Redis lost its data (a restart without persistence, a failover
		// to an empty replica): invalidations recorded before may be gone.
		reset = true
		b.logger.Warn("redis dataset changed (data loss); local entries expired")
	case b.lastID != "" && (b.lost || cur < max(b.lastV, local)):
		// Redis is behind what this instance has seen: a failover promoted
		// a replica that had not received the newest writes, and numbers
		// this instance has used will be given again.
		reset = true
		b.logger.Warn("redis sequence went back (writes lost in a failover); local entries expired",
			zap.Uint64("redis", cur), zap.Uint64("seen", max(b.lastV, local)))
	}
	b.epoch = epoch
	b.trustedEpoch.Store(epoch)
	if reset {
		// Start after the newest stream entry, at the current sequence.
		// Local entries (a store kept across a reload has some; so does one
		// that outlived a data loss) are only as good as what we can prove:
		// expire them, and make sure new sequence numbers outrank them.
		b.lastID, b.lastV = "0-0", cur
		if len(last) > 0 {
			b.lastID = last[0].ID
		}
		b.clock.RaiseFloor(local + 1)
		if cur < local+1 {
			if _, err := raiseScript.Run(ctx, b.client, []string{b.keys.clock}, local+1).Result(); err != nil {
				return err
			}
			b.lastV = local + 1
		}
		b.clock.Apply(nil, cache.ModeExpire, b.lastV)
		b.lost = false
	}
	b.detectReplicas(ctx)
	// After a failure, reading on from lastID catches up with everything
	// still in the stream; apply() detects a gap if the stream was trimmed.
	b.lastFeedOK.Store(b.now().UnixNano())
	b.resyncing.Store(false)
	return nil
}

// apply applies one stream message to the local clock. It returns false,
// applying nothing, when the message's sequence is not above the last one
// applied: numbers are only ever given once, so Redis lost writes.
func (b *backend) apply(msg redis.XMessage) bool {
	v, err := strconv.ParseUint(asString(msg.Values["v"]), 10, 64)
	if err != nil {
		b.lastID = msg.ID
		return true
	}
	if v <= b.lastV {
		return false
	}
	b.lastID = msg.ID
	if v > b.lastV+1 {
		// Sequences are contiguous: a jump means trimmed, unread entries.
		// Entries older than the newest missed one cannot be vouched for.
		b.clock.RaiseFloor(v - 1)
		b.logger.Warn("invalidation feed gap; older local entries expired",
			zap.Uint64("expected", b.lastV+1), zap.Uint64("got", v))
	}
	b.lastV = v
	tags := decodeTags(asString(msg.Values["t"]))
	mode := cache.ModeExpire
	if asString(msg.Values["m"]) == "s" {
		mode = cache.ModeStale
	}
	b.clock.Apply(tags, mode, v)
	if hook := b.applied.Load(); hook != nil {
		(*hook)(tags)
	}
	return true
}

// asString renders a stream field's value (a string from go-redis).
func asString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// decodeTags decodes a feed message's tags: the JSON array the record
// script's cjson wrote. Every instance decodes every invalidation, so the
// common case (no escapes but cjson's "\/") is split by hand; anything else
// goes through encoding/json.
func decodeTags(s string) []string {
	if len(s) >= 4 && s[0] == '[' && s[1] == '"' && s[len(s)-2] == '"' && s[len(s)-1] == ']' {
		body := s[2 : len(s)-2]
		if strings.Contains(body, "\\/") {
			body = strings.ReplaceAll(body, "\\/", "/")
		}
		if !strings.Contains(body, "\\") {
			// Without escapes, every quote is a delimiter: cjson writes
			// the elements as "a","b" with nothing between.
			return strings.Split(body, `","`)
		}
	}
	var tags []string
	_ = json.Unmarshal([]byte(s), &tags)
	return tags
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
