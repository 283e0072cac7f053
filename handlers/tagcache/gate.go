package tagcache

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// gateAfterCache returns the gate that admitted r after the cache handed it
// on (a gate nested in the route after tag_cache), or "". What such a gate
// let through must not be stored: the cache would serve it to requests that
// never reach the gate.
func (h *Handler) gateAfterCache(r *http.Request, lr lookupRequest) string {
	gate := standing.AdmittedBy(r)
	if gate == "" || lr.admittedBy != "" {
		return ""
	}
	h.warnGateOnce.Do(func() {
		h.logger.Warn("tag_cache runs before a gate: responses produced behind the gate are not stored, so these routes are never cached",
			zap.String("cache", "tag_cache"), zap.String("gate", gate), zap.String("path", r.URL.Path),
			zap.String("fix", "order the gate before tag_cache (auth_proxy is ordered before tag_cache by default: put both in the same route, or tag_cache inside the gated handle block after "+gate+")"))
	})
	return gate
}

// tagStrippingWriter passes a response the cache does not handle straight
// through, minus the tag headers, with this cache's Cache-Status.
type tagStrippingWriter struct {
	http.ResponseWriter
	cache       *Handler
	status      string
	wroteHeader bool
}

func (w *tagStrippingWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.cache.stripTagHeaders(w.Header())
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wroteHeader = true
		w.Header().Add("Cache-Status", w.status)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tagStrippingWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines, and the hijack of a genuine upgrade).
func (w *tagStrippingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
