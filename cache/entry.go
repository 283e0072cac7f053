package cache

import (
	"net/http"
	"strconv"
	"time"
)

// Entry is one stored response. Entries are immutable once stored: a
// revalidation that refreshes headers stores a new Entry, so readers never
// need a lock.
type Entry struct {
	// Key is the full cache key: the primary key plus the Vary selection.
	Key string
	// PrimaryKey identifies the target URI (method class, scheme, host, URI).
	PrimaryKey string
	// Path is the URL path, kept for the implicit path tag.
	Path string

	Status int
	Header http.Header
	Body   []byte

	// RequestTime and ResponseTime are when the cache sent the request
	// upstream and received the response (RFC 9111 section 4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time
	// DateValue is the response's Date, or ResponseTime when it has none.
	DateValue time.Time
	// AgeValue is the response's Age header when it arrived.
	AgeValue time.Duration

	// Reuse holds the freshness and reuse rules judged when the response
	// was stored.
	Reuse

	// Tags are the entry's invalidation tags, including the implicit ones.
	Tags []string
	// Clock is the tag-clock value when the entry's upstream fetch started:
	// any invalidation of its tags recorded after it makes the entry unusable
	// (hard) or stale (soft).
	Clock uint64

	// VaryNames are the canonical field names of the response's Vary.
	VaryNames []string

	// Standing is the standing of the request the entry was stored for:
	// the least a request must have to be served it.
	Standing Standing

	varyMarker    bool
	contentLength []string // the Content-Length value, computed once when stored
	fromShared    bool     // loaded from the shared second level: not written back
	ttl           time.Duration
	size          uint32
}

// Standing is what a request has shown of its identity, as far as a shared
// cache must care. RFC 9111 section 3.5 protects requests with Authorization;
// in a backend-for-frontend the credential is usually a cookie, so a request
// carrying a session credential the config knows, or admitted by a gate,
// gets the same rules.
type Standing uint8

const (
	// Anonymous requests present no credential.
	Anonymous Standing = iota
	// Credentialed requests carry Authorization or a known session cookie
	// or header, unverified by any gate before the cache.
	Credentialed
	// Admitted requests were verified by a gate that ran before the cache.
	Admitted
)

// ServableTo reports whether the entry may answer a request of standing s:
// never one of lower standing than the entry was stored for, and a request
// with a credential only from an entry RFC 9111 section 3.5 lets it share
// (public, s-maxage or must-revalidate).
func (e *Entry) ServableTo(s Standing) bool {
	if s < e.Standing {
		return false
	}
	return s == Anonymous || e.AuthorizedReuse
}

// Reuse is what RFC 9111 lets a cache do with a stored response: how long
// it is fresh and when it may be used stale or at all. Policy.Judge
// computes it and an Entry carries it.
type Reuse struct {
	// Lifetime is the freshness lifetime.
	Lifetime time.Duration
	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// MustRevalidate forbids serving the response stale (must-revalidate,
	// proxy-revalidate, or s-maxage which implies proxy-revalidate).
	MustRevalidate bool
	// NoCache means every reuse needs a successful revalidation first.
	NoCache bool
	// AuthorizedReuse allows serving the response to requests that carry
	// Authorization (public, s-maxage or must-revalidate, section 3.5).
	AuthorizedReuse bool
}

// Size is the entry's weight in bytes for the memory budget: body, headers,
// key and tags, plus a fixed overhead for the structure itself.
func (e *Entry) Size() uint32 {
	if e.size != 0 {
		return e.size
	}
	n := 256 + len(e.Key) + len(e.PrimaryKey) + len(e.Path) + len(e.Body)
	for k, vs := range e.Header {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for _, t := range e.Tags {
		n += len(t) + 16
	}
	if n > 1<<31 {
		n = 1 << 31
	}
	e.size = uint32(n)
	return e.size
}

// Age is the entry's current age at now (RFC 9111 section 4.2.3).
func (e *Entry) Age(now time.Time) time.Duration {
	apparent := max(e.ResponseTime.Sub(e.DateValue), 0)
	responseDelay := max(e.ResponseTime.Sub(e.RequestTime), 0)
	correctedAgeValue := e.AgeValue + responseDelay
	correctedInitialAge := max(apparent, correctedAgeValue)
	resident := max(now.Sub(e.ResponseTime), 0)
	return correctedInitialAge + resident
}

// Freshness returns how much longer the entry stays fresh at now; negative
// when it is stale.
func (e *Entry) Freshness(now time.Time) time.Duration {
	return e.Lifetime - e.Age(now)
}

// ContentLength returns the Content-Length field value of the stored body,
// computed once when stored; callers copy it rather than modify it.
func (e *Entry) ContentLength() []string {
	if e.contentLength == nil {
		return []string{strconv.Itoa(len(e.Body))}
	}
	return e.contentLength
}

// HasValidators reports whether the entry can be revalidated conditionally.
func (e *Entry) HasValidators() bool {
	return e.Header.Get("ETag") != "" || e.Header.Get("Last-Modified") != ""
}

// retention is how long the entry is worth keeping: its freshness plus the
// longest window in which it can still be used stale. Every entry is kept
// keepStale after it goes stale: with validators a 304 can refresh it
// instead of a full fetch, and without them it can still answer while the
// origin is unreachable. The memory budget evicts it sooner if needed.
func (e *Entry) retention(now time.Time, keepStale time.Duration) time.Duration {
	fresh := max(e.Freshness(now), 0)
	return fresh + max(e.StaleWhileRevalidate, e.StaleIfError, keepStale)
}
