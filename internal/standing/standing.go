// Package standing tells the cache what a request has shown of its identity:
// nothing, a credential (an Authorization header, or a session cookie or
// header that the config's gates and session handlers use), or admission by
// a caddy-bff gate that verified it. The tag_cache handler uses it to apply
// RFC 9111's Authorization rules to cookie sessions, and to never serve what
// was produced for one standing to a request of a lower one.
package standing

import (
	"net/http"
	"net/textproto"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// admittedVar is the request variable a gate sets when it admits a request.
// Variables live in the request's context, where no client can set them.
const admittedVar = "caddy_bff.admitted_by"

// Admit records that the gate named by (a directive name such as
// "auth_proxy") verified the request's session.
func Admit(r *http.Request, by string) {
	caddyhttp.SetVar(r.Context(), admittedVar, by)
}

// AdmittedBy returns the gate that admitted the request so far, or "".
// Besides caddy-bff's own gates, any authentication that published
// `{http.auth.user.id}` counts, as Caddy's `basic_auth` (the authentication
// handler) and its providers do.
func AdmittedBy(r *http.Request) string {
	if by, _ := caddyhttp.GetVar(r.Context(), admittedVar).(string); by != "" {
		return by
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if id, set := repl.Get("http.auth.user.id"); set && id != nil && id != "" {
			return "authentication"
		}
	}
	return ""
}

// Credentials are the names of cookies and request headers that carry a
// session credential.
type Credentials struct {
	Cookies []string
	Headers []string
}

// registry counts every registration of a credential name, so a config
// reload (the new config registers before the old one releases) never
// forgets a name still in use. Readers see an immutable snapshot.
var registry struct {
	mu       sync.Mutex
	cookies  map[string]int
	headers  map[string]int
	snapshot atomic.Pointer[Credentials]
}

// Register adds the names a module reads credentials from. Modules call it
// in Provision and call the returned release in Cleanup.
func Register(c Credentials) (release func()) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.cookies == nil {
		registry.cookies, registry.headers = map[string]int{}, map[string]int{}
	}
	cookies := slices.Clone(c.Cookies)
	headers := make([]string, 0, len(c.Headers))
	for _, h := range c.Headers {
		headers = append(headers, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, n := range cookies {
		registry.cookies[n]++
	}
	for _, n := range headers {
		registry.headers[n]++
	}
	publishLocked()
	var once sync.Once
	return func() {
		once.Do(func() {
			registry.mu.Lock()
			defer registry.mu.Unlock()
			for _, n := range cookies {
				if registry.cookies[n]--; registry.cookies[n] <= 0 {
					delete(registry.cookies, n)
				}
			}
			for _, n := range headers {
				if registry.headers[n]--; registry.headers[n] <= 0 {
					delete(registry.headers, n)
				}
			}
			publishLocked()
		})
	}
}

func publishLocked() {
	snap := &Credentials{}
	for n := range registry.cookies {
		snap.Cookies = append(snap.Cookies, n)
	}
	for n := range registry.headers {
		snap.Headers = append(snap.Headers, n)
	}
	slices.Sort(snap.Cookies)
	slices.Sort(snap.Headers)
	registry.snapshot.Store(snap)
}

// Registered returns the credential names registered now.
func Registered() Credentials {
	if snap := registry.snapshot.Load(); snap != nil {
		return *snap
	}
	return Credentials{}
}

// Carries reports whether r presents a credential: an Authorization header,
// a registered header, or a non-empty registered cookie, or one of extra's.
func Carries(r *http.Request, extra Credentials) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	snap := registry.snapshot.Load()
	if snap != nil && carries(r, *snap) {
		return true
	}
	return carries(r, extra)
}

func carries(r *http.Request, c Credentials) bool {
	for _, h := range c.Headers {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	if len(c.Cookies) == 0 || len(r.Header["Cookie"]) == 0 {
		return false
	}
	for _, name := range c.Cookies {
		if ck, err := r.Cookie(name); err == nil && ck.Value != "" {
			return true
		}
	}
	return false
}
