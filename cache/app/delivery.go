package app

import "github.com/caddy-bff/caddy-bff/cache"

// DeliveryMemory returns the shared delivery memory of the named store, or
// nil when its backend has none, as when the store is not distributed (the
// webhook then remembers deliveries in its own memory).
func (a *App) DeliveryMemory(store string) (cache.DeliveryMemory, error) {
	s, err := a.Store(store)
	if err != nil {
		return nil, err
	}
	return s.DeliveryMemory(), nil
}
