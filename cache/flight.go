package cache

import "context"

// Flight is one upstream fill in progress for a cache key. Concurrent misses
// for the key wait on it instead of going upstream themselves.
type Flight struct {
	done  chan struct{}
	entry *Entry
}

// Join returns the flight for key. leader is true when the caller must do
// the fill and then call Finish; otherwise the caller may Wait.
func (s *Store) Join(key string) (f *Flight, leader bool) {
	s.flightsMu.Lock()
	defer s.flightsMu.Unlock()
	if f, ok := s.flights[key]; ok {
		return f, false
	}
	f = &Flight{done: make(chan struct{})}
	s.flights[key] = f
	return f, true
}

// Finish ends the leader's flight. entry is the stored response, or nil when
// the response was not storable: waiters then go upstream themselves, since
// a response that may not be stored may not be shared either.
func (s *Store) Finish(key string, f *Flight, entry *Entry) {
	s.flightsMu.Lock()
	delete(s.flights, key)
	s.flightsMu.Unlock()
	f.entry = entry
	close(f.done)
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
