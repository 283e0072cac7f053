package matchers

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// requestPaths returns the two forms of the request path that Next.js's
// router server tests a middleware matcher against (next/dist/server/lib/
// router-utils/resolve-routes.js): the pathname of the request target after
// normalizeRepeatedSlashes and WHATWG URL parsing (backslashes become
// slashes, repeated slashes merge, dot segments, `%2e` ones included,
// resolve, characters outside the path set are percent-encoded), and that
// pathname through decodeURIComponent (absent when it does not decode).
//
// When the decoded form still holds dot segments or empty segments (they
// came from encoded slashes, `/a%2F..%2Fapi`), an upstream that decodes
// before it resolves would serve another resource than the one the pattern
// was tested on. Such a path is cleaned: both forms are computed from the
// cleaned, decoded path, and canonical reports it, so the caller makes the
// request carry the path the gate decided on.
func requestPaths(r *http.Request) (pathname, decoded string, decodedOK bool, canonical string) {
	raw := rawRequestPath(r)
	pathname = whatwgPath(normalizeRepeatedSlashes(raw))
	decoded, decodedOK = decodeURIComponent(pathname)
	if decodedOK && hasDotOrEmptySegment(decoded) {
		clean := cleanSlashPath(decoded)
		u := url.URL{Path: clean}
		pathname = whatwgPath(u.EscapedPath())
		decoded, decodedOK = decodeURIComponent(pathname)
	}
	if pathname != raw {
		canonical = pathname
	}
	return pathname, decoded, decodedOK, canonical
}

// rawRequestPath is the path of the request target as the client sent it,
// when the request still has that path (no rewrite has changed it); else
// the escaped form of the current path.
func rawRequestPath(r *http.Request) string {
	target := r.RequestURI
	if i := strings.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	if strings.HasPrefix(target, "/") {
		if p, err := url.PathUnescape(target); err == nil && p == r.URL.Path {
			return target
		}
	}
	return r.URL.EscapedPath()
}

// applyCanonicalPath makes r carry canonical (a percent-encoded path), so
// the handlers and the upstream after the gate receive the path the gate
// decided on.
func applyCanonicalPath(r *http.Request, canonical string) {
	p, err := url.PathUnescape(canonical)
	if err != nil {
		return
	}
	r.URL.Path = p
	r.URL.RawPath = canonical
	if r.URL.EscapedPath() != canonical {
		r.URL.RawPath = ""
	}
}

// normalizeRepeatedSlashes is Next.js's: backslashes become slashes, then
// runs of slashes become one.
func normalizeRepeatedSlashes(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// whatwgPath parses an absolute path as the WHATWG URL parser's path state
// does for an http URL: segments `.` and `..` (and their `%2e` spellings)
// resolve, and code points in the path percent-encode set are encoded.
// Bytes of 0x80 and above (raw non-ASCII in a request line, which RFC 9112
// does not allow; clients send them percent-encoded) are taken as the
// UTF-8 they almost always are and percent-encoded byte for byte, so the
// gate decides on the same text a UTF-8 upstream serves. (Node.js would
// read them as latin1; deciding on that reading would let `/café` sent
// raw slip past a `/café/:p*` gate in front of another upstream.)
func whatwgPath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case isDoubleDot(seg):
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case isSingleDot(seg):
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, encodePathSegment(seg))
		}
	}
	return "/" + strings.Join(out, "/")
}

func isSingleDot(s string) bool { return s == "." || strings.EqualFold(s, "%2e") }

func isDoubleDot(s string) bool {
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// encodePathSegment percent-encodes what the WHATWG path percent-encode
// set holds: C0 controls, space, `"`, `#`, `<`, `>`, `?`, backtick, `{`,
// `}`, DEL and everything above ASCII.
func encodePathSegment(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80 || c <= ' ' || c == 0x7f || strings.IndexByte("\"#<>?`{}", c) >= 0:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeURIComponent is JavaScript's: every %XX is decoded, and the result
// must be valid UTF-8 (no surrogates), or it fails.
func decodeURIComponent(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1:i+3]) {
			return "", false
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	out := b.String()
	if !utf8.ValidString(out) {
		return "", false
	}
	return out, true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// hasDotOrEmptySegment reports whether a decoded path has a `.` or `..`
// segment, or an empty one before its end (`//`).
func hasDotOrEmptySegment(p string) bool {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i < len(segs)-1) {
			return true
		}
	}
	return false
}

// cleanSlashPath resolves dot segments and merges slashes, keeping one
// trailing slash.
func cleanSlashPath(p string) string {
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	var out []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	c := "/" + strings.Join(out, "/")
	if trailing && c != "/" {
		c += "/"
	}
	return c
}
