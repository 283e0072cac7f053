package cache

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestTagClockHardAndSoft(t *testing.T) {
	c := NewTagClock(0)
	start := c.Now()
	if got := c.Check(start, []string{"a", "b"}); got != Valid {
		t.Fatalf("fresh entry: %v, want Valid", got)
	}
	c.Invalidate([]string{"b"}, ModeStale)
	if got := c.Check(start, []string{"a", "b"}); got != SoftInvalidated {
		t.Fatalf("after soft invalidation of b: %v, want SoftInvalidated", got)
	}
	if got := c.Check(start, []string{"a"}); got != Valid {
		t.Fatalf("entry without b: %v, want Valid", got)
	}
	c.Invalidate([]string{"a"}, ModeExpire)
	if got := c.Check(start, []string{"a", "b"}); got != HardInvalidated {
		t.Fatalf("after hard invalidation of a: %v, want HardInvalidated", got)
	}
	// A fetch that starts after both invalidations is untouched by them.
	if got := c.Check(c.Now(), []string{"a", "b"}); got != Valid {
		t.Fatalf("later fetch: %v, want Valid", got)
	}
}

func TestTagClockInFlightFetchIsCovered(t *testing.T) {
	c := NewTagClock(0)
	started := c.Now() // the fill records this before going upstream
	c.Invalidate([]string{"post-1"}, ModeExpire)
	// The fill completes after the invalidation: it must not count as valid.
	if got := c.Check(started, []string{"post-1"}); got != HardInvalidated {
		t.Fatalf("fill overtaken by an invalidation: %v, want HardInvalidated", got)
	}
}

func TestTagClockPruneKeepsRecentRecords(t *testing.T) {
	c := NewTagClock(0)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	c.Invalidate([]string{"old"}, ModeExpire)
	now = now.Add(2 * time.Hour)
	c.Invalidate([]string{"new"}, ModeExpire)
	if dropped := c.Prune(time.Hour); dropped != 1 {
		t.Fatalf("pruned %d records, want 1", dropped)
	}
	if c.Len() != 1 {
		t.Fatalf("%d records left, want 1", c.Len())
	}
}

func TestTagClockShrinkNeverForgetsAnInvalidation(t *testing.T) {
	c := NewTagClock(100)
	start := c.Now()
	for i := range 1000 {
		c.Invalidate([]string{fmt.Sprintf("tag-%d", i)}, ModeExpire)
		if c.Len() > 100 {
			t.Fatalf("clock holds %d records, bound is 100", c.Len())
		}
	}
	// Every one of the 1000 invalidations must still cover an entry whose
	// fetch started before them, whether its record survived or was folded
	// into the floor.
	for i := range 1000 {
		if got := c.Check(start, []string{fmt.Sprintf("tag-%d", i)}); got != HardInvalidated {
			t.Fatalf("tag-%d: %v, want HardInvalidated", i, got)
		}
	}
	if got := c.Check(c.Now(), []string{"tag-5"}); got != Valid {
		t.Fatalf("fetch after all invalidations: %v, want Valid", got)
	}
}

// BenchmarkInvalidateTag measures invalidating one tag that covers every
// entry of a store holding n entries: the tag clock makes it O(1).
func BenchmarkInvalidateTag(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			s, err := NewStore("bench", StoreConfig{MaxSize: 4 << 30, MaxRetention: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fillStore(b, s, n, []string{"shared"})
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.InvalidateTags(b.Context(), []string{"shared"}, ModeExpire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Issue 12.4: Next.js 16 names a soft purge "max" (revalidateTag(tag,
// 'max')) and a hard one {expire: 0} (revalidateTag(tag, {expire: 0})).
func TestModeAcceptsNextJSNames(t *testing.T) {
	for in, want := range map[string]Mode{`"expire"`: ModeExpire, `"stale"`: ModeStale, `"max"`: ModeStale, `{"expire": 0}`: ModeExpire} {
		var m Mode
		if err := json.Unmarshal([]byte(in), &m); err != nil || m != want {
			t.Errorf("mode %s: %q, %v; want %q", in, m, err, want)
		}
	}
	var m Mode
	if err := json.Unmarshal([]byte(`"purge"`), &m); err != nil || m.Valid() {
		t.Errorf(`mode "purge": %q valid %v, %v; want kept and invalid`, m, m.Valid(), err)
	}
	for _, in := range []string{`{"expire": 60}`, `{}`, `7`} {
		if err := json.Unmarshal([]byte(in), &m); err == nil {
			t.Errorf("mode %s accepted", in)
		}
	}
	if got, ok := ParseMode("max"); !ok || got != ModeStale {
		t.Errorf(`ParseMode("max") = %q, %v`, got, ok)
	}
}
