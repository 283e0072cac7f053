package cache

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how an invalidation treats the entries it covers.
type Mode string

const (
	// ModeExpire makes covered entries unusable at once (a hard purge, like
	// Next.js revalidateTag(tag, {expire: 0})).
	ModeExpire Mode = "expire"
	// ModeStale marks covered entries stale: they are served while one
	// background refresh runs (a soft purge, like revalidateTag(tag, 'max')).
	ModeStale Mode = "stale"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeExpire || m == ModeStale }

// ModeNames says which modes are understood, for error messages.
const ModeNames = `"expire", "stale" or "max" (Next.js 16's name for stale)`

// ParseMode reads a mode by name: "expire", "stale", or "max", the cache
// profile Next.js 16 uses for a soft purge (revalidateTag(tag, 'max')),
// which is stale. ok is false for any other name.
func ParseMode(name string) (m Mode, ok bool) {
	switch name {
	case string(ModeExpire):
		return ModeExpire, true
	case string(ModeStale), "max":
		return ModeStale, true
	}
	return Mode(name), false
}

// UnmarshalJSON reads a mode as a name (see ParseMode) or as Next.js's
// profile object {"expire": 0} (revalidateTag(tag, {expire: 0})), which is
// expire. An unknown name is kept as it is, so validation names it; an
// object with another expire is refused: a delayed expiry has no mode here.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*m, _ = ParseMode(name)
		return nil
	}
	var profile struct {
		Expire *float64 `json:"expire"`
	}
	if err := json.Unmarshal(b, &profile); err != nil || profile.Expire == nil {
		return fmt.Errorf("mode must be %s, or {\"expire\": 0}", ModeNames)
	}
	if *profile.Expire != 0 {
		return fmt.Errorf("mode {\"expire\": %v}: only {\"expire\": 0} (expire now) is understood", *profile.Expire)
	}
	*m = ModeExpire
	return nil
}

// Validity is what the tag clock says of an entry.
type Validity int

const (
	// Valid entries have seen no invalidation of their tags since their
	// fetch started.
	Valid Validity = iota
	// SoftInvalidated entries are usable only as stale.
	SoftInvalidated
	// HardInvalidated entries must not be used at all.
	HardInvalidated
	// Unverified entries may be valid but the instance cannot tell (its
	// invalidation feed is lost): they are used only after a successful
	// revalidation with the origin.
	Unverified
)

// TagClock records, for each tag, the clock value of its last hard and soft
// invalidation. Entries record the clock value when their fetch started, so
// checking an entry is one lookup per tag and invalidating a tag is one
// write, whatever the number of entries (design invariant 1).
//
// The clock is a sequence number: each invalidation takes the next value. A
// fetch that started at value v is covered by every invalidation numbered
// above v, including one that arrived while the fetch was in flight.
type TagClock struct {
	seq   atomic.Uint64
	floor atomic.Uint64 // entries whose clock is below floor are unusable
	count atomic.Int64  // tag records held, kept so Apply's bound check is O(1)
	bytes atomic.Int64  // what the records weigh, by recordCost
	// shrinking lets one goroutine at a time fold records into the floor.
	shrinking sync.Mutex
	seed      maphash.Seed

	shards [clockShards]clockShard

	// forgotten is the wall time (unix milliseconds) up to which the clock
	// may have dropped records (pruned, shrunk, or a floor raised): what
	// Times reports about earlier moments is incomplete.
	forgotten atomic.Int64

	// maxTags bounds the number of tag records kept; 0 means the default.
	maxTags int
	// maxBytes bounds what the records weigh, by recordCost.
	maxBytes int64
	now      func() time.Time
}

const clockShards = 64

type clockShard struct {
	mu      sync.RWMutex
	records map[string]tagRecord
}

type tagRecord struct {
	hard, soft uint64
	// hardAt and softAt are the wall times (unix milliseconds) this
	// instance applied the last hard and soft invalidation: what the
	// Next.js bridge compares with its entries' lastModified.
	hardAt, softAt int64
}

// at is when the record last changed, in unix milliseconds.
func (r tagRecord) at() int64 { return max(r.hardAt, r.softAt) }

// DefaultMaxTags bounds the tag records of a clock by default.
const DefaultMaxTags = 1 << 20

// DefaultMaxTagBytes bounds what a clock's records weigh by default. Every
// record key is at most MaxRecordKeyLength bytes (longer tags are hashed by
// RecordKey before they reach a clock), so a record weighs at most about
// 150 bytes and this holds over 200,000 of the largest.
const DefaultMaxTagBytes = 32 << 20

// recordOverhead is the weight of one record beyond its key bytes: the map
// slot (string header and record, 56 bytes) at the map's load factor and
// growth slack, and the key's allocation rounding, as measured in a heap
// profile of the adversarial soak (bench/soak).
const recordOverhead = 160

func recordCost(tag string) int64 { return int64(len(tag)) + recordOverhead }

// NewTagClock returns an empty clock keeping at most maxTags records
// (DefaultMaxTags when maxTags <= 0).
func NewTagClock(maxTags int) *TagClock {
	if maxTags <= 0 {
		maxTags = DefaultMaxTags
	}
	c := &TagClock{seed: maphash.MakeSeed(), maxTags: maxTags, maxBytes: DefaultMaxTagBytes, now: time.Now}
	for i := range c.shards {
		c.shards[i].records = make(map[string]tagRecord)
	}
	return c
}

// withMaxBytes sets the bound on what the records weigh (the default when
// n <= 0).
func (c *TagClock) withMaxBytes(n int64) *TagClock {
	if n > 0 {
		c.maxBytes = n
	}
	return c
}

// Now returns the current clock value. A fill records it before it sends
// its request upstream.
func (c *TagClock) Now() uint64 { return c.seq.Load() }

// Invalidate records an invalidation of tags in mode and returns the clock
// value it was given.
func (c *TagClock) Invalidate(tags []string, mode Mode) uint64 {
	v := c.seq.Add(1)
	c.Apply(tags, mode, v)
	return v
}

// Apply records an invalidation numbered v elsewhere (by a distributed
// backend) and advances the local clock to at least v.
func (c *TagClock) Apply(tags []string, mode Mode, v uint64) {
	for {
		cur := c.seq.Load()
		if cur >= v || c.seq.CompareAndSwap(cur, v) {
			break
		}
	}
	now := c.now().UnixMilli()
	for _, tag := range tags {
		s := c.shard(tag)
		s.mu.Lock()
		rec, existed := s.records[tag]
		if !existed {
			c.count.Add(1)
			c.bytes.Add(recordCost(tag))
		}
		if mode == ModeStale {
			rec.soft = max(rec.soft, v)
			rec.softAt = now
		} else {
			rec.hard = max(rec.hard, v)
			rec.hardAt = now
		}
		s.records[tag] = rec
		s.mu.Unlock()
	}
	if c.overBounds() && c.shrinking.TryLock() {
		c.shrink()
		c.shrinking.Unlock()
	}
}

// RaiseFloor makes every entry whose fetch started before v unusable. A
// distributed backend uses it when it cannot know what it missed.
func (c *TagClock) RaiseFloor(v uint64) {
	c.forgetUntil(c.now().UnixMilli())
	for {
		cur := c.floor.Load()
		if cur >= v || c.floor.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := c.seq.Load()
		if cur >= v || c.seq.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Check says whether an entry fetched at clock with tags is still valid.
func (c *TagClock) Check(clock uint64, tags []string) Validity {
	if clock < c.floor.Load() {
		return HardInvalidated
	}
	if clock >= c.seq.Load() {
		return Valid // no invalidation at all since the fetch started
	}
	result := Valid
	for _, tag := range tags {
		s := c.shard(tag)
		s.mu.RLock()
		rec, ok := s.records[tag]
		s.mu.RUnlock()
		if !ok {
			continue
		}
		if rec.hard > clock {
			return HardInvalidated
		}
		if rec.soft > clock {
			result = SoftInvalidated
		}
	}
	return result
}

// Len returns the number of tag records held.
func (c *TagClock) Len() int { return int(c.count.Load()) }

// Bytes returns what the tag records weigh.
func (c *TagClock) Bytes() int64 { return c.bytes.Load() }

func (c *TagClock) overBounds() bool {
	return c.count.Load() > int64(c.maxTags) || c.bytes.Load() > c.maxBytes
}

// forget drops a record; the caller holds the shard's lock.
func (c *TagClock) forget(s *clockShard, tag string) {
	c.forgetUntil(s.records[tag].at())
	delete(s.records, tag)
	c.count.Add(-1)
	c.bytes.Add(-recordCost(tag))
}

// Prune drops records older than horizon: no stored entry can have started
// its fetch before them, because entries are never kept longer than horizon
// after their fetch started.
func (c *TagClock) Prune(horizon time.Duration) int {
	cutoff := c.now().Add(-horizon).UnixMilli()
	dropped := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for tag, rec := range s.records {
			if rec.at() < cutoff {
				c.forget(s, tag)
				dropped++
			}
		}
		s.mu.Unlock()
	}
	return dropped
}

// shrink keeps the clock bounded when more tags were invalidated than
// maxTags within the pruning horizon: it drops the older half of the records
// and raises the floor above them, which conservatively expires every entry
// older than the dropped records instead of forgetting an invalidation.
func (c *TagClock) shrink() {
	var values []uint64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for _, rec := range s.records {
			values = append(values, max(rec.hard, rec.soft))
		}
		s.mu.RUnlock()
	}
	if len(values) < 2 || !c.overBounds() {
		return
	}
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	cut := values[len(values)/2]
	c.RaiseFloor(cut)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for tag, rec := range s.records {
			if max(rec.hard, rec.soft) <= cut {
				c.forget(s, tag)
			}
		}
		s.mu.Unlock()
	}
}

// forgetUntil raises the forgotten mark to ms.
func (c *TagClock) forgetUntil(ms int64) {
	for {
		cur := c.forgotten.Load()
		if cur >= ms || c.forgotten.CompareAndSwap(cur, ms) {
			return
		}
	}
}

// TagTimes is what the clock knows of one tag in wall time, for clients
// that keep their own entries (the Next.js bridge): when this instance
// last applied a hard (Expired) and a soft (Stale) invalidation of it, in
// unix milliseconds, 0 for never.
type TagTimes struct {
	Expired int64 `json:"expired,omitempty"`
	Stale   int64 `json:"stale,omitempty"`
}

// Times returns the wall times of tags' last invalidations, keyed by tag
// (tags never invalidated, or forgotten, are absent), and the forgotten
// mark: an entry older than it may have missed an invalidation the clock
// no longer holds. Tags are looked up under their record keys.
func (c *TagClock) Times(tags []string) (map[string]TagTimes, int64) {
	out := make(map[string]TagTimes)
	for _, tag := range tags {
		key := RecordKey(tag)
		s := c.shard(key)
		s.mu.RLock()
		rec, ok := s.records[key]
		s.mu.RUnlock()
		if ok {
			out[tag] = TagTimes{Expired: rec.hardAt, Stale: rec.softAt}
		}
	}
	return out, c.forgotten.Load()
}

func (c *TagClock) shard(tag string) *clockShard {
	return &c.shards[maphash.String(c.seed, tag)%clockShards]
}
