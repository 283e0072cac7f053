package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/maypok86/otter/v2"
)

// replayGuard remembers the deliveries accepted within the tolerance window
// so the same signed request cannot be played again: a replayed delivery
// would let whoever captured it purge the cache at will. Memory is bounded
// by an otter cache with a maximum size and per-entry expiry.
type replayGuard struct {
	seen   *otter.Cache[string, time.Time]
	window time.Duration
}

// replayPool keeps guards across config reloads, keyed by preset, secret
// digest and window, so a reload does not reopen the window for replays.
var replayPool = caddy.NewUsagePool()

// Destruct implements caddy.Destructor.
func (g *replayGuard) Destruct() error {
	g.seen.StopAllGoroutines()
	return nil
}

// loadReplayGuard returns the guard shared by handlers with the same preset,
// secret and window, and its pool key for Cleanup.
func loadReplayGuard(sig *WebhookSignature, secret string) (*replayGuard, string, error) {
	window := sig.tolerance()
	if sig.Preset != PresetHMAC && sig.Preset != PresetShopify && sig.Preset != PresetGitHub {
		// A timestamp is accepted from tolerance before now to tolerance
		// after: the delivery must be remembered across that whole span.
		window *= 2
	}
	size := sig.ReplayCacheSize
	if size == 0 {
		size = DefaultReplayCacheSize
	}
	digest := sha256.Sum256([]byte(sig.Preset + "\x00" + secret))
	key := fmt.Sprintf("revalidate_webhook/replay/%s/%s/%d", hex.EncodeToString(digest[:16]), window, size)
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

// claim records id as used at now. It returns false when id was already
// used within the window: the caller must refuse the delivery. The check
// and the record are one atomic step, so two concurrent copies of a
// delivery cannot both pass.
func (g *replayGuard) claim(id string, now time.Time) bool {
	k := replayKey(id)
	fresh := false
	g.seen.Compute(k, func(until time.Time, found bool) (time.Time, otter.ComputeOp) {
		if found && now.Before(until) {
			return until, otter.CancelOp
		}
		fresh = true
		return now.Add(g.window), otter.WriteOp
	})
	return fresh
}

// release forgets id, for a delivery that was not acknowledged (refused
// payload, cache unavailable): the sender's retry of it must go through.
func (g *replayGuard) release(id string) {
	g.seen.Invalidate(replayKey(id))
}

// replayKey hashes ids so that a long id costs no more memory than a short
// one.
func replayKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return string(sum[:])
}

var _ caddy.Destructor = (*replayGuard)(nil)
