package session

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/methods"
)

// Logout is session_callback's counterpart: it expires the session
// cookie and redirects the browser to `?redirect_url=<target>`, under the
// same redirect rules. Answers carry `Cache-Control: no-store` and
// `Referrer-Policy: no-referrer`.
//
// Logout CSRF (a foreign page logging the user out) is refused by default:
// a request whose Sec-Fetch-Site header says "cross-site" is answered 403.
// Browsers set that header themselves and pages cannot forge it; clients
// that do not send it (older browsers, scripts) are served.
type Logout struct {
	// The session cookie to expire: its `name`, `path` and `domain` (and
	// `host_prefix`) must be those of the session_callback that set it;
	// `max_age` is refused.
	Cookie Cookie `json:"cookie,omitzero"`

	// Where the browser goes once the cookie is expired.
	Redirect Redirect `json:"redirect,omitzero"`

	// The HTTP methods that log out: GET, POST or DELETE.
	// Default: GET and POST.
	Methods []string `json:"methods,omitempty"`

	// Serves cross-site requests (those a browser marks with
	// `Sec-Fetch-Site: cross-site`), for logouts started from another site,
	// such as an identity provider's single logout. Default: false (they
	// are answered 403).
	AllowCrossSite bool `json:"allow_cross_site,omitempty"`

	methods methods.Set
}

// CaddyModule returns the Caddy module information.
func (Logout) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.session_logout",
		New: func() caddy.Module { return new(Logout) },
	}
}

// Provision fills in defaults and checks the configuration.
func (h *Logout) Provision(caddy.Context) error {
	return h.setup()
}

// setup fills in defaults and checks the configuration; the Caddyfile
// parser runs it on a copy to refuse a bad block at adapt time.
func (h *Logout) setup() error {
	if len(h.Methods) == 0 {
		h.Methods = []string{http.MethodGet, http.MethodPost}
	}
	h.Methods = slices.Clone(h.Methods)
	for i, m := range h.Methods {
		h.Methods[i] = strings.ToUpper(m)
	}
	h.methods = methods.NewSet(h.Methods...)
	if err := h.Cookie.provision(); err != nil {
		return err
	}
	if err := h.Redirect.provision(http.StatusSeeOther); err != nil {
		return err
	}
	return h.Validate()
}

// Validate checks the methods and refuses cookie settings a logout cannot
// use.
func (h *Logout) Validate() error {
	if h.Cookie.MaxAge != 0 {
		return fmt.Errorf("cookie max_age has no meaning for session_logout, which always expires the cookie")
	}
	for _, m := range h.Methods {
		if !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodDelete}, m) {
			return fmt.Errorf("logout method %q: must be GET, POST or DELETE", m)
		}
	}
	return nil
}

// ServeHTTP expires the session cookie and redirects.
func (h *Logout) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	setSessionAnswerHeaders(w)
	if handled, err := h.methods.Handle(w, r); handled {
		return err
	}
	if !h.AllowCrossSite && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return jsonreply.Failf(w, r, http.StatusForbidden, "cross-site logout requests are refused")
	}
	to, done, err := h.Redirect.target(w, r)
	if done {
		return err
	}
	http.SetCookie(w, h.Cookie.expired(r))
	w.Header().Set("Location", to)
	w.WriteHeader(h.Redirect.Status)
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Logout)(nil)
	_ caddy.Validator             = (*Logout)(nil)
	_ caddyhttp.MiddlewareHandler = (*Logout)(nil)
)
