package cache

import "time"

// ReuseAction is what a cache does with a request once it has looked up
// what it stores for it (RFC 9111 section 4).
type ReuseAction uint8

const (
	// ForwardMiss: nothing stored may answer the request, which goes on to
	// the origin; what comes back may be stored.
	ForwardMiss ReuseAction = iota
	// ServeFresh: the stored response is fresh enough for the request and
	// answers it.
	ServeFresh
	// ServeStale: the stored response is stale, and the request accepts
	// that much staleness (max-stale); it answers the request as it is.
	ServeStale
	// ServeStaleAndRefresh: the stored response answers the request stale,
	// and is refreshed once in the background (a soft invalidation, or
	// stale-while-revalidate, RFC 5861).
	ServeStaleAndRefresh
	// Revalidate: the stored response may answer only with the origin's
	// word, asked conditionally when it has validators.
	Revalidate
	// RefuseOnlyIfCached: the request said only-if-cached and nothing
	// stored may answer it without the origin: the cache answers 504
	// (RFC 9111 section 5.2.1.7).
	RefuseOnlyIfCached
)

// String names the action, for logs and test failures.
func (a ReuseAction) String() string {
	switch a {
	case ForwardMiss:
		return "forward-miss"
	case ServeFresh:
		return "serve-fresh"
	case ServeStale:
		return "serve-stale"
	case ServeStaleAndRefresh:
		return "serve-stale-and-refresh"
	case Revalidate:
		return "revalidate"
	case RefuseOnlyIfCached:
		return "refuse-only-if-cached"
	}
	return "unknown"
}

// FwdReason is why a request went forward to the origin, as the fwd
// parameter of the Cache-Status field says it (RFC 9211 section 2.2).
type FwdReason string

// The fwd values of RFC 9211 this cache uses.
const (
	// FwdBypass: the cache does not handle the request at all.
	FwdBypass FwdReason = "bypass"
	// FwdMethod: the request's method is forwarded by definition.
	FwdMethod FwdReason = "method"
	// FwdURIMiss: nothing is stored for the target URI.
	FwdURIMiss FwdReason = "uri-miss"
	// FwdVaryMiss: responses are stored for the target URI, none for the
	// request's selecting header fields (Vary).
	FwdVaryMiss FwdReason = "vary-miss"
	// FwdMiss: a response is stored for the request, and none may be used.
	FwdMiss FwdReason = "miss"
	// FwdRequest: the request asked for a response from the origin
	// (no-cache).
	FwdRequest FwdReason = "request"
	// FwdStale: the stored response is revalidated with the origin.
	FwdStale FwdReason = "stale"
)

// The Cache-Status details DecideReuse gives.
const (
	DetailShared               = "shared"
	DetailMaxStale             = "max-stale"
	DetailSoftInvalidated      = "soft-invalidated"
	DetailStaleWhileRevalidate = "stale-while-revalidate"
	DetailInvalidated          = "invalidated"
	DetailOnlyIfCached         = "only-if-cached"
)

// ReuseRequest is what of a request bears on reusing a stored response.
type ReuseRequest struct {
	// CacheControl is the request's Cache-Control: max-age, min-fresh,
	// max-stale and only-if-cached are read.
	CacheControl Directives
	// NoCache is set when the request wants a response validated with the
	// origin: Cache-Control no-cache, or Pragma no-cache without any
	// Cache-Control.
	NoCache bool
	// Standing is what the request presented of its identity.
	Standing Standing
}

// Found is what a lookup found for a request.
type Found struct {
	// Entry is the response stored under the request's key, or nil.
	Entry *Entry
	// VaryMiss is set when responses are stored for the target URI but
	// none for the request's selecting header fields.
	VaryMiss bool
	// Shared is set when Entry was just loaded from the shared second
	// level after a local miss.
	Shared bool
	// Validity is what the tag clock says of Entry.
	Validity Validity
}

// ReuseDecision is what DecideReuse decided, with the words the
// Cache-Status field (RFC 9211) gives it.
type ReuseDecision struct {
	Action ReuseAction
	// Fwd is why the request goes forward (ForwardMiss, Revalidate,
	// RefuseOnlyIfCached); "" when a stored response answers.
	Fwd FwdReason
	// Detail says more, or is "": how a stored response answers (shared,
	// max-stale, soft-invalidated, stale-while-revalidate), why nothing
	// stored may answer (invalidated), or why the cache refuses
	// (only-if-cached).
	Detail string
}

// DecideReuse decides whether the response a lookup found answers the
// request fresh, answers it stale, needs revalidating with the origin, or
// cannot be used (RFC 9111 section 4, RFC 5861). now is the time the
// entry's age is taken at. It does no I/O and reads no clock: the caller
// looks up, consults the tag clock, and acts on the decision.
func DecideReuse(req ReuseRequest, found Found, now time.Time) ReuseDecision {
	e := found.Entry
	if e == nil || found.Validity == HardInvalidated || !e.ServableTo(req.Standing) {
		return decideWithoutEntry(req, found)
	}
	if found.Validity == Unverified {
		// The instance lost its invalidation feed: nothing is served
		// without the origin's word until it has resynchronised.
		return revalidateUnlessOnlyIfCached(req)
	}
	age := e.Age(now)
	freshness := e.Lifetime - age
	soft := found.Validity == SoftInvalidated
	// usable: nothing but its freshness stops the entry from answering
	// without the origin.
	usable := !req.NoCache && !e.NoCache && !soft
	if usable && freshness > 0 && freshEnough(req.CacheControl, age, freshness) {
		detail := ""
		if found.Shared {
			detail = DetailShared
		}
		return ReuseDecision{Action: ServeFresh, Detail: detail}
	}
	servableStale := usable && !e.MustRevalidate && freshness <= 0
	if servableStale && staleAccepted(req.CacheControl, -freshness) {
		return ReuseDecision{Action: ServeStale, Detail: DetailMaxStale}
	}
	if !req.NoCache && soft {
		return ReuseDecision{Action: ServeStaleAndRefresh, Detail: DetailSoftInvalidated}
	}
	if servableStale && -freshness <= e.StaleWhileRevalidate {
		return ReuseDecision{Action: ServeStaleAndRefresh, Detail: DetailStaleWhileRevalidate}
	}
	return revalidateUnlessOnlyIfCached(req)
}

// decideWithoutEntry decides for a request that no stored response may
// answer: forwarded, saying why, or refused under only-if-cached.
func decideWithoutEntry(req ReuseRequest, found Found) ReuseDecision {
	if req.CacheControl.Has("only-if-cached") {
		return ReuseDecision{Action: RefuseOnlyIfCached, Fwd: FwdMiss, Detail: DetailOnlyIfCached}
	}
	switch {
	case req.NoCache:
		return ReuseDecision{Action: ForwardMiss, Fwd: FwdRequest}
	case found.Entry != nil && found.Validity == HardInvalidated:
		// An entry exists but a tag or path invalidation expired it; saying
		// so makes invalidations visible when debugging.
		return ReuseDecision{Action: ForwardMiss, Fwd: FwdMiss, Detail: DetailInvalidated}
	case found.VaryMiss:
		return ReuseDecision{Action: ForwardMiss, Fwd: FwdVaryMiss}
	}
	return ReuseDecision{Action: ForwardMiss, Fwd: FwdURIMiss}
}

// revalidateUnlessOnlyIfCached decides for a stored response that needs
// the origin's word.
func revalidateUnlessOnlyIfCached(req ReuseRequest) ReuseDecision {
	if req.CacheControl.Has("only-if-cached") {
		return ReuseDecision{Action: RefuseOnlyIfCached, Fwd: FwdMiss, Detail: DetailOnlyIfCached}
	}
	return ReuseDecision{Action: Revalidate, Fwd: FwdStale}
}

// freshEnough applies the request's max-age and min-fresh to a fresh
// response of the given age and remaining freshness.
func freshEnough(cc Directives, age, freshness time.Duration) bool {
	if maxAge, ok := cc.Seconds("max-age"); ok && age > maxAge {
		return false
	}
	if minFresh, ok := cc.Seconds("min-fresh"); ok && freshness < minFresh {
		return false
	}
	return true
}

// staleAccepted applies the request's max-stale to a response stale by
// staleness: without an argument any staleness is accepted.
func staleAccepted(cc Directives, staleness time.Duration) bool {
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
