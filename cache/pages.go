package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Pages that an app renders and caches itself (Next.js) depend on tags the
// app never sends to Caddy: `next start` deletes x-next-cache-tags from its
// responses. The app's cache handler (the bridge in integrations/nextjs)
// reports them instead, each time the app stores or first reads a page:
// "page /posts depends on posts, _N_T_/layout, ...". The store keeps that
// as an index from tag to paths, and an invalidation of a tag also
// invalidates the path tag of every page indexed under it.
//
// Expanding at invalidation time, rather than adding learned tags to
// entries when they are stored, is what makes learning order-free: an entry
// stored before its page's tags were learned, or by another instance that
// never heard of them, carries its path tag, and that is all an expanded
// invalidation needs (design invariant 1 still holds: invalidating costs
// one record per tag and path, checking an entry one lookup per tag).

// NextImplicitTagPrefix starts the implicit tags Next.js derives from a
// page's path (`revalidatePath('/posts')` revalidates `_N_T_/posts`).
const NextImplicitTagPrefix = "_N_T_"

// NextRootLayoutTag is the implicit tag of the root layout, which every
// app-router page has: `revalidatePath('/', 'layout')` invalidates it.
// Entries stored under the Next.js profile carry it.
const NextRootLayoutTag = NextImplicitTagPrefix + "/layout"

// MaxExpandedPaths bounds the paths one invalidation expands to. Past it the
// invalidation covers every Next.js page instead (NextRootLayoutTag), which
// expires more than asked but never less.
const MaxExpandedPaths = 4096

// defaultPageIndexBytes bounds the in-memory index.
const defaultPageIndexBytes = 8 << 20

// memoryPages is the embedded PageIndex: bounded in bytes. When full it drops
// a tag's set and reports its paths, which the store then expires (the
// index forgets only what it has made safe to forget).
type memoryPages struct {
	mu       sync.Mutex
	byTag    map[string]map[string]struct{}
	bytes    int64
	maxBytes int64
	// evicted is called, outside the lock, with paths dropped from the index.
	evicted func(paths []string)
}

const pageIndexOverhead = 96 // per tag-path pair: map slots and headers

func newMemoryPages(maxBytes int64, evicted func([]string)) *memoryPages {
	if maxBytes <= 0 {
		maxBytes = defaultPageIndexBytes
	}
	return &memoryPages{byTag: make(map[string]map[string]struct{}), maxBytes: maxBytes, evicted: evicted}
}

// Add implements PageIndex.
func (m *memoryPages) Add(_ context.Context, path string, tags []string) error {
	var dropped []string
	m.mu.Lock()
	for _, tag := range tags {
		key := RecordKey(tag)
		set := m.byTag[key]
		if set == nil {
			set = make(map[string]struct{})
			m.byTag[key] = set
		}
		if _, ok := set[path]; !ok {
			set[path] = struct{}{}
			m.bytes += int64(len(key)+len(path)) + pageIndexOverhead
		}
	}
	for m.bytes > m.maxBytes && len(m.byTag) > 0 {
		for key, set := range m.byTag { // an arbitrary victim
			for p := range set {
				dropped = append(dropped, p)
				m.bytes -= int64(len(key)+len(p)) + pageIndexOverhead
			}
			delete(m.byTag, key)
			break
		}
	}
	m.mu.Unlock()
	if len(dropped) > 0 && m.evicted != nil {
		m.evicted(dropped)
	}
	return nil
}

// Paths implements PageIndex.
func (m *memoryPages) Paths(_ context.Context, tags []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, tag := range tags {
		for p := range m.byTag[RecordKey(tag)] {
			out = append(out, p)
		}
	}
	return out, nil
}

// expandTags returns the path tags an invalidation of tags also covers:
// those of the pages indexed under them, and the page a Next.js implicit
// path tag names (`_N_T_/posts` is the page /posts). Past MaxExpandedPaths
// it returns NextRootLayoutTag alone, which covers every Next.js page.
func (s *Store) expandTags(ctx context.Context, tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	var paths []string
	if s.pagesInUse.Load() {
		var err error
		if paths, err = s.pages.Paths(ctx, tags); err != nil {
			return nil, fmt.Errorf("reading the page index: %w", err)
		}
	}
	for _, tag := range tags {
		if p, ok := nextImplicitPath(tag); ok {
			paths = append(paths, p)
		}
	}
	seen := make(map[string]struct{}, len(paths))
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, PathTag(p))
		if len(out) > MaxExpandedPaths {
			return []string{NextRootLayoutTag}, nil
		}
	}
	return out, nil
}

// nextImplicitPath returns the page an implicit Next.js path tag names:
// `_N_T_/posts` is /posts, and `_N_T_/index` the root. Layout and page tags
// (`_N_T_/posts/layout`) name routes, not URLs: the index resolves them.
func nextImplicitPath(tag string) (string, bool) {
	p, ok := strings.CutPrefix(tag, NextImplicitTagPrefix)
	if !ok || !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/layout") || strings.HasSuffix(p, "/page") || strings.HasSuffix(p, "/route") {
		return "", false
	}
	if p == "/index" {
		p = "/"
	}
	return p, true
}

// PageReport is what an app's cache handler reports of a page it stored or
// read: its path, the tags its content depends on and when it was
// generated.
type PageReport struct {
	// Path is the page's URL path, as requests name it.
	Path string `json:"path"`
	// Tags are the tags the page's content depends on.
	Tags []string `json:"tags"`
	// Generated is when the app generated the content, in unix
	// milliseconds.
	Generated int64 `json:"generated"`
}

// LearnPage indexes a page's tags, remembers when it was generated (the
// Next.js profile derives the Age of the app's cached answers from it) and,
// when one of its tags was invalidated after the page was generated (the
// report lost a race with the invalidation), invalidates the page, through
// the backend so every instance does.
func (s *Store) LearnPage(ctx context.Context, rep PageReport) error {
	s.UsePageIndex()
	if err := s.pages.Add(ctx, rep.Path, rep.Tags); err != nil {
		return fmt.Errorf("indexing page %s: %w", rep.Path, err)
	}
	s.generated.remember(rep.Path, rep.Generated)
	times, _ := s.clock.Times(rep.Tags)
	mode := Mode("")
	for _, t := range times {
		if t.Expired > rep.Generated {
			mode = ModeExpire
			break
		}
		if t.Stale > rep.Generated {
			mode = ModeStale
		}
	}
	if mode != "" {
		if _, err := s.InvalidateTags(ctx, []string{PathTag(rep.Path)}, mode); err != nil {
			return fmt.Errorf("expiring page %s generated before an invalidation of its tags: %w", rep.Path, err)
		}
	}
	return nil
}

// UsePageIndex makes invalidations of this store expand through the page
// index. The Next.js bridge and the Next.js profile of tag_cache call it at
// provision, so every instance of a shared configuration expands, including
// one that never received a page report itself.
func (s *Store) UsePageIndex() { s.pagesInUse.Store(true) }

// GeneratedAt returns when the app last reported generating the page at
// path, if it did.
func (s *Store) GeneratedAt(path string) (time.Time, bool) {
	return s.generated.at(path)
}

// generationTimes remembers, per path, when the app last generated the page;
// bounded in bytes, forgetting arbitrary paths when full (a forgotten time
// only makes the Next.js profile assume the worst age).
type generationTimes struct {
	mu    sync.Mutex
	times map[string]int64
	bytes int64
}

// maxGenerationBytes bounds what the remembered times weigh: the paths plus
// generationOverhead each (map slot, string header, the time).
const (
	maxGenerationBytes = 8 << 20
	generationOverhead = 64
)

func (g *generationTimes) remember(path string, ms int64) {
	if ms <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.times == nil {
		g.times = make(map[string]int64)
	}
	if _, ok := g.times[path]; !ok {
		cost := int64(len(path)) + generationOverhead
		for p := range g.times {
			if g.bytes+cost <= maxGenerationBytes {
				break
			}
			delete(g.times, p)
			g.bytes -= int64(len(p)) + generationOverhead
		}
		g.bytes += cost
		path = strings.Clone(path)
	}
	if ms > g.times[path] {
		g.times[path] = ms
	}
}

func (g *generationTimes) at(path string) (time.Time, bool) {
	g.mu.Lock()
	ms, ok := g.times[path]
	g.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// TagTimes returns the wall times of tags' last invalidations as this
// instance applied them, the clock's forgotten mark (see TagClock.Times),
// and whether the instance can vouch for its clock at all (false while a
// distributed backend has lost its feed).
func (s *Store) TagTimes(tags []string) (map[string]TagTimes, int64, bool) {
	times, forgotten := s.clock.Times(tags)
	return times, forgotten, s.backend.Trustworthy()
}

var _ PageIndex = (*memoryPages)(nil)
