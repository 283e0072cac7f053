package cache

import "context"

// Flight is one upstream fill in progress for a cache key. Concurrent misses
// for the key wait on it instead of going upstream themselves.
type Flight struct {
	done  chan struct{}
	entry *Entry
	// registered is false for a flight the bounded map had no room for: it
	// coalesces nothing, and Finish has nothing to remove.
	registered bool
	keyBytes   int
}

// Bounds of the in-flight map. Keys come from requests, so the map is
// bounded in entries and in key bytes (design invariant 7): past either
// bound a fill still runs, it only stops coalescing.
const (
	maxFlights     = 16384
	maxFlightBytes = 16 << 20
)

// Join returns the flight for key. leader is true when the caller must do
// the fill and then call Finish (deferred, so that no path, panic or client
// reset included, leaves the flight behind); otherwise the caller may Wait.
func (s *Store) Join(key string) (f *Flight, leader bool) {
	s.flightsMu.Lock()
	defer s.flightsMu.Unlock()
	if f, ok := s.flights[key]; ok {
		return f, false
	}
	f = &Flight{done: make(chan struct{})}
	if len(s.flights) < maxFlights && s.flightBytes+len(key) <= maxFlightBytes {
		f.registered, f.keyBytes = true, len(key)
		s.flights[key] = f
		s.flightBytes += len(key)
	}
	return f, true
}

// Finish ends the leader's flight. entry is the stored response, or nil when
// the response was not storable: waiters then go upstream themselves, since
// a response that may not be stored may not be shared either. Finishing a
// flight twice is harmless.
func (s *Store) Finish(key string, f *Flight, entry *Entry) {
	s.flightsMu.Lock()
	if f.registered && s.flights[key] == f {
		delete(s.flights, key)
		s.flightBytes -= f.keyBytes
	}
	select {
	case <-f.done:
		s.flightsMu.Unlock()
		return
	default:
	}
	f.entry = entry
	close(f.done)
	s.flightsMu.Unlock()
}

// Flights returns the number of fills in progress, for stats and tests.
func (s *Store) Flights() int {
	s.flightsMu.Lock()
	defer s.flightsMu.Unlock()
	return len(s.flights)
}

// Wait blocks until the flight ends or ctx is done and returns the shared
// entry, or nil when the waiter must fetch for itself.
func (f *Flight) Wait(ctx context.Context) *Entry {
	select {
	case <-f.done:
		return f.entry
	case <-ctx.Done():
		return nil
	}
}
