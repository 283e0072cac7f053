package tagcache

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// serveUnsafe forwards an unsafe method and, when it succeeds, invalidates
// what the cache holds for its target URI and its Location and
// Content-Location (RFC 9111 section 4.4).
func (h *Handler) serveUnsafe(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	var status int
	rec := newFillRecorder(w, 0, func(s int) bool { status = s; return true })
	rec.prepare = func(_ int, header http.Header) {
		h.stripTagHeaders(header)
		header.Add("Cache-Status", h.render(forwardStatus(cache.FwdMethod, cache.PrimaryKey(r), "")))
	}
	err := next.ServeHTTP(rec, r)
	if err != nil || status < 200 || status >= 400 {
		return err
	}
	h.invalidateStored(r, unsafeTargets(r, rec.snapshot))
	return nil
}

// unsafeTargets returns the primary keys a successful unsafe request
// invalidates: its target URI, and its response's Location and
// Content-Location when they are of the same origin.
func unsafeTargets(r *http.Request, response http.Header) []string {
	targets := []string{cache.PrimaryKey(r)}
	for _, field := range []string{"Location", "Content-Location"} {
		if v := response.Get(field); v != "" {
			if u, err := r.URL.Parse(v); err == nil && (u.Host == "" || u.Host == r.Host) {
				sameOrigin := r.Clone(r.Context())
				sameOrigin.URL = u
				targets = append(targets, cache.PrimaryKey(sameOrigin))
			}
		}
	}
	return targets
}

// invalidateStored expires what is stored under each primary key, by its
// URI tag; keys with nothing stored need no tag record.
func (h *Handler) invalidateStored(r *http.Request, keys []string) {
	for _, key := range keys {
		if !h.store.Holds(key) {
			continue
		}
		if _, err := h.store.InvalidateTags(r.Context(), []string{cache.URITag(key)}, cache.ModeExpire); err != nil {
			h.logger.Error("could not invalidate after unsafe method", zap.String("uri", key), zap.Error(err))
		}
	}
}
