package cache

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func newPagesStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore("test", StoreConfig{MaxSize: 64 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// pageEntry is an entry of a Next.js page as tag_cache stores it: its
// path tag and no data tags (next start sends none).
func pageEntry(s *Store, path string) *Entry {
	now := time.Now()
	key := "http://example.com" + path
	return &Entry{Key: key, PrimaryKey: key, Path: path, Status: 200, Header: http.Header{},
		Body: []byte(path), RequestTime: now, ResponseTime: now, DateValue: now, Reuse: Reuse{Lifetime: time.Hour},
		Tags: []string{PathTag(path), URITag(key)}, Clock: s.clock.Now()}
}

// An entry stored before its page's tags were learned is still purged by
// an invalidation of one of them: the reproduction of `next start` never
// sending x-next-cache-tags.
func TestStoreLearnedPageTagsExpandInvalidations(t *testing.T) {
	s := newPagesStore(t)
	ctx := context.Background()
	posts, other := pageEntry(s, "/posts"), pageEntry(s, "/about")
	s.Put(posts)
	s.Put(other)
	tags := []string{"_N_T_/layout", "_N_T_/posts/layout", "_N_T_/posts/page", "_N_T_/posts", "posts"}
	if err := s.LearnPage(ctx, PageReport{Path: "/posts", Tags: tags, Generated: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(posts); got != Valid {
		t.Fatalf("learning tags invalidated a page generated after every invalidation: %v", got)
	}
	if _, err := s.Invalidate(ctx, []string{"posts"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(posts); got != HardInvalidated {
		t.Fatalf("invalidating tag posts left the /posts page %v, want it expired", got)
	}
	if got := s.Validity(other); got != Valid {
		t.Fatalf("invalidating posts touched /about: %v", got)
	}
	// A layout tag reaches every page indexed under it, in stale mode too.
	fresh := pageEntry(s, "/posts")
	s.Put(fresh)
	if _, err := s.Invalidate(ctx, []string{"_N_T_/posts/layout"}, nil, ModeStale); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(fresh); got != SoftInvalidated {
		t.Fatalf("a stale invalidation of the page's layout left it %v, want SoftInvalidated", got)
	}
}

// revalidatePath('/posts') is revalidateTag('_N_T_/posts'): it names the
// page, learned or not.
func TestStoreNextImplicitPathTagNamesThePage(t *testing.T) {
	s := newPagesStore(t)
	for _, c := range []struct{ tag, path string }{{"_N_T_/posts", "/posts"}, {"_N_T_/", "/"}, {"_N_T_/index", "/"}} {
		e := pageEntry(s, c.path)
		s.Put(e)
		if _, err := s.Invalidate(context.Background(), []string{c.tag}, nil, ModeExpire); err != nil {
			t.Fatal(err)
		}
		if got := s.Validity(e); got != HardInvalidated {
			t.Errorf("invalidating %s left %s %v", c.tag, c.path, got)
		}
	}
	for _, tag := range []string{"_N_T_/posts/layout", "_N_T_/posts/page", "posts"} {
		if p, ok := nextImplicitPath(tag); ok {
			t.Errorf("%s taken for the page %s: layout, page and data tags name no URL", tag, p)
		}
	}
}

// A page reported after an invalidation of one of its tags, but generated
// before it (the report lost the race), is expired when the report comes.
func TestStoreLateReportExpiresPageGeneratedBeforeInvalidation(t *testing.T) {
	s := newPagesStore(t)
	ctx := context.Background()
	generated := time.Now().Add(-time.Second).UnixMilli()
	e := pageEntry(s, "/posts")
	s.Put(e)
	if _, err := s.Invalidate(ctx, []string{"posts"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(e); got != Valid {
		t.Fatalf("before the report the page's tags are unknown: %v", got)
	}
	if err := s.LearnPage(ctx, PageReport{Path: "/posts", Tags: []string{"posts"}, Generated: generated}); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(e); got != HardInvalidated {
		t.Fatalf("a page generated before an invalidation of its tag is %v after its report, want expired", got)
	}
}

// The in-memory index is bounded in bytes; what it forgets is expired,
// never left to serve past an invalidation it can no longer expand.
func TestStorePageIndexBoundExpiresWhatItForgets(t *testing.T) {
	s := newPagesStore(t)
	mem := newMemoryPages(64<<10, s.pages.(*memoryPages).evicted)
	s.pages = mem
	ctx := context.Background()
	first := pageEntry(s, "/p/0")
	s.Put(first)
	for i := range 2000 {
		if err := s.LearnPage(ctx, PageReport{Path: fmt.Sprintf("/p/%d", i), Tags: []string{fmt.Sprintf("t%d", i), "shared"}, Generated: time.Now().UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}
	if mem.bytes > mem.maxBytes {
		t.Fatalf("index weighs %d bytes, bound %d", mem.bytes, mem.maxBytes)
	}
	if _, err := s.Invalidate(ctx, []string{"t0", "shared"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(first); got != HardInvalidated {
		t.Fatalf("a page whose tags the bounded index dropped is %v after its tag was invalidated", got)
	}
}

// The tag clock reports wall times for the bridge, and its forgotten mark
// rises when records are pruned or the floor is raised.
func TestTagClockTimesAndForgottenMark(t *testing.T) {
	c := NewTagClock(0)
	before := time.Now().UnixMilli()
	c.Invalidate([]string{RecordKey("a")}, ModeExpire)
	c.Invalidate([]string{RecordKey("b")}, ModeStale)
	long := strings.Repeat("x", 200)
	c.Invalidate([]string{RecordKey(long)}, ModeExpire)
	times, forgotten := c.Times([]string{"a", "b", "never", long})
	if times["a"].Expired < before || times["a"].Stale != 0 {
		t.Errorf("a: %+v", times["a"])
	}
	if times["b"].Stale < before || times["b"].Expired != 0 {
		t.Errorf("b: %+v", times["b"])
	}
	if _, ok := times["never"]; ok {
		t.Errorf("a tag never invalidated has times")
	}
	if times[long].Expired < before {
		t.Errorf("a long tag, recorded under its digest, has no time: %+v", times[long])
	}
	if forgotten != 0 {
		t.Errorf("nothing forgotten yet, mark %d", forgotten)
	}
	c.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	c.Prune(time.Hour)
	if _, f := c.Times(nil); f < before {
		t.Errorf("pruning records did not raise the forgotten mark: %d", f)
	}
}

// The generation times the bridge reports are bounded in bytes, whatever
// the paths' length.
func TestGenerationTimesAreBoundedInBytes(t *testing.T) {
	var g generationTimes
	long := strings.Repeat("p", MaxPathLength-10)
	for i := range 20000 {
		g.remember(fmt.Sprintf("/%d/%s", i, long), 1)
	}
	if g.bytes > maxGenerationBytes {
		t.Fatalf("generation times weigh %d bytes, bound %d", g.bytes, maxGenerationBytes)
	}
	var sum int64
	for p := range g.times {
		sum += int64(len(p)) + generationOverhead
	}
	if sum != g.bytes {
		t.Fatalf("accounted %d bytes, held %d", g.bytes, sum)
	}
	if _, ok := g.at(fmt.Sprintf("/%d/%s", 19999, long)); !ok {
		t.Fatal("the latest report was not kept")
	}
}

// Until a page is reported or a Next.js handler uses the store, an
// invalidation does not read the index (a Redis round trip saved for sites
// without Next.js); implicit path tags still name their page.
func TestStorePageIndexReadOnlyOnceInUse(t *testing.T) {
	s := newPagesStore(t)
	counting := &countingPages{PageIndex: s.pages}
	s.pages = counting
	ctx := context.Background()
	e := pageEntry(s, "/posts")
	s.Put(e)
	if _, err := s.Invalidate(ctx, []string{"posts", "_N_T_/posts"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if counting.reads != 0 {
		t.Fatalf("the index was read %d times before anything used it", counting.reads)
	}
	if got := s.Validity(e); got != HardInvalidated {
		t.Fatalf("the implicit path tag did not reach its page: %v", got)
	}
	s.UsePageIndex()
	if _, err := s.Invalidate(ctx, []string{"posts"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if counting.reads != 1 {
		t.Fatalf("the index was read %d times once in use, want 1", counting.reads)
	}
}

type countingPages struct {
	PageIndex
	reads int
}

func (c *countingPages) Paths(ctx context.Context, tags []string) ([]string, error) {
	c.reads++
	return c.PageIndex.Paths(ctx, tags)
}
