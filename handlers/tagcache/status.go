package tagcache

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
)

// cacheStatus is this cache's member of the Cache-Status response field
// (RFC 9211): whether a stored response answered, or why the request went
// forward and what became of the response.
type cacheStatus struct {
	// cache is the cache's name, the member's first item.
	cache string
	// hit is set when a stored response answered without going forward.
	hit bool
	// fwd is why the request went forward; "" for a hit.
	fwd cache.FwdReason
	// fwdDetail says why a forward found nothing usable (the stored
	// response was invalidated). It is rendered right after fwd, and
	// replaces detail: a member carries one detail.
	fwdDetail string
	// fwdStatus is the status the origin answered a revalidation with;
	// 0 leaves it out.
	fwdStatus int
	// ttl is the response's remaining freshness, negative once stale,
	// rendered in whole seconds when hasTTL is set.
	ttl    time.Duration
	hasTTL bool
	// stored is set when the response was stored.
	stored bool
	// detail says more about the outcome: how a stored response answered,
	// why a response was not stored, why the cache stood aside.
	detail string
	// key is the cache key, rendered when showKey is set (debug).
	key     string
	showKey bool
}

// String renders the member: the cache's name, then hit or fwd, the
// forward's detail, fwd-status, ttl, stored, detail and key, in that order,
// each only when set.
func (s cacheStatus) String() string {
	var b strings.Builder
	size := len(s.cache) + len(s.fwd) + len(s.fwdDetail) + len(s.detail) + 32
	if s.showKey {
		size += len(s.key) + 8
	}
	b.Grow(size)
	b.WriteString(s.cache)
	if s.hit {
		b.WriteString("; hit")
	} else {
		b.WriteString("; fwd=")
		b.WriteString(string(s.fwd))
	}
	if s.fwdDetail != "" {
		b.WriteString("; detail=")
		b.WriteString(s.fwdDetail)
	}
	if s.fwdStatus != 0 {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(s.fwdStatus))
	}
	if s.hasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(int64(s.ttl/time.Second), 10))
	}
	if s.stored {
		b.WriteString("; stored")
	}
	if s.detail != "" && s.fwdDetail == "" {
		b.WriteString("; detail=")
		b.WriteString(s.detail)
	}
	if s.showKey {
		b.WriteString("; key=")
		b.WriteString(sfString(s.key))
	}
	return b.String()
}

// storedWith marks the response stored, fresh for ttl.
func (s cacheStatus) storedWith(ttl time.Duration) cacheStatus {
	s.stored, s.ttl, s.hasTTL = true, ttl, true
	return s
}

// hitStatus is the Cache-Status of e answering a request at now.
func hitStatus(e *cache.Entry, now time.Time, detail string) cacheStatus {
	return cacheStatus{hit: true, ttl: e.Freshness(now), hasTTL: true, key: e.Key, detail: detail}
}

// forwardStatus is the Cache-Status of a request forwarded for reason.
func forwardStatus(reason cache.FwdReason, key, detail string) cacheStatus {
	return cacheStatus{fwd: reason, key: key, detail: detail}
}

// staleIfErrorStatus is the Cache-Status of e answering a revalidation
// the origin failed with status (RFC 5861 stale-if-error).
func staleIfErrorStatus(e *cache.Entry, status int, now time.Time) cacheStatus {
	return cacheStatus{fwd: cache.FwdStale, fwdStatus: status, ttl: e.Freshness(now), hasTTL: true, key: e.Key, detail: "stale-if-error"}
}

// render completes s with this handler's cache name and debug setting and
// renders it.
func (h *Handler) render(s cacheStatus) string {
	s.cache = h.CacheName
	s.showKey = h.Debug
	return s.String()
}

// sfString renders s as a structured-field string (RFC 8941): printable
// ASCII only, with quotes and backslashes escaped.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
