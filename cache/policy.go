package cache

import (
	"net/http"
	"strings"
	"time"
)

// Policy holds the knobs of the RFC 9111 shared-cache rules that a handler
// can turn. The zero value is the strict RFC behaviour.
type Policy struct {
	// TargetedFields are the targeted cache-control fields this cache obeys
	// in order of precedence (RFC 9213), such as CDN-Cache-Control. When one
	// is present and valid, Cache-Control is ignored for caching decisions.
	TargetedFields []string
	// ForceTTL, when positive, is the freshness lifetime of every storable
	// response whatever its freshness headers say (force-static).
	ForceTTL time.Duration
	// AllowSetCookie stores responses that carry Set-Cookie.
	AllowSetCookie bool
	// AllowPrivate stores responses marked private (only sensible when the
	// cache key separates users).
	AllowPrivate bool
	// HeuristicFraction of the time since Last-Modified is the heuristic
	// freshness lifetime (RFC 9111 section 4.2.2 suggests 10%).
	HeuristicFraction float64
	// MaxHeuristic caps heuristic freshness.
	MaxHeuristic time.Duration
}

// Decision is the outcome of judging a response for storage.
type Decision struct {
	// Storable reports whether the response may be stored.
	Storable bool
	// Reason says why not, in a word fit for Cache-Status `detail`.
	Reason string
	// Reuse is how a stored copy may be reused, when Storable.
	Reuse
}

// heuristicallyCacheable are the status codes RFC 9110 section 15.1 defines
// as cacheable by default.
var heuristicallyCacheable = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// understoodStatus are the status codes whose caching semantics this cache
// implements, for must-understand (RFC 9111 section 5.2.2.3).
var understoodStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 302: true, 303: true,
	307: true, 308: true, 404: true, 405: true, 410: true, 414: true, 501: true,
}

// EffectiveDirectives returns the directives that govern caching of h: the
// first valid targeted field, else Cache-Control.
func (p *Policy) EffectiveDirectives(h http.Header) Directives {
	for _, f := range p.TargetedFields {
		lines := h.Values(f)
		if len(lines) == 0 || (!strings.EqualFold(f, "Surrogate-Control") && !validTargetedField(lines)) {
			// Surrogate-Control predates Structured Fields; the RFC 9213
			// fields that are not a valid dictionary are ignored.
			continue
		}
		if d := ParseDirectives(h, f); len(d) > 0 {
			return d
		}
	}
	return ParseDirectives(h, "Cache-Control")
}

// Judge decides whether the response to req with status and header h may be
// stored by a shared cache, and for how long it is fresh. standing is what
// the request presented: a credentialed or admitted request gets the rules
// RFC 9111 section 3.5 gives requests with Authorization (stored only with
// public, s-maxage or must-revalidate, and never by heuristic freshness).
func (p *Policy) Judge(req *http.Request, standing Standing, status int, h http.Header, responseTime time.Time) Decision {
	if req.Method != http.MethodGet {
		return Decision{Reason: "method"}
	}
	if status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return Decision{Reason: "status"}
	}
	reqCC := ParseDirectives(req.Header, "Cache-Control")
	if reqCC.Has("no-store") {
		return Decision{Reason: "request-no-store"}
	}
	cc := p.EffectiveDirectives(h)
	if cc.Has("no-store") {
		return Decision{Reason: "no-store"}
	}
	if cc.Has("private") && !p.AllowPrivate {
		return Decision{Reason: "private"}
	}
	if len(h.Values("Set-Cookie")) > 0 && !p.AllowSetCookie {
		return Decision{Reason: "set-cookie"}
	}
	if cc.Has("must-understand") && !understoodStatus[status] {
		return Decision{Reason: "must-understand"}
	}
	_, hasSMaxAge := cc.Seconds("s-maxage")
	d := Decision{Reuse: Reuse{
		MustRevalidate:  cc.Has("must-revalidate") || cc.Has("proxy-revalidate") || hasSMaxAge,
		NoCache:         cc.Has("no-cache"),
		AuthorizedReuse: cc.Has("public") || hasSMaxAge || cc.Has("must-revalidate"),
	}}
	credentialed := standing > Anonymous || req.Header.Get("Authorization") != ""
	if credentialed && !d.AuthorizedReuse {
		return Decision{Reason: "authorization"}
	}
	if hasVaryStar(h) {
		return Decision{Reason: "vary-star"}
	}
	d.StaleWhileRevalidate, _ = cc.Seconds("stale-while-revalidate")
	d.StaleIfError, _ = cc.Seconds("stale-if-error")

	if p.ForceTTL > 0 {
		d.Lifetime, d.NoCache, d.Storable = p.ForceTTL, false, true
		return d
	}
	lifetime, explicit := explicitLifetime(cc, h)
	switch {
	case explicit:
		d.Lifetime = lifetime
	case credentialed:
		// Heuristic freshness guesses; a page for one user is not a guess
		// to share (only an explicit lifetime says the origin meant it).
		return Decision{Reason: "authorization"}
	case heuristicallyCacheable[status] || cc.Has("public"):
		d.Lifetime = p.heuristicLifetime(h, responseTime)
	default:
		return Decision{Reason: "no-freshness"}
	}
	// A response that is stale on arrival is still worth storing when it can
	// be revalidated cheaply or served stale under RFC 5861.
	hasValidators := h.Get("ETag") != "" || h.Get("Last-Modified") != ""
	if d.Lifetime <= 0 && !hasValidators && d.StaleWhileRevalidate == 0 && d.StaleIfError == 0 {
		return Decision{Reason: "no-freshness"}
	}
	d.Storable = true
	return d
}

// explicitLifetime applies RFC 9111 section 4.2.1: s-maxage, then max-age,
// then Expires minus Date. An invalid Expires means already expired.
func explicitLifetime(cc Directives, h http.Header) (time.Duration, bool) {
	if v, ok := cc.Seconds("s-maxage"); ok {
		return v, true
	}
	if v, ok := cc.Seconds("max-age"); ok {
		return v, true
	}
	if cc.Has("max-age") || cc.Has("s-maxage") {
		return 0, true // present but invalid: treat as stale
	}
	if values := h.Values("Expires"); len(values) > 0 {
		// Several field lines, or an invalid date, mean already expired
		// (RFC 9111 section 5.3).
		expires, ok := parseHTTPDate(values[0])
		if !ok || len(values) > 1 {
			return 0, true
		}
		date, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			date = time.Now()
		}
		return expires.Sub(date), true
	}
	return 0, false
}

func (p *Policy) heuristicLifetime(h http.Header, responseTime time.Time) time.Duration {
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return 0
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		date = responseTime
	}
	frac := p.HeuristicFraction
	if frac <= 0 {
		frac = 0.1
	}
	life := time.Duration(float64(date.Sub(lm)) * frac)
	limit := p.MaxHeuristic
	if limit <= 0 {
		limit = 24 * time.Hour
	}
	return min(max(life, 0), limit)
}

func hasVaryStar(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if strings.TrimSpace(name) == "*" {
				return true
			}
		}
	}
	return false
}

// hopByHop are the header fields a cache never stores (RFC 9111 section 3.1).
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding",
	"Upgrade", "Trailer", "Proxy-Authenticate", "Proxy-Authentication-Info",
}

// StorableHeader returns a copy of h without hop-by-hop fields, fields named
// in Connection, and the given extra fields.
func StorableHeader(h http.Header, drop ...string) http.Header {
	out := h.Clone()
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	for _, name := range drop {
		out.Del(name)
	}
	return out
}
