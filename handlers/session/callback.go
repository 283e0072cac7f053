// Package session holds the session HTTP handlers: `session_callback`
// (module http.handlers.session_callback), which finishes a third-party
// login, sets the session cookie and redirects safely, and `session_logout`
// (http.handlers.session_logout), which expires the cookie.
package session

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/methods"
	"github.com/caddy-bff/caddy-bff/internal/standing"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

// defaultMaxTokenLength leaves room for the cookie name and stays under the
// 4096 bytes browsers guarantee for a cookie.
const defaultMaxTokenLength = 4000

// Callback finishes a third-party login: the identity provider (or
// the app's auth service) sends the browser to
// `GET <path>?session_token=<token>&redirect_url=<target>`, and the handler
// stores the token in the session cookie and redirects the browser to the
// target. It replaces the Next.js route handler that does this, without its
// open redirect and without accepting any string as a session:
//
//   - the token must be present once, length-bounded and made of cookie
//     characters only (never CR, LF or ';' into a header), optionally a JWT
//     that verifies;
//   - with a state cookie configured, the `state` parameter must equal it
//     (login CSRF protection), and the state cookie is expired once used;
//   - the redirect target must be a same-origin path or a URL on the
//     request's own origin or an allowed one; anything else goes to the
//     default target or is rejected with 400;
//   - every answer carries `Cache-Control: no-store` and
//     `Referrer-Policy: no-referrer`, since the token travelled in the URL.
//
// The handler answers every request it gets (GET and HEAD; OPTIONS 204;
// other methods 405) and never calls the next handler.
type Callback struct {
	// The query parameter holding the session token.
	// Default: `session_token`.
	TokenParam string `json:"token_param,omitempty"`

	// The longest token accepted, in bytes; a longer one is answered with
	// 400. The cookie name and the token together may not exceed the 4096
	// bytes browsers guarantee to keep. Default: 4000.
	MaxTokenLength int `json:"max_token_length,omitempty"`

	// The session cookie that receives the token.
	Cookie Cookie `json:"cookie,omitzero"`

	// Where the browser goes once the cookie is set.
	Redirect Redirect `json:"redirect,omitzero"`

	// The name of the login state cookie, which turns on the login-CSRF
	// check: the callback must carry a `state_param` query parameter equal
	// to the value of this cookie (which the app set when it started the
	// login), or it is answered 403. The state cookie is expired (Path=/)
	// once used, so a state works once. Default: none (no check).
	StateCookieName string `json:"state_cookie_name,omitempty"`

	// The query parameter holding the login state; used only with
	// `state_cookie_name`. Default: `state`.
	StateParam string `json:"state_param,omitempty"`

	// The token verification, optional: `jwt` (local verification with a
	// secret, PEM keys or a JWKS URL) or `introspect` (an RFC 7662
	// endpoint), as in auth_proxy. With it, a token that fails is answered
	// 401 and no cookie is set; when the verification backend cannot be
	// reached the answer is 503; and when the verified token carries an
	// `exp` claim, the cookie never outlives it. Default: none (any token
	// of cookie characters is accepted).
	tokenverify.Verifier

	methods methods.Set
	logger  *zap.Logger
	release func()
}

// CaddyModule returns the Caddy module information.
func (Callback) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.session_callback",
		New: func() caddy.Module { return new(Callback) },
	}
}

// Provision fills in defaults and checks the configuration.
func (h *Callback) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.setup(); err != nil {
		return err
	}
	if h.Verifier.Configured() {
		if err := h.Verifier.Provision(ctx); err != nil {
			return fmt.Errorf("session token verification: %w", err)
		}
	}
	// The cache applies RFC 9111's Authorization rules to requests that
	// carry the cookie this callback sets.
	h.release = standing.Register(standing.Credentials{Cookies: []string{h.Cookie.Name}})
	return nil
}

// Cleanup releases the registration of the session cookie.
func (h *Callback) Cleanup() error {
	if h.release != nil {
		h.release()
	}
	return nil
}

// setup fills in defaults and checks the configuration; the Caddyfile
// parser runs it on a copy to refuse a bad block at adapt time.
func (h *Callback) setup() error {
	h.methods = methods.NewSet(http.MethodGet)
	if h.TokenParam == "" {
		h.TokenParam = "session_token"
	}
	if h.MaxTokenLength == 0 {
		h.MaxTokenLength = defaultMaxTokenLength
	}
	if h.StateCookieName != "" && h.StateParam == "" {
		h.StateParam = "state"
	}
	if err := h.Cookie.provision(); err != nil {
		return err
	}
	if err := h.Redirect.provision(http.StatusTemporaryRedirect); err != nil {
		return err
	}
	return h.Validate()
}

// Validate checks how the settings combine. Caddy runs it after Provision,
// once the defaults are filled in.
func (h *Callback) Validate() error {
	if !isQueryName(h.TokenParam) {
		return fmt.Errorf("token parameter name %q: must be a non-empty name without spaces, '&', '=', '#' or control characters", h.TokenParam)
	}
	if h.MaxTokenLength < 1 || h.MaxTokenLength+len(h.Cookie.Name) > maxCookieBytes {
		return fmt.Errorf("max_token_length %d: must be at least 1 and leave room for the cookie name %q within the %d bytes browsers keep per cookie (at most %d)",
			h.MaxTokenLength, h.Cookie.Name, maxCookieBytes, maxCookieBytes-len(h.Cookie.Name))
	}
	if h.TokenParam == h.Redirect.Param {
		return fmt.Errorf("token and redirect parameters must differ (both %q)", h.TokenParam)
	}
	if h.StateCookieName != "" {
		if !httpsyntax.IsToken(h.StateCookieName) {
			return fmt.Errorf("state cookie name %q: only letters, digits and !#$%%&'*+-.^_`|~ are allowed", h.StateCookieName)
		}
		if h.StateCookieName == h.Cookie.Name {
			return fmt.Errorf("the state cookie and the session cookie must differ (both %q)", h.StateCookieName)
		}
		if !isQueryName(h.StateParam) || h.StateParam == h.TokenParam || h.StateParam == h.Redirect.Param {
			return fmt.Errorf("state parameter name %q: must be a valid name, different from the token and redirect parameters", h.StateParam)
		}
	}
	return nil
}

// ServeHTTP answers the callback.
func (h *Callback) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	// Set first so that error answers carry them too: the token is in this
	// URL, so nothing about the answer may be cached, and the next page must
	// not learn this URL through Referer.
	setSessionAnswerHeaders(w)
	if handled, err := h.methods.Handle(w, r); handled {
		return err
	}

	query := r.URL.Query()
	tokens := query[h.TokenParam]
	switch {
	case len(tokens) > 1:
		// Which copy a server reads differs between stacks; an attacker
		// could hide a second token behind the first. Neither is trusted.
		return jsonreply.Failf(w, r, http.StatusBadRequest, "the "+h.TokenParam+" query parameter is given more than once")
	case len(tokens) == 0 || tokens[0] == "":
		return jsonreply.Failf(w, r, http.StatusBadRequest, "missing "+h.TokenParam+" query parameter")
	case len(tokens[0]) > h.MaxTokenLength:
		return jsonreply.Failf(w, r, http.StatusBadRequest, "the "+h.TokenParam+" query parameter is longer than "+strconv.Itoa(h.MaxTokenLength)+" bytes")
	case !isCookieOctets(tokens[0]):
		return jsonreply.Failf(w, r, http.StatusBadRequest, "the "+h.TokenParam+" query parameter holds characters not allowed in a cookie")
	}
	token := tokens[0]

	if h.StateCookieName != "" {
		if !h.stateMatches(r, query[h.StateParam]) {
			return jsonreply.Failf(w, r, http.StatusForbidden,
				"the "+h.StateParam+" query parameter does not match the login state cookie")
		}
	}

	maxAge, err := h.verifyToken(r, token)
	if err != nil {
		// The error's reason never holds the token, so it may be logged.
		h.logger.Debug("session token refused", zap.Error(err))
		if tokenverify.Unavailable(err) {
			w.Header().Set("Retry-After", "5")
			return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "the session token cannot be verified right now; retry later")
		}
		return jsonreply.Failf(w, r, http.StatusUnauthorized, "the session token failed verification")
	}

	to, done, err := h.Redirect.target(w, r)
	if done {
		return err
	}

	http.SetCookie(w, h.Cookie.cookie(r, token, maxAge))
	if h.StateCookieName != "" {
		// A prefixed name is only honoured by browsers with Secure, for
		// removal as well.
		prefixed := strings.HasPrefix(h.StateCookieName, hostPrefix) || strings.HasPrefix(h.StateCookieName, securePrefix)
		http.SetCookie(w, &http.Cookie{
			Name: h.StateCookieName, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
			Secure: prefixed || h.Cookie.secureFor(r), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	w.Header().Set("Location", to)
	w.WriteHeader(h.Redirect.Status)
	return nil
}

// stateMatches reports whether the single state parameter equals the single
// state cookie; both must be present and non-empty. Two cookies of that name
// mean one was planted (say, with a parent-domain Domain from a sibling
// subdomain), so neither is trusted; a "__Host-" state cookie name rules
// that out in the browser. The comparison takes constant time, as the state
// is a secret the attacker must not learn bytewise.
func (h *Callback) stateMatches(r *http.Request, params []string) bool {
	if len(params) != 1 || params[0] == "" {
		return false
	}
	cookies := r.CookiesNamed(h.StateCookieName)
	if len(cookies) != 1 || cookies[0].Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(params[0]), []byte(cookies[0].Value)) == 1
}

// verifyToken checks the token beyond its syntax, when verification is
// configured, and returns the cookie's Max-Age in seconds (0 for a session
// cookie): the configured max_age, shortened to the token's remaining life
// when it has an `exp` claim.
func (h *Callback) verifyToken(r *http.Request, token string) (int, error) {
	maxAge := int(time.Duration(h.Cookie.MaxAge) / time.Second)
	if !h.Verifier.Configured() {
		return maxAge, nil
	}
	claims, err := h.Verifier.Verify(r.Context(), token)
	if err != nil {
		return 0, err
	}
	if exp, ok := claims["exp"].(float64); ok {
		left := int(exp - float64(time.Now().Unix()))
		if left < 1 {
			// Accepted within the verifier's leeway but already past
			// exp: a cookie that expires at once.
			left = 1
		}
		if maxAge == 0 || left < maxAge {
			maxAge = left
		}
	}
	return maxAge, nil
}

// setSessionAnswerHeaders sets the headers every answer of the session
// handlers carries.
func setSessionAnswerHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Callback)(nil)
	_ caddy.CleanerUpper          = (*Callback)(nil)
	_ caddy.Validator             = (*Callback)(nil)
	_ caddyhttp.MiddlewareHandler = (*Callback)(nil)
)
