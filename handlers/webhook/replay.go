package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/maypok86/otter/v2"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
)

// replayMemory remembers the deliveries a webhook acknowledged, so the same
// signed request cannot be played again: a replayed delivery would let
// whoever captured it purge the cache at will.
type replayMemory interface {
	// claim records id as used for retention. It returns false when id is
	// already remembered: the caller must refuse the delivery. The check
	// and the record are one atomic step, so two concurrent copies of a
	// delivery cannot both pass. An error means the memory could not be
	// asked: the delivery must not be acknowledged.
	claim(ctx context.Context, id string, now time.Time) (bool, error)
	// release forgets id, for a delivery that was not acknowledged (refused
	// payload, cache unavailable): the sender's retry of it must go through.
	release(ctx context.Context, id string)
}

// DeliveryMemory is a replay memory shared by every instance, which the
// tag_cache app offers in distributed mode (Redis), so that a delivery
// replayed to another instance is refused too.
type DeliveryMemory interface {
	// ClaimDelivery records key for ttl unless it is already recorded, and
	// reports whether it recorded it.
	ClaimDelivery(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// ReleaseDelivery forgets key.
	ReleaseDelivery(ctx context.Context, key string) error
}

// replayGuard is the local replay memory: an otter cache bounded in
// entries (each a fixed-size digest), with per-entry expiry.
type replayGuard struct {
	seen   *otter.Cache[string, time.Time]
	window time.Duration
}

// sharedReplay is the replay memory kept in the tag_cache app's Redis.
type sharedReplay struct {
	mem       DeliveryMemory
	namespace string
	window    time.Duration
}

func (s *sharedReplay) claim(ctx context.Context, id string, _ time.Time) (bool, error) {
	return s.mem.ClaimDelivery(ctx, s.key(id), s.window)
}

func (s *sharedReplay) release(ctx context.Context, id string) {
	_ = s.mem.ReleaseDelivery(context.WithoutCancel(ctx), s.key(id))
}

func (s *sharedReplay) key(id string) string {
	sum := sha256.Sum256([]byte(s.namespace + "\x00" + id))
	return hex.EncodeToString(sum[:])
}

// replayPool keeps guards across config reloads, keyed by preset, secret
// digest and window, so a reload does not reopen the window for replays.
var replayPool = caddy.NewUsagePool()

// Destruct implements caddy.Destructor.
func (g *replayGuard) Destruct() error {
	g.seen.StopAllGoroutines()
	return nil
}

// replayNamespace identifies the deliveries of one preset and secret.
func replayNamespace(sig *signature.Config, secret string) string {
	digest := sha256.Sum256([]byte(sig.Preset + "\x00" + secret))
	return hex.EncodeToString(digest[:16])
}

// loadReplayGuard returns the local guard shared by handlers with the same
// preset, secret and window, and its pool key for Cleanup.
func loadReplayGuard(sig *signature.Config, secret string) (*replayGuard, string, error) {
	window := sig.ReplayRetentionOrDefault()
	size := sig.MaxReplayEntriesOrDefault()
	key := fmt.Sprintf("revalidate_webhook/replay/%s/%s/%d", replayNamespace(sig, secret), window, size)
	val, _, err := replayPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		seen, err := otter.New(&otter.Options[string, time.Time]{
			MaximumSize:      size,
			ExpiryCalculator: otter.ExpiryCreating[string, time.Time](window),
		})
		if err != nil {
			return nil, err
		}
		return &replayGuard{seen: seen, window: window}, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("replay cache: %v", err)
	}
	return val.(*replayGuard), key, nil
}

func (g *replayGuard) claim(_ context.Context, id string, now time.Time) (bool, error) {
	k := replayKey(id)
	fresh := false
	g.seen.Compute(k, func(until time.Time, found bool) (time.Time, otter.ComputeOp) {
		if found && now.Before(until) {
			return until, otter.CancelOp
		}
		fresh = true
		return now.Add(g.window), otter.WriteOp
	})
	return fresh, nil
}

func (g *replayGuard) release(_ context.Context, id string) {
	g.seen.Invalidate(replayKey(id))
}

// replayKey hashes ids so that a long id costs no more memory than a short
// one.
func replayKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return string(sum[:])
}

var (
	_ DeliveryMemory   = cache.DeliveryMemory(nil)
	_ caddy.Destructor = (*replayGuard)(nil)
	_ replayMemory     = (*replayGuard)(nil)
	_ replayMemory     = (*sharedReplay)(nil)
)
