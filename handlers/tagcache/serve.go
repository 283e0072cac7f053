package tagcache

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/passthrough"
)

// ServeHTTP looks the request up in the store and answers from it, or
// forwards it to the rest of the route and stores what comes back.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case isUpgrade(r):
		return h.bypass(w, r, next, "upgrade")
	case passthrough.MarkedBy(r) != "":
		// A handler before the cache passing a call on to the app for its
		// own purposes (revalidate_webhook's forward): a stored answer
		// would stop the next call from reaching the app.
		return h.bypass(w, r, next, passthrough.MarkedBy(r))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if hasBody(r) {
			// A body is no part of the cache key: storing the answer, or
			// answering from the store, would let the body choose what
			// others get under the plain GET's key.
			return h.bypass(w, r, next, "request-body")
		}
		if h.Nextjs {
			if nextjsDraftMode(r) {
				// Editors see drafts; drafts are never stored.
				return h.bypass(w, r, next, "draft-mode")
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
// stripping the tag headers from what the client receives. detail says
// why, in Cache-Status, or is "".
func (h *Handler) bypass(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, detail string) error {
	status := h.render(forwardStatus(cache.FwdBypass, "", detail))
	return next.ServeHTTP(&tagStrippingWriter{ResponseWriter: w, cache: h, status: status}, r)
}

// serveCacheable answers a GET or HEAD: it looks the request up, decides
// how what it found may be reused (RFC 9111 section 4), and acts on the
// decision.
func (h *Handler) serveCacheable(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	lr := h.newLookupRequest(r)
	found := h.find(r, lr)
	now := h.now()
	decision := cache.DecideReuse(lr.ReuseRequest, found, now)
	return h.act(w, r, next, lr, found.Entry, decision, now)
}

// act carries out a reuse decision about e, the entry the lookup found.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, lr lookupRequest, e *cache.Entry, d cache.ReuseDecision, now time.Time) error {
	switch d.Action {
	case cache.ServeFresh:
		h.store.RecordHit()
		return h.serveEntry(w, r, e, now, hitStatus(e, now, d.Detail))
	case cache.ServeStale:
		h.store.RecordStaleServe()
		return h.serveEntry(w, r, e, now, hitStatus(e, now, d.Detail))
	case cache.ServeStaleAndRefresh:
		h.store.RecordStaleServe()
		h.refreshInBackground(r, next, lr, e)
		return h.serveEntry(w, r, e, now, hitStatus(e, now, d.Detail))
	case cache.Revalidate:
		return h.revalidate(w, r, next, lr, e)
	case cache.RefuseOnlyIfCached:
		return h.gatewayTimeout(w, lr, d)
	default: // cache.ForwardMiss
		return h.serveMiss(w, r, next, lr, cacheStatus{fwd: d.Fwd, fwdDetail: d.Detail})
	}
}

// gatewayTimeout answers only-if-cached requests the cache cannot satisfy
// (RFC 9111 section 5.2.1.7).
func (h *Handler) gatewayTimeout(w http.ResponseWriter, lr lookupRequest, d cache.ReuseDecision) error {
	w.Header().Set("Cache-Status", h.render(forwardStatus(d.Fwd, lr.primaryKey, d.Detail)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusGatewayTimeout)
	_, err := w.Write([]byte(`{"success":false,"error":"only-if-cached: no stored response"}` + "\n"))
	return err
}
