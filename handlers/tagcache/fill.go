package tagcache

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
)

// fill forwards r to the rest of the route, streams the response to the
// client and stores it when RFC 9111 and the configuration allow. It
// returns the stored entry, or nil. fwd is the forward's Cache-Status so
// far. When stale is set, this is a revalidation of it: a 304 refreshes it,
// and an error may be answered with it under stale-if-error.
func (h *Handler) fill(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, fwd cacheStatus, stale *cache.Entry) (*cache.Entry, error) {
	f := &fillRun{h: h, client: w, r: r, lr: lr, fwd: fwd, stale: stale}
	return f.run(next)
}

// fillRun is one fill: a request forwarded to the rest of the route, and
// what the cache does with the response.
type fillRun struct {
	h      *Handler
	client http.ResponseWriter
	r      *http.Request
	lr     lookupRequest
	fwd    cacheStatus
	// stale is the entry being revalidated, or nil; conditional is set
	// when the origin is asked with its validators.
	stale       *cache.Entry
	conditional bool

	times fetchTimes
	rec   *fillRecorder
	// judged is the storage decision made when the response's head went
	// to the client, so storing does not parse the headers a second time.
	judged *cache.Decision
}

// fetchTimes are when a fill happened: the tag-clock value when it started
// (invalidations recorded from then on apply to what it stores) and the
// times an entry's age is computed from (RFC 9111 section 4.2.3).
type fetchTimes struct {
	clock    uint64
	request  time.Time
	response time.Time
}

// run forwards the request and deals with the response: streamed to the
// client and stored, or held back and answered from the stale entry.
func (f *fillRun) run(next caddyhttp.Handler) (*cache.Entry, error) {
	f.times = fetchTimes{clock: f.h.store.Clock().Now(), request: f.h.now()}
	upstream := f.upstreamRequest()
	f.rec = f.newRecorder()
	err := next.ServeHTTP(f.rec, upstream)
	f.times.response = f.h.now()
	switch {
	case f.lr.background && err == nil && f.rec.status >= 500:
		// A refresh that got a server error keeps the entry it had.
		return nil, fmt.Errorf("origin answered %d", f.rec.status)
	case f.stale != nil && !f.rec.streaming && f.rec.wroteHead:
		return f.answerFromStale()
	case err != nil:
		return nil, f.answerFailure(err)
	}
	if !f.rec.wroteHead {
		f.rec.WriteHeader(http.StatusOK)
	}
	return f.store(), nil
}

// upstreamRequest is the request the rest of the route gets: r, or for a
// revalidation of an entry with validators, a conditional copy of it.
func (f *fillRun) upstreamRequest() *http.Request {
	f.conditional = f.stale != nil && f.stale.HasValidators()
	if !f.conditional {
		return f.r
	}
	f.h.store.RecordRevalidation()
	return conditionalRequest(f.r, f.stale)
}

// newRecorder returns the writer the rest of the route answers into.
func (f *fillRun) newRecorder() *fillRecorder {
	rec := newFillRecorder(f.client, f.h.MaxItemSize, f.streamsToClient)
	if f.h.Nextjs {
		rec.amend = func(_ int, header http.Header) { f.h.nextjsAge(f.r, header, f.h.now()) }
	}
	rec.prepare = f.prepareClientHead
	return rec
}

// streamsToClient says whether a response of status goes to the client as
// it comes: not when the cache answers from the stale entry instead (a 304
// that refreshes it, an error the entry may stand in for).
func (f *fillRun) streamsToClient(status int) bool {
	if f.stale == nil {
		return true
	}
	refreshed := f.conditional && status == http.StatusNotModified
	return !refreshed && !f.h.canServeStaleOnError(f.lr, f.stale, status)
}

// prepareClientHead judges a streamed response when its head arrives, and
// sets the client's headers accordingly: no tag headers, this cache's
// Cache-Status. A response that will not be stored is not copied.
func (f *fillRun) prepareClientHead(status int, header http.Header) {
	decision := f.h.judge(f.r, f.lr, status, header, f.h.now())
	f.judged = &decision
	if !decision.Storable || f.r.Method != http.MethodGet || contentLengthOver(header, f.h.MaxItemSize) {
		// Nothing will be stored: stream without keeping a copy, so a long
		// response (an event stream, a download) costs no memory.
		f.rec.keepNoCopy()
	}
	f.h.stripTagHeaders(header)
	header.Add("Cache-Status", f.h.render(f.forwardedStatus(status, decision)))
}

// forwardedStatus is the Cache-Status of a forwarded response of status
// and its storage decision.
func (f *fillRun) forwardedStatus(status int, decision cache.Decision) cacheStatus {
	s := f.fwd
	if f.stale != nil {
		s = cacheStatus{fwd: cache.FwdStale, fwdStatus: status}
	}
	s.key = f.lr.primaryKey
	if decision.Storable {
		return s.storedWith(decision.Lifetime)
	}
	s.detail = decision.Reason
	return s
}

// answerFromStale answers the client from the entry being revalidated,
// when the origin's answer was held back: a 304 refreshes the entry (and
// stores the refreshed one), an error is answered with it (RFC 5861
// stale-if-error).
func (f *fillRun) answerFromStale() (*cache.Entry, error) {
	at := f.times.response
	if f.conditional && f.rec.status == http.StatusNotModified {
		stored := f.h.refreshFrom304(f.r, f.lr, f.stale, f.rec.snapshot, f.rec.produced(), f.times)
		served := stored
		if served == nil {
			served = f.stale
		}
		status := cacheStatus{fwd: cache.FwdStale, fwdStatus: http.StatusNotModified, key: served.Key}
		if stored != nil {
			status = status.storedWith(served.Freshness(at))
		}
		return stored, f.h.serveEntry(f.client, f.r, served, at, status)
	}
	f.h.store.RecordStaleServe()
	return nil, f.h.serveEntry(f.client, f.r, f.stale, at, staleIfErrorStatus(f.stale, f.rec.status, at))
}

// answerFailure deals with the rest of the route failing with err: before
// anything was sent, a stale entry that may stand in for an unreachable
// origin answers; otherwise err goes on to Caddy.
func (f *fillRun) answerFailure(err error) error {
	if f.stale != nil && !f.rec.wroteHead && f.h.canServeStaleOnError(f.lr, f.stale, http.StatusBadGateway) {
		f.h.store.RecordStaleServe()
		at := f.times.response
		return f.h.serveEntry(f.client, f.r, f.stale, at, staleIfErrorStatus(f.stale, http.StatusBadGateway, at))
	}
	return err
}

// store stores what the recorder captured when it may be stored, and
// returns the entry, or nil.
func (f *fillRun) store() *cache.Entry {
	rec := f.rec
	if f.r.Method != http.MethodGet {
		return nil
	}
	decision := f.decision()
	if !decision.Storable || rec.overflowed {
		f.h.store.RecordUncacheable()
		return nil
	}
	if cl := rec.snapshot.Get("Content-Length"); cl != "" && cl != strconv.Itoa(rec.body.Len()) {
		// A truncated body (the upstream broke off) must not be stored.
		f.h.store.RecordUncacheable()
		return nil
	}
	// The entry keeps only what the handlers after the cache produced:
	// headers set before it for this request (CORS, placeholders) are set
	// again for every request, and must not be replayed to others.
	response := fetched{status: rec.status, seen: rec.snapshot, produced: rec.produced(), body: rec.body.Bytes()}
	entry, ok := f.h.newEntry(f.r, f.lr.Standing, response, decision, f.times)
	if !ok || !f.h.store.Put(entry) {
		return nil
	}
	return entry
}

// decision is the storage decision of the captured response: the one made
// when its head went to the client, or made now.
func (f *fillRun) decision() cache.Decision {
	if f.judged != nil {
		return *f.judged
	}
	return f.h.judge(f.r, f.lr, f.rec.status, f.rec.snapshot, f.times.response)
}

// judge decides whether a response may be stored: RFC 9111 for the
// request's standing, and never what a gate after the cache let through
// (stored, it would be served to requests that never pass the gate).
func (h *Handler) judge(r *http.Request, lr lookupRequest, status int, header http.Header, at time.Time) cache.Decision {
	if h.gateAfterCache(r, lr) != "" {
		return cache.Decision{Reason: "behind-gate"}
	}
	if h.Nextjs {
		if reason := nextjsRefusal(r, status, header); reason != "" {
			return cache.Decision{Reason: reason}
		}
	}
	d := h.policy.Judge(r, lr.Standing, status, header, at)
	if h.Nextjs {
		d.Reuse.StaleWhileRevalidate = min(d.Reuse.StaleWhileRevalidate, nextjsSWRBound)
	}
	return d
}

// contentLengthOver reports whether the response announces a body larger
// than limit.
func contentLengthOver(h http.Header, limit int64) bool {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	return err == nil && n > limit
}

// canServeStaleOnError reports whether status from upstream may be replaced
// by the stale entry (RFC 5861 stale-if-error, from the response or the
// request).
func (h *Handler) canServeStaleOnError(lr lookupRequest, stale *cache.Entry, status int) bool {
	if lr.background {
		return false // nobody to answer: the refresh failed, and says so
	}
	if status < 500 || stale.MustRevalidate || stale.NoCache {
		return false
	}
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
		// The origin could not be reached: the cache is disconnected, when
		// RFC 9111 section 4.2.4 lets it serve stale rather than fail.
		return true
	}
	staleness := -stale.Freshness(h.now())
	if staleness <= stale.StaleIfError {
		return true
	}
	if limit, ok := lr.CacheControl.Seconds("stale-if-error"); ok && staleness <= limit {
		return true
	}
	return false
}
