package redirect

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxTargetLength bounds the targets Resolve accepts. Longer ones are refused:
// no legitimate post-login destination needs more, and a bound keeps hostile
// input cheap to check.
const MaxTargetLength = 2048

// maxDecodeRounds is how many times a target is percent-decoded while looking
// for hidden "//", "\" and control characters. Real paths are encoded at most
// once or twice (a redirect target carried inside another URL's query);
// deeper nesting is treated as hostile.
const maxDecodeRounds = 4

// Policy decides where a handler may redirect a browser. Its zero value
// accepts same-origin paths only and falls back to "/". Call Provision (and
// Validate) once before Resolve; after that a Policy is safe for concurrent
// use.
type Policy struct {
	// The origins an absolute redirect target may point to, besides the
	// request's own origin, which is always allowed. Each is
	// `scheme://host[:port]` (http or https; the port defaults to the
	// scheme's) or `https://*.example.com[:port]`, which matches every
	// subdomain of example.com but not example.com itself. Scheme, host and
	// port must match exactly. Default: none (same-origin targets only).
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

	// Where the browser is sent when the requested target is missing or
	// refused. It must itself be a safe target: a same-origin path, or an
	// absolute URL on one of `allowed_origins`. Default: `/`.
	Default string `json:"default,omitempty"`

	origins []origin
	// fallback is Default once checked; "/" before Provision.
	fallback string
}

// Provision parses the allowlist and checks the default target.
func (p *Policy) Provision() error {
	p.origins = p.origins[:0]
	for _, entry := range p.AllowedOrigins {
		o, err := parseOrigin(entry)
		if err != nil {
			return err
		}
		p.origins = append(p.origins, o)
	}
	p.fallback = "/"
	if p.Default == "" {
		return nil
	}
	// The default is checked without a request: it must be a same-origin
	// path or on an allowlisted origin, whatever origin the request has.
	if _, ok := p.check(nil, p.Default); !ok {
		return fmt.Errorf("default redirect %q is not a safe target: use a path such as \"/\", or an absolute URL whose origin is in the allowed redirect origins", p.Default)
	}
	p.fallback = p.Default
	return nil
}

// Validate reports a policy that Provision would refuse. It is cheap and may
// be called again after Provision.
func (p *Policy) Validate() error {
	q := Policy{AllowedOrigins: p.AllowedOrigins, Default: p.Default}
	return q.Provision()
}

// DefaultTarget returns the target Resolve falls back to.
func (p *Policy) DefaultTarget() string {
	if p.fallback == "" {
		return "/"
	}
	return p.fallback
}

// Resolve returns where a browser that asked for target may be sent. When
// target is acceptable it is returned unchanged with ok=true; otherwise the
// policy's default is returned with ok=false (an empty target gives the
// default with ok=false as well: callers that distinguish a missing target
// from a refused one check for emptiness themselves). r is the request being
// answered; its origin (scheme from the connection, host from Host) is
// allowed for absolute targets along with the allowlist.
func (p *Policy) Resolve(r *http.Request, target string) (safe string, ok bool) {
	if s, ok := p.check(r, target); ok {
		return s, true
	}
	return p.DefaultTarget(), false
}

// check applies the rules to target; r may be nil (no request origin).
func (p *Policy) check(r *http.Request, target string) (string, bool) {
	if target == "" || len(target) > MaxTargetLength || !printableASCII(target) {
		return "", false
	}
	if strings.HasPrefix(target, "/") {
		return target, safePath(target)
	}
	t, rest, ok := absoluteOrigin(target)
	if !ok {
		return "", false
	}
	// The path of an absolute target obeys the same rules as a same-origin
	// path: "https://allowed.example//evil.example" would otherwise hand
	// the allowed site a path it may take for a host.
	if strings.HasPrefix(rest, "/") {
		ok = safePath(rest)
	} else {
		ok = decodedFormsClean(rest, false)
	}
	if !ok {
		return "", false
	}
	if r != nil {
		if self, ok := requestOrigin(r); ok && self == t {
			return target, true
		}
	}
	for _, o := range p.origins {
		if o.matches(t) {
			return target, true
		}
	}
	return "", false
}

// safePath reports whether a target starting with "/" stays on the origin.
func safePath(target string) bool {
	// "//host" is scheme-relative; browsers read "\" as "/" in http(s)
	// URLs, so "/\host" is too. decodedFormsClean refuses backslashes and,
	// for paths, a second leading slash in every decoded form.
	return decodedFormsClean(target, true)
}

// decodedFormsClean percent-decodes target up to maxDecodeRounds times and
// checks every form, so that a target an application (or a second redirect)
// decodes again cannot turn into something refused: no backslash, no
// control character; for paths (isPath), no second leading "/" and no "."
// or ".." segment.
func decodedFormsClean(target string, isPath bool) bool {
	s := target
	for round := 0; ; round++ {
		if strings.ContainsRune(s, '\\') || hasControl(s) {
			return false
		}
		if isPath {
			if strings.HasPrefix(s, "//") || hasDotSegment(s) {
				return false
			}
		}
		next, err := url.PathUnescape(s)
		if err != nil {
			// A malformed escape in the target as received is refused; in
			// a decoded form it just means the text was a literal "%"
			// (such as "100%25" decoded once), which is harmless.
			return round > 0
		}
		if next == s {
			return true
		}
		if round == maxDecodeRounds {
			return false
		}
		s = next
	}
}

// hasDotSegment reports whether the path part of a "/"-rooted target has a
// "." or ".." segment. Browsers collapse them, so "/a/..//evil.example"
// becomes a "//evil.example" path that an application may later misread.
func hasDotSegment(s string) bool {
	path := s
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// absoluteOrigin parses the origin of an absolute http(s) target and returns
// it with the rest of the target (path, query, fragment). It refuses
// what browsers parse differently from the text: a missing "//" after the
// scheme ("https:evil.example" is relative on an https page and absolute on
// an http one), userinfo ("https://allowed@evil.example"), and
// percent-escapes in the authority (browsers decode them in host names).
func absoluteOrigin(target string) (origin, string, bool) {
	scheme, rest, ok := strings.Cut(target, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return origin{}, "", false
	}
	rest, ok = strings.CutPrefix(rest, "//")
	if !ok {
		return origin{}, "", false
	}
	authority := rest
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if strings.ContainsAny(authority, "@%") {
		return origin{}, "", false
	}
	o, err := parseAuthority(scheme, authority)
	if err != nil {
		return origin{}, "", false
	}
	// Go's own parser must agree, since the target is also what Go writes
	// into the Location header.
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Opaque != "" || bracketless(strings.ToLower(u.Hostname())) != o.host {
		return origin{}, "", false
	}
	return o, rest[len(authority):], true
}

// requestOrigin returns the origin the client used for r: https when the
// connection is TLS, the host and port from Host.
func requestOrigin(r *http.Request) (origin, bool) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	if host == "" || strings.ContainsAny(host, "@%/\\?#") || !printableASCII(host) {
		return origin{}, false
	}
	o, err := parseAuthority(scheme, host)
	if err != nil {
		return origin{}, false
	}
	return o, true
}

// bracketless returns an IPv6 host as Go's Hostname reports it (no
// brackets) and other hosts unchanged, for comparisons.
func bracketless(host string) string {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return host
}

// printableASCII reports whether s holds only printable ASCII other than
// space and backslash. Browsers strip tabs and newlines anywhere in a URL
// and trim spaces and control characters around it, and read "\" as "/";
// refusing all of them keeps what is checked and what is followed the same.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds an ASCII control character (decoded
// forms may hold UTF-8, which is fine).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}
