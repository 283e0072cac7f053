package session

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/internal/httpsyntax"
	"github.com/caddy-bff/caddy-bff/internal/tokenverify"
)

// hostPrefix is the cookie-name prefix browsers accept only for cookies
// that are Secure, have Path=/ and no Domain, so the cookie is bound to the
// exact host that set it and cannot be planted by a sibling subdomain.
const hostPrefix = "__Host-"

// securePrefix is the cookie-name prefix browsers accept only with Secure.
const securePrefix = "__Secure-"

// maxCookieAge is the longest lifetime browsers keep: Chromium and the
// current cookie draft cap Max-Age at 400 days, so a longer one would be
// silently shortened.
const maxCookieAge = 400 * 24 * time.Hour

// maxCookieBytes is the size browsers guarantee for a cookie's name and value
// together (RFC 6265 section 6.1); larger cookies may be dropped silently.
const maxCookieBytes = 4096

// Cookie describes the session cookie that session_callback sets and
// session_logout expires. Both must describe the same cookie (name, path and
// domain) for the logout to remove what the callback set. In the Caddyfile
// each field is an option of the handler's block named `cookie_` and the
// field's JSON key: `cookie_name`, `cookie_max_age`, and so on.
type Cookie struct {
	// The cookie's name. With `host_prefix` it gets the `__Host-` prefix.
	// Default: `_token` (the cookie auth_proxy and the authenticated matcher
	// read by default).
	Name string `json:"name,omitempty"`

	// The cookie's Path attribute. Default: `/`.
	Path string `json:"path,omitempty"`

	// The cookie's Domain attribute, which shares the cookie with
	// subdomains. Forbidden with `host_prefix`. Default: none, so the cookie
	// goes back only to the host that set it.
	Domain string `json:"domain,omitempty"`

	// How long the browser keeps the cookie, at most 400 days
	// (session_callback only). When the token is a verified JWT with an
	// `exp` claim, the cookie never outlives it. Default: `0s`, a session
	// cookie, dropped when the browser closes (or at the token's `exp`).
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	// The cookie's SameSite attribute: `lax`, `strict` or `none`; `none`
	// requires `secure`. Default: `lax`.
	SameSite string `json:"same_site,omitempty"`

	// Keeps the cookie away from scripts (document.cookie). Default: true.
	HTTPOnly *bool `json:"http_only,omitempty"`

	// Restricts the cookie to HTTPS. Set to false, the attribute is dropped
	// only on requests to a loopback host (localhost, *.localhost,
	// 127.0.0.0/8, ::1), where browsers treat plain HTTP as secure anyway;
	// elsewhere the cookie stays Secure unless `insecure` is set too.
	// Default: true.
	Secure *bool `json:"secure,omitempty"`

	// With `secure` false, drops the Secure attribute for every host,
	// sending the session over plain HTTP. It exists for test setups on
	// non-loopback names; never use it in production. Default: false.
	Insecure bool `json:"insecure,omitempty"`

	// Gives the cookie the `__Host-` name prefix, which browsers accept only
	// with Secure, Path=/ and no Domain: the strongest binding of a cookie
	// to its origin. Default: false.
	HostPrefix bool `json:"host_prefix,omitempty"`

	sameSite http.SameSite
}

// provision fills in defaults and checks the description.
func (c *Cookie) provision() error {
	if c.Name == "" {
		c.Name = tokenverify.DefaultCookie
	}
	if c.HostPrefix && !strings.HasPrefix(c.Name, hostPrefix) {
		c.Name = hostPrefix + c.Name
	}
	if c.Path == "" {
		c.Path = "/"
	}
	c.Domain = strings.ToLower(c.Domain)
	if c.HTTPOnly == nil {
		c.HTTPOnly = new(true)
	}
	if c.Secure == nil {
		c.Secure = new(true)
	}
	switch strings.ToLower(c.SameSite) {
	case "", "lax":
		c.sameSite = http.SameSiteLaxMode
	case "strict":
		c.sameSite = http.SameSiteStrictMode
	case "none":
		c.sameSite = http.SameSiteNoneMode
	default:
		return fmt.Errorf("cookie same_site %q: must be lax, strict or none", c.SameSite)
	}
	return c.validate()
}

// validate refuses cookies browsers would reject or that would weaken the
// session, with a message naming the setting to change.
func (c *Cookie) validate() error {
	if !httpsyntax.IsToken(c.Name) {
		return fmt.Errorf("cookie name %q: only letters, digits and !#$%%&'*+-.^_`|~ are allowed", c.Name)
	}
	if !strings.HasPrefix(c.Path, "/") || !cookieAttrSafe(c.Path) {
		return fmt.Errorf("cookie path %q: must start with / and hold no spaces, ';' or control characters", c.Path)
	}
	if c.Domain != "" && !validCookieDomain(c.Domain) {
		return fmt.Errorf("cookie domain %q: must be a host name", c.Domain)
	}
	if c.MaxAge < 0 || time.Duration(c.MaxAge) > maxCookieAge {
		return fmt.Errorf("cookie max_age %s: must be between 0 (a session cookie) and 400 days", time.Duration(c.MaxAge))
	}
	secure := *c.Secure
	if strings.HasPrefix(c.Name, hostPrefix) {
		switch {
		case c.Domain != "":
			return fmt.Errorf("cookie %q: the __Host- prefix forbids a domain (browsers reject such cookies)", c.Name)
		case c.Path != "/":
			return fmt.Errorf("cookie %q: the __Host- prefix requires path / (browsers reject such cookies)", c.Name)
		case !secure:
			return fmt.Errorf("cookie %q: the __Host- prefix requires cookie_secure on (browsers reject such cookies)", c.Name)
		}
	}
	if strings.HasPrefix(c.Name, securePrefix) && !secure {
		return fmt.Errorf("cookie %q: the __Secure- prefix requires cookie_secure on (browsers reject such cookies)", c.Name)
	}
	if c.sameSite == http.SameSiteNoneMode && !secure {
		return fmt.Errorf("cookie_same_site none requires cookie_secure on (browsers reject such cookies)")
	}
	if c.Insecure && secure {
		return fmt.Errorf("cookie_secure's insecure flag has an effect only with cookie_secure off")
	}
	return nil
}

// secureFor reports whether the cookie sent in answer to r carries Secure.
func (c *Cookie) secureFor(r *http.Request) bool {
	if *c.Secure || c.Insecure {
		return *c.Secure
	}
	return !isLoopbackHost(r.Host)
}

// cookie returns the Set-Cookie value carrying value for r; maxAge is the
// lifetime in seconds (0: a session cookie).
func (c *Cookie) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     c.Name,
		Value:    value,
		Path:     c.Path,
		Domain:   c.Domain,
		MaxAge:   maxAge,
		Secure:   c.secureFor(r),
		HttpOnly: *c.HTTPOnly,
		SameSite: c.sameSite,
	}
}

// expired returns the Set-Cookie value that removes the cookie: same name,
// path and domain (how browsers identify a cookie), an empty value, Max-Age=0
// and an Expires in the past for older clients.
func (c *Cookie) expired(r *http.Request) *http.Cookie {
	ck := c.cookie(r, "", -1)
	ck.Expires = time.Unix(0, 0)
	return ck
}

// isLoopbackHost reports whether host (a Host header, with or without port)
// names this machine: localhost, a name under .localhost, or a loopback IP.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isCookieOctets reports whether s holds only RFC 6265 cookie-octets:
// printable ASCII except space, '"', ',', ';' and '\'. Everything else could
// end the cookie early, inject attributes or split the header.
func isCookieOctets(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// cookieAttrSafe reports whether s can be an attribute value of Set-Cookie.
func cookieAttrSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// validCookieDomain reports whether d is a host name usable as a cookie's
// Domain (a leading dot is tolerated, as browsers ignore it).
func validCookieDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 253 || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
