// Package methods gives caddy-bff's handlers the method semantics of a
// Next.js route handler: OPTIONS answered with 204 and an Allow header, and
// any method a handler does not serve answered with 405, the same Allow
// header and a JSON body.
package methods

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
)

// Set gives a handler the Next.js route-handler method semantics: it
// answers OPTIONS itself with 204 and an Allow header, and any method it does
// not serve with 405, the same Allow header and a JSON body.
type Set struct {
	allowed map[string]bool
	allow   string
}

// NewSet returns the set serving methods; HEAD is added when GET is
// served and OPTIONS always is.
func NewSet(methods ...string) Set {
	allowed := map[string]bool{http.MethodOptions: true}
	for _, m := range methods {
		allowed[m] = true
		if m == http.MethodGet {
			allowed[http.MethodHead] = true
		}
	}
	list := make([]string, 0, len(allowed))
	for m := range allowed {
		list = append(list, m)
	}
	slices.Sort(list)
	return Set{allowed: allowed, allow: strings.Join(list, ", ")}
}

// Allow returns the Allow header value.
func (s Set) Allow() string { return s.allow }

// Handle answers OPTIONS and unserved methods. It reports handled=true when
// it wrote (or returned) the answer and the caller must stop.
func (s Set) Handle(w http.ResponseWriter, r *http.Request) (handled bool, err error) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", s.allow)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return true, nil
	}
	if !s.allowed[r.Method] {
		w.Header().Set("Allow", s.allow)
		w.Header().Set("Cache-Control", "no-store")
		return true, jsonreply.Fail(w, r, http.StatusMethodNotAllowed, jsonreply.Problem{
			Success: false,
			Error:   "method " + Name(r.Method) + " is not allowed; allowed: " + s.allow,
		})
	}
	return false, nil
}

// Name returns the request method when it is a standard one and a
// generic word otherwise, so an arbitrary client-chosen token is never
// echoed back into the response.
func Name(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "(non-standard)"
}
