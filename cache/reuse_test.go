package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestDecideReuse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	// stored returns an entry age old at now, fresh for lifetime, with the
	// reuse rules of reuse (whose Lifetime it sets).
	stored := func(age, lifetime time.Duration, reuse Reuse) *Entry {
		at := now.Add(-age)
		reuse.Lifetime = lifetime
		return &Entry{RequestTime: at, ResponseTime: at, DateValue: at, Reuse: reuse}
	}
	fresh := stored(10*time.Second, time.Minute, Reuse{}) // 50 s of freshness left
	staleBy := func(d time.Duration, reuse Reuse) *Entry { return stored(time.Minute+d, time.Minute, reuse) }
	cc := func(field string) Directives {
		return ParseDirectives(http.Header{"Cache-Control": {field}}, "Cache-Control")
	}

	forward := func(fwd FwdReason, detail string) ReuseDecision {
		return ReuseDecision{Action: ForwardMiss, Fwd: fwd, Detail: detail}
	}
	serveFresh := ReuseDecision{Action: ServeFresh}
	revalidate := ReuseDecision{Action: Revalidate, Fwd: FwdStale}
	refuse := ReuseDecision{Action: RefuseOnlyIfCached, Fwd: FwdMiss, Detail: DetailOnlyIfCached}
	maxStale := ReuseDecision{Action: ServeStale, Detail: DetailMaxStale}
	swr := ReuseDecision{Action: ServeStaleAndRefresh, Detail: DetailStaleWhileRevalidate}
	soft := ReuseDecision{Action: ServeStaleAndRefresh, Detail: DetailSoftInvalidated}

	for _, tc := range []struct {
		name  string
		req   ReuseRequest
		found Found
		want  ReuseDecision
	}{
		// Nothing stored may answer.
		{"nothing stored", ReuseRequest{}, Found{}, forward(FwdURIMiss, "")},
		{"stored for other Vary values", ReuseRequest{}, Found{VaryMiss: true}, forward(FwdVaryMiss, "")},
		{"hard invalidated", ReuseRequest{}, Found{Entry: fresh, Validity: HardInvalidated}, forward(FwdMiss, DetailInvalidated)},
		{"credentialed request, entry not shareable with it", ReuseRequest{Standing: Credentialed}, Found{Entry: fresh}, forward(FwdURIMiss, "")},
		{"anonymous request, entry stored behind a gate",
			ReuseRequest{}, Found{Entry: func() *Entry {
				e := stored(0, time.Minute, Reuse{AuthorizedReuse: true})
				e.Standing = Admitted
				return e
			}()},
			forward(FwdURIMiss, "")},
		{"request no-cache, nothing stored", ReuseRequest{NoCache: true}, Found{}, forward(FwdRequest, "")},
		{"request no-cache, entry hard invalidated", ReuseRequest{NoCache: true}, Found{Entry: fresh, Validity: HardInvalidated}, forward(FwdRequest, "")},

		// Fresh entries.
		{"fresh hit", ReuseRequest{}, Found{Entry: fresh}, serveFresh},
		{"fresh hit from the shared level", ReuseRequest{}, Found{Entry: fresh, Shared: true}, ReuseDecision{Action: ServeFresh, Detail: DetailShared}},
		{"credentialed request, entry shareable with it",
			ReuseRequest{Standing: Credentialed}, Found{Entry: stored(0, time.Minute, Reuse{AuthorizedReuse: true})}, serveFresh},
		{"request max-age older than the entry", ReuseRequest{CacheControl: cc("max-age=10")}, Found{Entry: fresh}, serveFresh},
		{"request max-age younger than the entry", ReuseRequest{CacheControl: cc("max-age=5")}, Found{Entry: fresh}, revalidate},
		{"request max-age invalid, ignored", ReuseRequest{CacheControl: cc("max-age=soon")}, Found{Entry: fresh}, serveFresh},
		{"request min-fresh met", ReuseRequest{CacheControl: cc("min-fresh=50")}, Found{Entry: fresh}, serveFresh},
		{"request min-fresh not met", ReuseRequest{CacheControl: cc("min-fresh=51")}, Found{Entry: fresh}, revalidate},
		{"fresh entry refused by max-age, max-stale does not help",
			ReuseRequest{CacheControl: cc("max-age=5, max-stale")}, Found{Entry: fresh}, revalidate},
		{"request no-cache, fresh entry", ReuseRequest{NoCache: true}, Found{Entry: fresh}, revalidate},
		{"entry no-cache, fresh", ReuseRequest{}, Found{Entry: stored(0, time.Minute, Reuse{NoCache: true})}, revalidate},
		{"entry must-revalidate, fresh", ReuseRequest{}, Found{Entry: stored(0, time.Minute, Reuse{MustRevalidate: true})}, serveFresh},

		// Stale entries: max-stale.
		{"stale, nothing allows it", ReuseRequest{}, Found{Entry: staleBy(5*time.Second, Reuse{})}, revalidate},
		{"max-stale without a bound", ReuseRequest{CacheControl: cc("max-stale")}, Found{Entry: staleBy(24*time.Hour, Reuse{})}, maxStale},
		{"max-stale bound not reached", ReuseRequest{CacheControl: cc("max-stale=10")}, Found{Entry: staleBy(5*time.Second, Reuse{})}, maxStale},
		{"max-stale bound reached exactly", ReuseRequest{CacheControl: cc("max-stale=10")}, Found{Entry: staleBy(10*time.Second, Reuse{})}, maxStale},
		{"max-stale bound exceeded", ReuseRequest{CacheControl: cc("max-stale=10")}, Found{Entry: staleBy(11*time.Second, Reuse{})}, revalidate},
		{"max-stale bound invalid", ReuseRequest{CacheControl: cc("max-stale=-1")}, Found{Entry: staleBy(time.Second, Reuse{})}, revalidate},
		{"max-stale, entry must-revalidate", ReuseRequest{CacheControl: cc("max-stale")}, Found{Entry: staleBy(time.Second, Reuse{MustRevalidate: true})}, revalidate},
		{"max-stale, entry no-cache", ReuseRequest{CacheControl: cc("max-stale")}, Found{Entry: staleBy(time.Second, Reuse{NoCache: true})}, revalidate},
		{"max-stale, request no-cache", ReuseRequest{CacheControl: cc("max-stale"), NoCache: true}, Found{Entry: staleBy(time.Second, Reuse{})}, revalidate},

		// Stale entries: stale-while-revalidate.
		{"stale-while-revalidate, inside the window",
			ReuseRequest{}, Found{Entry: staleBy(10*time.Second, Reuse{StaleWhileRevalidate: 30 * time.Second})}, swr},
		{"stale-while-revalidate, at the end of the window",
			ReuseRequest{}, Found{Entry: staleBy(30*time.Second, Reuse{StaleWhileRevalidate: 30 * time.Second})}, swr},
		{"stale-while-revalidate, outside the window",
			ReuseRequest{}, Found{Entry: staleBy(31*time.Second, Reuse{StaleWhileRevalidate: 30 * time.Second})}, revalidate},
		{"stale-while-revalidate, entry must-revalidate",
			ReuseRequest{}, Found{Entry: staleBy(time.Second, Reuse{StaleWhileRevalidate: time.Minute, MustRevalidate: true})}, revalidate},
		{"stale-while-revalidate, entry no-cache",
			ReuseRequest{}, Found{Entry: staleBy(time.Second, Reuse{StaleWhileRevalidate: time.Minute, NoCache: true})}, revalidate},
		{"stale-while-revalidate, request no-cache",
			ReuseRequest{NoCache: true}, Found{Entry: staleBy(time.Second, Reuse{StaleWhileRevalidate: time.Minute})}, revalidate},
		{"max-stale wins over stale-while-revalidate",
			ReuseRequest{CacheControl: cc("max-stale")}, Found{Entry: staleBy(time.Second, Reuse{StaleWhileRevalidate: time.Minute})}, maxStale},

		// Soft invalidation: served stale and refreshed, fresh or not.
		{"soft invalidated, fresh", ReuseRequest{}, Found{Entry: fresh, Validity: SoftInvalidated}, soft},
		{"soft invalidated, stale", ReuseRequest{}, Found{Entry: staleBy(time.Hour, Reuse{}), Validity: SoftInvalidated}, soft},
		{"soft invalidated, entry must-revalidate", ReuseRequest{},
			Found{Entry: staleBy(time.Hour, Reuse{MustRevalidate: true}), Validity: SoftInvalidated}, soft},
		{"soft invalidated, request max-stale", ReuseRequest{CacheControl: cc("max-stale")},
			Found{Entry: staleBy(time.Second, Reuse{}), Validity: SoftInvalidated}, soft},
		{"soft invalidated, request no-cache", ReuseRequest{NoCache: true}, Found{Entry: fresh, Validity: SoftInvalidated}, revalidate},

		// Unverified entries (the invalidation feed is lost).
		{"unverified, fresh", ReuseRequest{}, Found{Entry: fresh, Validity: Unverified}, revalidate},
		{"unverified, request max-stale", ReuseRequest{CacheControl: cc("max-stale")}, Found{Entry: staleBy(time.Second, Reuse{}), Validity: Unverified}, revalidate},
		{"unverified, only-if-cached", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: fresh, Validity: Unverified}, refuse},

		// only-if-cached.
		{"only-if-cached, nothing stored", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{}, refuse},
		{"only-if-cached and no-cache, nothing stored", ReuseRequest{CacheControl: cc("only-if-cached, no-cache"), NoCache: true}, Found{}, refuse},
		{"only-if-cached, hard invalidated", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: fresh, Validity: HardInvalidated}, refuse},
		{"only-if-cached, fresh", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: fresh}, serveFresh},
		{"only-if-cached, stale", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: staleBy(time.Second, Reuse{})}, refuse},
		{"only-if-cached, stale within max-stale", ReuseRequest{CacheControl: cc("only-if-cached, max-stale=5")}, Found{Entry: staleBy(time.Second, Reuse{})}, maxStale},
		{"only-if-cached, stale-while-revalidate",
			ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: staleBy(time.Second, Reuse{StaleWhileRevalidate: time.Minute})}, swr},
		{"only-if-cached, soft invalidated", ReuseRequest{CacheControl: cc("only-if-cached")}, Found{Entry: fresh, Validity: SoftInvalidated}, soft},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideReuse(tc.req, tc.found, now); got != tc.want {
				t.Fatalf("DecideReuse = %v %q %q, want %v %q %q", got.Action, got.Fwd, got.Detail, tc.want.Action, tc.want.Fwd, tc.want.Detail)
			}
		})
	}
}
