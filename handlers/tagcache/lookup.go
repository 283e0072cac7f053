package tagcache

import (
	"context"
	"net/http"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// lookupRequest is what the cache needs to know of a GET or HEAD.
type lookupRequest struct {
	// ReuseRequest is what bears on reusing a stored response: the
	// request's Cache-Control, whether it asks for validation, and what
	// it presented of its identity before the cache.
	cache.ReuseRequest
	// admittedBy names the gate before the cache that admitted the
	// request, if any.
	admittedBy string
	primaryKey string
	// background marks a refresh that no client waits for.
	background bool
}

// newLookupRequest reads what the cache needs to know of r.
func (h *Handler) newLookupRequest(r *http.Request) lookupRequest {
	cc := cache.ParseDirectives(r.Header, "Cache-Control")
	lr := lookupRequest{
		ReuseRequest: cache.ReuseRequest{
			CacheControl: cc,
			NoCache:      cc.Has("no-cache") || (cc == nil && hasPragmaNoCache(r.Header)),
		},
		primaryKey: cache.PrimaryKey(r),
	}
	lr.Standing, lr.admittedBy = h.standingOf(r)
	return lr
}

// credentialed reports whether the request gets RFC 9111's Authorization
// rules.
func (lr lookupRequest) credentialed() bool { return lr.Standing > cache.Anonymous }

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

func hasPragmaNoCache(h http.Header) bool {
	for _, v := range h.Values("Pragma") {
		if cache.ParseDirectives(http.Header{"Pragma": {v}}, "Pragma").Has("no-cache") {
			return true
		}
	}
	return false
}

// find looks the request up in memory, then, unless the request asks for
// validation, in the shared second level, and asks the tag clock about the
// entry found.
func (h *Handler) find(r *http.Request, lr lookupRequest) cache.Found {
	var found cache.Found
	found.Entry, found.VaryMiss = h.store.LookupKey(lr.primaryKey, r)
	if found.Entry == nil && !lr.NoCache {
		found.Entry = h.lookupShared(r)
		found.Shared = found.Entry != nil
	}
	if found.Entry != nil {
		found.Validity = h.store.Validity(found.Entry)
	}
	return found
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
