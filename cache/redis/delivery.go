package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/cache"
)

// DeliveryMemory is the replay memory of a webhook in distributed mode: a
// key per acknowledged delivery in the store's Redis, written with SET NX
// and an expiry, so that every instance refuses a delivery any of them
// accepted. Keys are `<prefix><store>:replay:<digest>`; the caller hashes
// the delivery id, so each key has a fixed size.
type DeliveryMemory struct {
	client redis.UniversalClient
	prefix string
}

// NewDeliveryMemory returns a delivery memory on client whose keys start
// with prefix (`<key_prefix><store>:` for a store's).
func NewDeliveryMemory(client redis.UniversalClient, prefix string) *DeliveryMemory {
	return &DeliveryMemory{client: client, prefix: prefix + "replay:"}
}

// ClaimDelivery implements cache.DeliveryMemory: it records key for ttl
// unless it is already recorded, and reports whether it recorded it.
func (m *DeliveryMemory) ClaimDelivery(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("delivery memory: ttl must be positive")
	}
	ok, err := m.client.SetNX(ctx, m.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("delivery memory: %w", err)
	}
	return ok, nil
}

// ReleaseDelivery implements cache.DeliveryMemory: it forgets key.
func (m *DeliveryMemory) ReleaseDelivery(ctx context.Context, key string) error {
	return m.client.Del(ctx, m.prefix+key).Err()
}

var _ cache.DeliveryMemory = (*DeliveryMemory)(nil)
