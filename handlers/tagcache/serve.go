package tagcache

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/passthrough"
	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// ServeHTTP looks the request up in the store and answers from it, or
// forwards it to the rest of the route and stores what comes back.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case isUpgrade(r):
		return h.bypass(w, r, next, "detail=upgrade")
	case passthrough.MarkedBy(r) != "":
		// A handler before the cache passing a call on to the app for its
		// own purposes (revalidate_webhook's forward): a stored answer
		// would stop the next call from reaching the app.
		return h.bypass(w, r, next, "detail="+passthrough.MarkedBy(r))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if hasBody(r) {
			// A body is no part of the cache key: storing the answer, or
			// answering from the store, would let the body choose what
			// others get under the plain GET's key.
			return h.bypass(w, r, next, "detail=request-body")
		}
		if h.Nextjs {
			if nextjsDraftMode(r) {
				// Editors see drafts; drafts are never stored.
				return h.bypass(w, r, next, "detail=draft-mode")
			}
			nextjsNormalizeImageAccept(r)
		}
		return h.serveCacheable(w, r, next)
	case isSafeMethod(r.Method):
		return h.bypass(w, r, next, "")
	default:
		return h.serveUnsafe(w, r, next)
	}
}

func isSafeMethod(m string) bool {
	return m == http.MethodOptions || m == http.MethodTrace || m == "PROPFIND" || m == "SEARCH"
}

// isUpgrade reports a genuine protocol upgrade (RFC 9110 section 7.8):
// Upgrade named in Connection. An Upgrade field alone is not one, and is
// handled as any request of its method.
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return true
			}
		}
	}
	return false
}

// hasBody reports whether the request carries a body, announced by
// Content-Length or sent chunked.
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// bypass forwards a request the cache neither stores nor answers, still
// stripping the tag headers from what the client receives.
func (h *Handler) bypass(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, detail string) error {
	return next.ServeHTTP(&tagStrippingWriter{ResponseWriter: w, cache: h, status: h.status("fwd=bypass", 0, "", detail)}, r)
}

// lookupRequest is what the cache needs to know of a GET or HEAD.
type lookupRequest struct {
	cc      cache.Directives
	noCache bool
	// standing is what the request presented of its identity before the
	// cache; admittedBy names the gate that admitted it, if any.
	standing   cache.Standing
	admittedBy string
	primaryKey string
	// background marks a refresh that no client waits for.
	background bool
}

// credentialed reports whether the request gets RFC 9111's Authorization
// rules.
func (lr lookupRequest) credentialed() bool { return lr.standing > cache.Anonymous }

// standingOf says what r presented before the cache: admission by a gate
// that ran before it, a credential, or nothing.
func (h *Handler) standingOf(r *http.Request) (cache.Standing, string) {
	if by := standing.AdmittedBy(r); by != "" {
		return cache.Admitted, by
	}
	if standing.Carries(r, h.credentials) {
		return cache.Credentialed, ""
	}
	return cache.Anonymous, ""
}

func (h *Handler) serveCacheable(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	lr := lookupRequest{
		cc:         cache.ParseDirectives(r.Header, "Cache-Control"),
		primaryKey: cache.PrimaryKey(r),
	}
	lr.standing, lr.admittedBy = h.standingOf(r)
	lr.noCache = lr.cc.Has("no-cache") || (lr.cc == nil && hasPragmaNoCache(r.Header))

	entry, varyMiss := h.store.LookupKey(lr.primaryKey, r)
	if entry == nil && !lr.noCache {
		entry = h.lookupShared(r)
		if entry != nil && !entry.ServableTo(lr.standing) {
			entry = nil
		}
		if entry != nil {
			now := h.now()
			if fresh := entry.Freshness(now); fresh > 0 && !entry.NoCache && h.acceptableFresh(lr.cc, entry.Age(now), fresh) {
				h.store.RecordHit()
				return h.serveEntry(w, r, entry, now, h.status("hit", fresh, entry.Key, "detail=shared"))
			}
		}
	}
	validity := cache.Valid
	invalidated := false
	if entry != nil {
		validity = h.store.Validity(entry)
		invalidated = validity == cache.HardInvalidated
		if invalidated || !entry.ServableTo(lr.standing) {
			entry = nil
		}
	}
	if entry == nil {
		if lr.cc.Has("only-if-cached") {
			return h.gatewayTimeout(w, lr)
		}
		fwd := "uri-miss"
		switch {
		case invalidated:
			// An entry exists but a tag or path invalidation expired it;
			// saying so makes revalidations visible when debugging.
			fwd = "miss; detail=invalidated"
		case varyMiss:
			fwd = "vary-miss"
		}
		if lr.noCache {
			fwd = "request"
		}
		return h.serveMiss(w, r, next, lr, fwd)
	}

	now := h.now()
	age := entry.Age(now)
	freshness := entry.Lifetime - age
	soft := validity == cache.SoftInvalidated
	if validity == cache.Unverified {
		// The invalidation feed is lost: nothing is served from memory
		// without the origin's word (design invariant 3).
		if lr.cc.Has("only-if-cached") {
			return h.gatewayTimeout(w, lr)
		}
		return h.revalidate(w, r, next, lr, entry)
	}

	if !lr.noCache && !entry.NoCache && !soft && freshness > 0 && h.acceptableFresh(lr.cc, age, freshness) {
		h.store.RecordHit()
		return h.serveEntry(w, r, entry, now, h.status("hit", freshness, entry.Key, ""))
	}
	// Stale, or fresh but not fresh enough for this request.
	if !lr.noCache && !entry.NoCache && !entry.MustRevalidate && !soft && freshness <= 0 && acceptableStale(lr.cc, -freshness) {
		h.store.RecordStaleServe()
		return h.serveEntry(w, r, entry, now, h.status("hit", freshness, entry.Key, "detail=max-stale"))
	}
	if !lr.noCache && (soft || (freshness <= 0 && !entry.NoCache && !entry.MustRevalidate && -freshness <= entry.StaleWhileRevalidate)) {
		// Serve stale and refresh once in the background: a soft
		// invalidation or RFC 5861 stale-while-revalidate.
		detail := "detail=stale-while-revalidate"
		if soft {
			detail = "detail=soft-invalidated"
		}
		h.store.RecordStaleServe()
		h.refreshInBackground(r, next, lr, entry)
		return h.serveEntry(w, r, entry, now, h.status("hit", freshness, entry.Key, detail))
	}
	if lr.cc.Has("only-if-cached") {
		return h.gatewayTimeout(w, lr)
	}
	return h.revalidate(w, r, next, lr, entry)
}

// lookupShared consults the shared second level (distributed mode) after a
// local miss, bounded so a slow Redis only costs a short wait.
func (h *Handler) lookupShared(r *http.Request) *cache.Entry {
	if !h.store.SharesEntries() {
		return nil // the common case: no second level, no timer to set up
	}
	ctx, cancel := context.WithTimeout(r.Context(), sharedLookupTimeout)
	defer cancel()
	return h.store.LookupShared(ctx, r)
}

// sharedLookupTimeout bounds a second-level lookup.
const sharedLookupTimeout = 250 * time.Millisecond

// acceptableFresh applies the request's max-age and min-fresh.
func (h *Handler) acceptableFresh(cc cache.Directives, age, freshness time.Duration) bool {
	if maxAge, ok := cc.Seconds("max-age"); ok && age > maxAge {
		return false
	}
	if minFresh, ok := cc.Seconds("min-fresh"); ok && freshness < minFresh {
		return false
	}
	return true
}

// acceptableStale applies the request's max-stale to an entry stale by
// staleness.
func acceptableStale(cc cache.Directives, staleness time.Duration) bool {
	arg, ok := cc["max-stale"]
	if !ok {
		return false
	}
	if arg == "" {
		return true
	}
	limit, valid := cc.Seconds("max-stale")
	return valid && staleness <= limit
}

func hasPragmaNoCache(h http.Header) bool {
	for _, v := range h.Values("Pragma") {
		if cache.ParseDirectives(http.Header{"Pragma": {v}}, "Pragma").Has("no-cache") {
			return true
		}
	}
	return false
}

// gatewayTimeout answers only-if-cached requests the cache cannot satisfy
// (RFC 9111 section 5.2.1.7).
func (h *Handler) gatewayTimeout(w http.ResponseWriter, lr lookupRequest) error {
	w.Header().Set("Cache-Status", h.status("fwd=miss", 0, lr.primaryKey, "detail=only-if-cached"))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusGatewayTimeout)
	_, err := w.Write([]byte(`{"success":false,"error":"only-if-cached: no stored response"}` + "\n"))
	return err
}

// serveMiss forwards the request; concurrent misses for the same URI wait
// for one fill and share its response when it was stored.
func (h *Handler) serveMiss(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, fwd string) error {
	h.store.RecordMiss()
	if r.Method != http.MethodGet || lr.credentialed() || lr.noCache {
		_, err := h.fill(w, r, next, lr, fwd, nil)
		return err
	}
	flight, leader := h.store.Join(lr.primaryKey)
	if leader {
		var entry *cache.Entry
		// Deferred: a client that resets mid-body, or a handler that
		// panics (reverse_proxy aborts with http.ErrAbortHandler), must
		// still end the flight, or every later miss of the key would wait.
		defer func() { h.store.Finish(lr.primaryKey, flight, entry) }()
		var err error
		entry, err = h.fill(w, r, next, lr, fwd, nil)
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.LockTimeout))
	shared := flight.Wait(ctx)
	cancel()
	if shared != nil && cache.VariantKey(lr.primaryKey, shared.VaryNames, r) == shared.Key &&
		shared.ServableTo(lr.standing) && h.store.Validity(shared) == cache.Valid {
		now := h.now()
		h.store.RecordHit()
		return h.serveEntry(w, r, shared, now, h.status("hit", shared.Freshness(now), shared.Key, "detail=coalesced"))
	}
	_, err := h.fill(w, r, next, lr, fwd, nil)
	return err
}

// fill forwards r to the rest of the route, streams the response to the
// client and stores it when RFC 9111 and the configuration allow. It
// returns the stored entry, or nil. When stale is set, this is a
// revalidation of it: a 304 refreshes it, and an error may be answered with
// it under stale-if-error.
func (h *Handler) fill(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, fwd string, stale *cache.Entry) (*cache.Entry, error) {
	clockAtStart := h.store.Clock().Now()
	requestTime := h.now()
	upstreamReq := r
	conditional := stale != nil && stale.HasValidators()
	if conditional {
		upstreamReq = conditionalRequest(r, stale)
		h.store.RecordRevalidation()
	}

	var stored *cache.Entry
	var rec *fillRecorder
	// judged keeps the storage decision made when the headers went to the
	// client, so the store step does not parse them a second time.
	var judged *cache.Decision
	rec = newFillRecorder(w, h.MaxItemSize, func(status int) bool {
		if stale != nil && ((conditional && status == http.StatusNotModified) || h.canServeStaleOnError(lr, stale, status)) {
			return false // the cache answers from the stale entry instead
		}
		return true
	})
	if h.Nextjs {
		rec.amend = func(_ int, header http.Header) { h.nextjsAge(r, header, h.now()) }
	}
	rec.prepare = func(status int, header http.Header) {
		decision := h.judge(r, lr, status, header, h.now())
		judged = &decision
		if !decision.Storable || r.Method != http.MethodGet || contentLengthOver(header, h.MaxItemSize) {
			// Nothing will be stored: stream without keeping a copy, so a
			// long response (an event stream, a download) costs no memory.
			rec.keepNoCopy()
		}
		detail := ""
		if decision.Storable {
			detail = "stored"
		} else if decision.Reason != "" {
			detail = "detail=" + decision.Reason
		}
		fwdPart := "fwd=" + fwd
		if stale != nil {
			fwdPart = "fwd=stale; fwd-status=" + strconv.Itoa(status)
		}
		if strings.Contains(fwdPart, "detail=") && strings.HasPrefix(detail, "detail=") {
			detail = "" // one detail parameter only: the forward reason wins
		}
		h.stripTagHeaders(header)
		header.Add("Cache-Status", h.status(fwdPart, decision.Lifetime, lr.primaryKey, detail))
	}
	err := next.ServeHTTP(rec, upstreamReq)
	responseTime := h.now()
	if lr.background && err == nil && rec.status >= 500 {
		// A refresh that got a server error keeps the entry it had.
		return nil, fmt.Errorf("origin answered %d", rec.status)
	}

	if stale != nil && !rec.streaming && rec.wroteHead {
		if conditional && rec.status == http.StatusNotModified {
			stored = h.refreshFrom304(r, lr, stale, rec.snapshot, rec.produced(), clockAtStart, requestTime, responseTime)
			served := stored
			if served == nil {
				served = stale
			}
			return stored, h.serveEntry(w, r, served, responseTime,
				h.status("fwd=stale; fwd-status=304", served.Freshness(responseTime), served.Key, storedWord(stored != nil)))
		}
		// An error answered from the stale entry (RFC 5861 stale-if-error).
		h.store.RecordStaleServe()
		return nil, h.serveEntry(w, r, stale, responseTime,
			h.status("fwd=stale; fwd-status="+strconv.Itoa(rec.status), stale.Freshness(responseTime), stale.Key, "detail=stale-if-error"))
	}
	if err != nil {
		if stale != nil && !rec.wroteHead && h.canServeStaleOnError(lr, stale, http.StatusBadGateway) {
			h.store.RecordStaleServe()
			return nil, h.serveEntry(w, r, stale, responseTime,
				h.status("fwd=stale; fwd-status=502", stale.Freshness(responseTime), stale.Key, "detail=stale-if-error"))
		}
		return nil, err
	}
	if !rec.wroteHead {
		rec.WriteHeader(http.StatusOK)
	}
	stored = h.storeResponse(r, lr, rec, judged, clockAtStart, requestTime, responseTime)
	return stored, nil
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
	d := h.policy.Judge(r, lr.standing, status, header, at)
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

func storedWord(stored bool) string {
	if stored {
		return "stored"
	}
	return ""
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
	if limit, ok := lr.cc.Seconds("stale-if-error"); ok && staleness <= limit {
		return true
	}
	return false
}

// storeResponse stores what rec captured when it may be stored.
func (h *Handler) storeResponse(r *http.Request, lr lookupRequest, rec *fillRecorder, judged *cache.Decision, clockAtStart uint64, requestTime, responseTime time.Time) *cache.Entry {
	if r.Method != http.MethodGet {
		return nil
	}
	var decision cache.Decision
	if judged != nil {
		decision = *judged
	} else {
		decision = h.judge(r, lr, rec.status, rec.snapshot, responseTime)
	}
	if !decision.Storable || rec.overflowed {
		h.store.RecordUncacheable()
		return nil
	}
	if cl := rec.snapshot.Get("Content-Length"); cl != "" && cl != strconv.Itoa(rec.body.Len()) {
		// A truncated body (the upstream broke off) must not be stored.
		h.store.RecordUncacheable()
		return nil
	}
	// The entry keeps only what the handlers after the cache produced:
	// headers set before it for this request (CORS, placeholders) are set
	// again for every request, and must not be replayed to others.
	entry, ok := h.newEntry(r, lr.standing, rec.status, rec.snapshot, rec.produced(), nil, rec.body.Bytes(), decision, clockAtStart, requestTime, responseTime)
	if !ok || !h.store.Put(entry) {
		return nil
	}
	return entry
}

// newEntry builds an entry from a judged response. header is the response
// as the client got it, which says the tags, Date and Age (a `header
// Cache-Tag` before the cache tags the entry); stored is what the entry
// keeps to replay: only what the handlers after the cache produced.
// inherited tags (of the entry a 304 refreshed) are kept too.
func (h *Handler) newEntry(r *http.Request, standing cache.Standing, status int, header, stored http.Header, inherited []string, body []byte, d cache.Decision, clock uint64, requestTime, responseTime time.Time) (*cache.Entry, bool) {
	primary := cache.PrimaryKey(r)
	if h.Nextjs && !isNextjsAsset(r.URL.Path) {
		inherited = append(inherited[:len(inherited):len(inherited)], cache.NextRootLayoutTag)
	}
	tags, ok, problem := h.tagsOf(header, r.URL.Path, primary, inherited...)
	if !ok {
		h.logger.Warn("response not stored: its tags overflow the bounds",
			zap.String("path", r.URL.Path), zap.String("problem", problem),
			zap.Int("max_tag_length", cache.MaxTagLength), zap.Int("max_tags", cache.MaxTagsPerEntry))
		h.store.RecordUncacheable()
		return nil, false
	}
	stored = cache.StorableHeader(stored)
	// The entry varies as the handlers after the cache said; a Vary set
	// before the cache is about headers set again for every request.
	varyNames := cache.VaryNames(stored)
	date, err := http.ParseTime(header.Get("Date"))
	if err != nil {
		date = responseTime
	}
	ageValue := parseAge(header)
	return &cache.Entry{
		Key:        cache.VariantKey(primary, varyNames, r),
		PrimaryKey: primary,
		// A clone: r.URL.Path can be a substring of the whole request line
		// (a 15 kB query string included), which the entry would otherwise
		// keep alive outside the byte budget.
		Path:         strings.Clone(r.URL.Path),
		Status:       status,
		Header:       stored,
		Body:         append([]byte(nil), body...),
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		DateValue:    date,
		AgeValue:     ageValue,
		Reuse:        d.Reuse,
		Tags:         tags,
		Clock:        clock,
		VaryNames:    varyNames,
		Standing:     standing,
	}, true
}

// refreshFrom304 merges a 304's headers into the stale entry (RFC 9111
// section 4.3.4) and stores the result as a new entry. seen is the 304 as
// the client's response got it, produced what the handlers after the cache
// sent: the decision reads the first, the entry keeps the second.
func (h *Handler) refreshFrom304(r *http.Request, lr lookupRequest, stale *cache.Entry, seen, produced http.Header, clock uint64, requestTime, responseTime time.Time) *cache.Entry {
	standing := max(lr.standing, stale.Standing)
	full := merge304(stale.Header, seen)
	lr.standing = standing
	d := h.judge(r, lr, stale.Status, full, responseTime)
	if !d.Storable {
		return nil
	}
	entry, ok := h.newEntry(r, standing, stale.Status, full, merge304(stale.Header, produced), stale.Tags, stale.Body, d, clock, requestTime, responseTime)
	if !ok || !h.store.Put(entry) {
		return nil
	}
	return entry
}

// merge304 updates stored with a 304's fields: every field except those
// describing the stored representation itself, which a 304 cannot change.
func merge304(stored, notModified http.Header) http.Header {
	merged := stored.Clone()
	for k, vs := range cache.StorableHeader(notModified, "Content-Length", "Content-Encoding", "Content-MD5", "Content-Range", "ETag") {
		merged[k] = append([]string(nil), vs...)
	}
	if notModified.Get("Age") == "" {
		merged.Del("Age")
	}
	return merged
}

// conditionalRequest returns a copy of r asking upstream whether stale is
// still current.
func conditionalRequest(r *http.Request, stale *cache.Entry) *http.Request {
	cr := r.Clone(r.Context())
	cr.Header.Del("If-None-Match")
	cr.Header.Del("If-Modified-Since")
	cr.Header.Del("If-Match")
	cr.Header.Del("If-Unmodified-Since")
	cr.Header.Del("If-Range")
	if etag := stale.Header.Get("ETag"); etag != "" {
		cr.Header.Set("If-None-Match", etag)
	}
	if lm := stale.Header.Get("Last-Modified"); lm != "" {
		cr.Header.Set("If-Modified-Since", lm)
	}
	return cr
}

// revalidate answers a request whose entry may not be used without asking
// upstream: conditionally when the entry has validators.
func (h *Handler) revalidate(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, entry *cache.Entry) error {
	if r.Method == http.MethodHead {
		h.store.RecordMiss()
		_, err := h.fill(w, r, next, lr, "stale", nil)
		return err
	}
	// Without validators the request goes upstream unconditionally, but
	// the stale entry still answers if the origin cannot be reached.
	_, err := h.fill(w, r, next, lr, "stale", entry)
	return err
}

// refreshInBackground refreshes entry once, without a client waiting, unless
// a fill for it is already under way. The refresh goes upstream with the
// triggering request's headers, so what it stores keeps that request's
// standing.
func (h *Handler) refreshInBackground(r *http.Request, next caddyhttp.Handler, lr lookupRequest, entry *cache.Entry) {
	flight, leader := h.store.Join(entry.PrimaryKey)
	if !leader {
		return
	}
	bg := detachedRequest(r)
	refresh := lookupRequest{primaryKey: entry.PrimaryKey, standing: lr.standing, admittedBy: lr.admittedBy, background: true}
	go h.refresh(bg, next, refresh, entry, flight)
}

// refresh runs one background refresh. Nothing above this goroutine would
// recover a panic (reverse_proxy aborts with http.ErrAbortHandler when the
// origin breaks off mid-body), so it recovers here, counts a failed
// refresh and always ends the flight (design invariant 7).
func (h *Handler) refresh(bg *http.Request, next caddyhttp.Handler, lr lookupRequest, entry *cache.Entry, flight *cache.Flight) {
	var stored *cache.Entry
	defer func() {
		if v := recover(); v != nil {
			stored = nil
			h.store.RecordRefreshFailure()
			fields := []zap.Field{zap.String("key", entry.PrimaryKey), zap.Any("panic", v)}
			if v != http.ErrAbortHandler {
				fields = append(fields, zap.Stack("stack"))
			}
			h.logger.Warn("background refresh aborted", fields...)
		}
		h.store.Finish(entry.PrimaryKey, flight, stored)
	}()
	var err error
	stored, err = h.fill(&discardWriter{}, bg, next, lr, "stale", entry)
	if err != nil {
		h.store.RecordRefreshFailure()
		h.logger.Debug("background refresh failed", zap.String("key", entry.PrimaryKey), zap.Error(err))
	}
}

// detachedRequest copies r for a background refresh: a context that the
// client's departure does not cancel, with its own replacer and variables
// so it shares no mutable state with the finished request.
func detachedRequest(r *http.Request) *http.Request {
	ctx := context.WithoutCancel(r.Context())
	bg := r.Clone(ctx)
	bg.Header.Del("If-None-Match")
	bg.Header.Del("If-Modified-Since")
	bg.Header.Del("Cache-Control")
	bg.Header.Del("Pragma")
	srv, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	return caddyhttp.PrepareRequest(bg, caddy.NewReplacer(), &discardWriter{}, srv)
}

// serveUnsafe forwards an unsafe method and, when it succeeds, invalidates
// what the cache holds for its target URI and its Location and
// Content-Location (RFC 9111 section 4.4).
func (h *Handler) serveUnsafe(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	var status int
	rec := newFillRecorder(w, 0, func(s int) bool { status = s; return true })
	rec.prepare = func(_ int, header http.Header) {
		h.stripTagHeaders(header)
		header.Add("Cache-Status", h.status("fwd=method", 0, cache.PrimaryKey(r), ""))
	}
	err := next.ServeHTTP(rec, r)
	if err != nil || status < 200 || status >= 400 {
		return err
	}
	targets := []string{cache.PrimaryKey(r)}
	for _, field := range []string{"Location", "Content-Location"} {
		if v := rec.snapshot.Get(field); v != "" {
			if u, err := r.URL.Parse(v); err == nil && (u.Host == "" || u.Host == r.Host) {
				sameOrigin := r.Clone(r.Context())
				sameOrigin.URL = u
				targets = append(targets, cache.PrimaryKey(sameOrigin))
			}
		}
	}
	for _, key := range targets {
		if !h.store.Holds(key) {
			continue // nothing stored: no tag record needed
		}
		if _, err := h.store.InvalidateTags(r.Context(), []string{cache.URITag(key)}, cache.ModeExpire); err != nil {
			h.logger.Error("could not invalidate after unsafe method", zap.String("uri", key), zap.Error(err))
		}
	}
	return nil
}

// parseAge reads the Age a response arrived with (RFC 9111 section 5.1):
// the first member of the first field line. A value that is not a
// non-negative integer (non-numeric, negative, fractional) is invalid and
// ignored; one too large for 31 bits makes the response maximally old.
func parseAge(header http.Header) time.Duration {
	values := header.Values("Age")
	if len(values) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(values[0], ",")
	first = strings.TrimSpace(first)
	if first == "" {
		return 0
	}
	for i := 0; i < len(first); i++ {
		if first[i] < '0' || first[i] > '9' {
			return 0
		}
	}
	secs, err := strconv.ParseInt(first, 10, 64)
	if err != nil || secs > int64(veryOld/time.Second) {
		return veryOld
	}
	return time.Duration(secs) * time.Second
}

// veryOld is the age given to responses whose Age cannot be trusted.
const veryOld = time.Duration(1<<31) * time.Second
