package tagcache

import (
	"context"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
)

// serveMiss forwards a request nothing stored may answer; concurrent
// misses for the same URI wait for one fill and share its response when it
// was stored. fwd is the forward's Cache-Status so far.
func (h *Handler) serveMiss(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, fwd cacheStatus) error {
	h.store.RecordMiss()
	if r.Method != http.MethodGet || lr.credentialed() || lr.NoCache {
		_, err := h.fill(w, r, next, lr, fwd, nil)
		return err
	}
	flight, leader := h.store.Join(lr.primaryKey)
	if leader {
		return h.leadFill(w, r, next, lr, fwd, flight)
	}
	if shared := h.awaitFill(r, lr, flight); shared != nil {
		now := h.now()
		h.store.RecordHit()
		return h.serveEntry(w, r, shared, now, hitStatus(shared, now, "coalesced"))
	}
	_, err := h.fill(w, r, next, lr, fwd, nil)
	return err
}

// leadFill runs the fill the other misses of its key wait for, and ends
// the flight with what it stored.
func (h *Handler) leadFill(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, fwd cacheStatus, flight *cache.Flight) error {
	var entry *cache.Entry
	// Deferred: a client that resets mid-body, or a handler that panics
	// (reverse_proxy aborts with http.ErrAbortHandler), must still end the
	// flight, or every later miss of the key would wait.
	defer func() { h.store.Finish(lr.primaryKey, flight, entry) }()
	var err error
	entry, err = h.fill(w, r, next, lr, fwd, nil)
	return err
}

// awaitFill waits, at most lock_timeout, for another request's fill of the
// key and returns what it stored when that answers this request too: the
// same Vary selection, servable to its standing, and not invalidated since.
func (h *Handler) awaitFill(r *http.Request, lr lookupRequest, flight *cache.Flight) *cache.Entry {
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.LockTimeout))
	shared := flight.Wait(ctx)
	cancel()
	if shared != nil && cache.VariantKey(lr.primaryKey, shared.VaryNames, r) == shared.Key &&
		shared.ServableTo(lr.Standing) && h.store.Validity(shared) == cache.Valid {
		return shared
	}
	return nil
}
