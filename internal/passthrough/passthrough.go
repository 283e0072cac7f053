// Package passthrough marks requests a caddy-bff handler passes on to the
// app for its own purposes (revalidate_webhook forwarding a CMS call to
// the app's revalidate route): a cache later in the route lets them
// through unstored. The mark lives in the request's context, never in a
// header, so no client can set it.
package passthrough

import (
	"context"
	"net/http"
)

type markKey struct{}

// Mark returns a copy of r carrying the mark, naming the handler that set
// it.
func Mark(r *http.Request, by string) *http.Request {
	return r.Clone(context.WithValue(r.Context(), markKey{}, by))
}

// MarkedBy returns the handler that marked r, or "".
func MarkedBy(r *http.Request) string {
	by, _ := r.Context().Value(markKey{}).(string)
	return by
}
