package tokenverify

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// PlaceholderPrefix is the prefix of the identity placeholders, the same
// Caddy's own authentication handler uses: `{http.auth.user.id}` and
// `{http.auth.user.<claim>}`.
const PlaceholderPrefix = "http.auth.user."

// SetPlaceholders publishes claims as `{http.auth.user.<claim>}`
// placeholders, and `sub` also as `{http.auth.user.id}` (which Caddy's access
// log records as user_id).
func SetPlaceholders(repl *caddy.Replacer, claims map[string]any) {
	for name, value := range claims {
		repl.Set(PlaceholderPrefix+name, ClaimString(value))
	}
	if sub, ok := claims["sub"]; ok {
		repl.Set(PlaceholderPrefix+"id", ClaimString(sub))
	}
}

// ClaimString renders a claim value as text: strings as they are, numbers
// without exponent when integral, lists of strings comma-joined, anything
// else as JSON.
func ClaimString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			s, ok := item.(string)
			if !ok {
				return marshal(v)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ",")
	}
	return marshal(v)
}

func marshal(v any) string {
	buf, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(buf)
}
