package tokenverify

import (
	"crypto/sha256"
	"sync"
	"time"
)

// answerCache remembers verification answers for a bounded time under the
// SHA-256 of the token, so the token itself is never kept in memory longer
// than the request, and the number of entries is bounded.
type answerCache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]cachedAnswer
}

type cachedAnswer struct {
	claims  map[string]any
	err     error
	expires time.Time
}

func newAnswerCache(max int) *answerCache {
	return &answerCache{max: max, entries: make(map[[sha256.Size]byte]cachedAnswer)}
}

func (c *answerCache) get(key [sha256.Size]byte, now time.Time) (cachedAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.entries[key]
	if !ok {
		return cachedAnswer{}, false
	}
	if !now.Before(a.expires) {
		delete(c.entries, key)
		return cachedAnswer{}, false
	}
	return a, true
}

func (c *answerCache) put(key [sha256.Size]byte, a cachedAnswer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		// Still full: drop about a tenth of the entries. Map iteration
		// order is random, so this is random eviction, which an attacker
		// flooding the cache with junk tokens cannot steer.
		for k := range c.entries {
			if len(c.entries) < c.max-c.max/10 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = a
}

func (c *answerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
