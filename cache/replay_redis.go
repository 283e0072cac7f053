package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DeliveryMemory is the replay memory of a webhook in distributed mode: a
// key per acknowledged delivery in the store's Redis, written with SET NX
// and an expiry, so that every instance refuses a delivery any of them
// accepted. Keys are `<prefix><store>:replay:<digest>`; the caller hashes
// the delivery id, so each key has a fixed size.
type DeliveryMemory struct {
	backend *redisBackend
}

// DeliveryMemory returns the shared delivery memory of the named store, or
// nil when the store is not distributed (the webhook then remembers
// deliveries in its own memory).
func (a *App) DeliveryMemory(store string) (*DeliveryMemory, error) {
	s, err := a.Store(store)
	if err != nil {
		return nil, err
	}
	if s.redis == nil {
		return nil, nil
	}
	return &DeliveryMemory{backend: s.redis}, nil
}

// ClaimDelivery records key for ttl unless it is already recorded, and
// reports whether it recorded it.
func (m *DeliveryMemory) ClaimDelivery(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("delivery memory: ttl must be positive")
	}
	ok, err := m.backend.client.SetNX(ctx, m.backend.keys.prefix+"replay:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("delivery memory: %w", err)
	}
	return ok, nil
}

// ReleaseDelivery forgets key.
func (m *DeliveryMemory) ReleaseDelivery(ctx context.Context, key string) error {
	return m.backend.client.Del(ctx, m.backend.keys.prefix+"replay:"+key).Err()
}
