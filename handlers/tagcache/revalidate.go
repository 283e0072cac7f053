package tagcache

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// revalidate answers a request whose entry may not be used without asking
// upstream: conditionally when the entry has validators.
func (h *Handler) revalidate(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, entry *cache.Entry) error {
	fwd := cacheStatus{fwd: cache.FwdStale}
	if r.Method == http.MethodHead {
		h.store.RecordMiss()
		_, err := h.fill(w, r, next, lr, fwd, nil)
		return err
	}
	// Without validators the request goes upstream unconditionally, but
	// the stale entry still answers if the origin cannot be reached.
	_, err := h.fill(w, r, next, lr, fwd, entry)
	return err
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

// refreshFrom304 merges a 304's headers into the stale entry (RFC 9111
// section 4.3.4) and stores the result as a new entry. seen is the 304 as
// the client's response got it, produced what the handlers after the cache
// sent: the decision reads the first, the entry keeps the second.
func (h *Handler) refreshFrom304(r *http.Request, lr lookupRequest, stale *cache.Entry, seen, produced http.Header, times fetchTimes) *cache.Entry {
	lr.Standing = max(lr.Standing, stale.Standing)
	full := merge304(stale.Header, seen)
	d := h.judge(r, lr, stale.Status, full, times.response)
	if !d.Storable {
		return nil
	}
	response := fetched{status: stale.Status, seen: full, produced: merge304(stale.Header, produced), body: stale.Body, inherited: stale.Tags}
	entry, ok := h.newEntry(r, lr.Standing, response, d, times)
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
	refresh := lookupRequest{
		ReuseRequest: cache.ReuseRequest{Standing: lr.Standing},
		primaryKey:   entry.PrimaryKey,
		admittedBy:   lr.admittedBy,
		background:   true,
	}
	go h.refresh(bg, next, refresh, entry, flight)
}

// refresh runs one background refresh. Nothing above this goroutine would
// recover a panic (reverse_proxy aborts with http.ErrAbortHandler when the
// origin breaks off mid-body), so it recovers here, counts a failed
// refresh and always ends the flight: no panic escapes a goroutine the
// module starts.
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
	stored, err = h.fill(&discardWriter{}, bg, next, lr, cacheStatus{fwd: cache.FwdStale}, entry)
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
