package redirect

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// origin is a parsed allowlist entry, or the origin of a target or request.
type origin struct {
	// scheme is "http" or "https".
	scheme string
	// host is the lower-case host name or IP literal (IPv6 without
	// brackets). For a wildcard entry it is the parent domain, without the
	// leading "*.".
	host string
	// port is the explicit port, or the scheme's default one.
	port int
	// wildcard marks an entry of the form scheme://*.parent: it matches any
	// host that has at least one more label than parent, never parent itself.
	wildcard bool
}

// String returns the origin in its scheme://host[:port] form.
func (o origin) String() string {
	host := o.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if o.wildcard {
		host = "*." + host
	}
	if o.port == defaultPort(o.scheme) {
		return o.scheme + "://" + host
	}
	return o.scheme + "://" + host + ":" + strconv.Itoa(o.port)
}

// matches reports whether the concrete origin t is allowed by the entry o.
func (o origin) matches(t origin) bool {
	if o.scheme != t.scheme || o.port != t.port {
		return false
	}
	if !o.wildcard {
		return o.host == t.host
	}
	sub, ok := strings.CutSuffix(t.host, "."+o.host)
	// The part before the parent must be one or more non-empty labels: a
	// leading dot or an empty label ("a..example.com") is refused even
	// though it is still below the parent, because such hosts are never
	// legitimate and are the raw material of parser confusions.
	return ok && sub != "" && !strings.HasPrefix(sub, ".") && !strings.HasSuffix(sub, ".") &&
		!strings.Contains(sub, "..") && net.ParseIP(t.host) == nil
}

// ValidateOrigin reports whether entry is a valid allowlist entry: an
// origin "http://host[:port]" or "https://host[:port]" (host a DNS name,
// an IPv4 address or a bracketed IPv6 address), or the wildcard-subdomain
// form "https://*.example.com[:port]". No path (a single trailing "/" is
// tolerated), query, fragment or userinfo is allowed. Caddyfile parsers call
// it to refuse a bad entry at adapt time, on its line.
func ValidateOrigin(entry string) error {
	_, err := parseOrigin(entry)
	return err
}

// parseOrigin parses an allowlist entry; see ValidateOrigin.
func parseOrigin(entry string) (origin, error) {
	if !printableASCII(entry) {
		return origin{}, fmt.Errorf("allowed redirect origin %q: only printable ASCII without spaces or backslashes is allowed (write international names in their xn-- form)", entry)
	}
	scheme, rest, ok := strings.Cut(entry, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return origin{}, fmt.Errorf("allowed redirect origin %q: must start with http:// or https://", entry)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#") {
		return origin{}, fmt.Errorf("allowed redirect origin %q: must be an origin (scheme://host[:port]) without path, query or fragment", entry)
	}
	wildcard := false
	if after, found := strings.CutPrefix(rest, "*."); found {
		wildcard = true
		rest = after
	}
	o, err := parseAuthority(scheme, rest)
	if err != nil {
		return origin{}, fmt.Errorf("allowed redirect origin %q: %v", entry, err)
	}
	if wildcard {
		if net.ParseIP(o.host) != nil {
			return origin{}, fmt.Errorf("allowed redirect origin %q: a wildcard needs a domain name, not an IP address", entry)
		}
		if !strings.Contains(o.host, ".") {
			// "*.com" would allow every site under a top-level domain.
			return origin{}, fmt.Errorf("allowed redirect origin %q: the wildcard's parent must have at least two labels", entry)
		}
		o.wildcard = true
	}
	return o, nil
}

// parseAuthority parses "host[:port]" (the authority of a URL without
// userinfo) for scheme. It is strict on purpose: the only characters allowed
// in a host name are letters, digits, '-', '_' and '.', so no spelling can be
// read one way here and another way by a browser's URL parser (which decodes
// percent-escapes, maps some Unicode to ASCII and reads IPv4 numbers in
// several bases).
func parseAuthority(scheme, authority string) (origin, error) {
	o := origin{scheme: scheme, port: defaultPort(scheme)}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return origin{}, fmt.Errorf("unclosed IPv6 literal")
		}
		host = authority[1:end]
		after := authority[end+1:]
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return origin{}, fmt.Errorf("unexpected text after the IPv6 literal")
			}
			port = p
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() != nil || strings.Contains(host, "%") {
			return origin{}, fmt.Errorf("invalid IPv6 literal")
		}
		o.host = ip.String()
	} else {
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i+1:]
		}
		host = strings.ToLower(host)
		if host == "" {
			return origin{}, fmt.Errorf("empty host")
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return origin{}, fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
		o.host = host
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
			return origin{}, fmt.Errorf("invalid port %q", port)
		}
		o.port = n
	}
	return o, nil
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}
