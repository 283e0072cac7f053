package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Directives is a parsed Cache-Control (or CDN-Cache-Control) field: each
// directive name, lower-cased, mapped to its argument ("" when it has none).
// When a directive appears twice the first occurrence wins, which is the
// conservative reading RFC 9111 section 4.2.1 allows for conflicting
// freshness values.
type Directives map[string]string

// ParseDirectives parses every line of the named header field. Quoted
// arguments are unquoted; malformed members are skipped rather than failing
// the whole field, as caches commonly do.
func ParseDirectives(h http.Header, field string) Directives {
	values := h.Values(field)
	if len(values) == 0 {
		return nil
	}
	d := make(Directives)
	for _, line := range values {
		for _, member := range splitOutsideQuotes(line, ',') {
			member = strings.TrimSpace(member)
			if member == "" {
				continue
			}
			name, arg, _ := strings.Cut(member, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.TrimSpace(arg)
			if field == "Surrogate-Control" {
				// Surrogate-Control members may carry a ";target" suffix
				// (Edge Architecture 1.0); this cache obeys every target.
				if i := strings.IndexByte(arg, ';'); i >= 0 && !strings.HasPrefix(arg, "\"") {
					arg = strings.TrimSpace(arg[:i])
				}
			}
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = arg[1 : len(arg)-1]
			}
			if _, seen := d[name]; !seen {
				d[name] = arg
			}
		}
	}
	return d
}

// Has reports whether the directive is present.
func (d Directives) Has(name string) bool {
	_, ok := d[name]
	return ok
}

// Seconds returns a delta-seconds argument. ok is false when the directive is
// absent or its argument is not a valid non-negative integer; values too big
// for a Duration saturate, as RFC 9111 section 1.2.2 asks.
func (d Directives) Seconds(name string) (time.Duration, bool) {
	arg, present := d[name]
	if !present {
		return 0, false
	}
	return parseDeltaSeconds(arg)
}

func parseDeltaSeconds(arg string) (time.Duration, bool) {
	if arg == "" {
		return 0, false
	}
	for i := 0; i < len(arg); i++ {
		if arg[i] < '0' || arg[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n > int64(maxDelta/time.Second) {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// maxDelta is the saturation value for delta-seconds (2^31 seconds).
const maxDelta = time.Duration(1<<31) * time.Second

// splitOutsideQuotes splits s at sep, except inside quoted strings.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	inQuotes, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inQuotes:
			escaped = true
		case c == '"':
			inQuotes = !inQuotes
		case c == sep && !inQuotes:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
