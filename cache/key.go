package cache

import (
	"net/http"
	"slices"
	"strings"
)

// PrimaryKey identifies the target URI of a request: scheme, host and the
// request-target as received. GET and HEAD share it, so a HEAD can be
// answered from a stored GET.
func PrimaryKey(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host) + r.URL.RequestURI()
}

// PathTag is the implicit tag every entry carries for its URL path, so
// paths can be revalidated like tags (Next.js revalidatePath).
func PathTag(path string) string { return "path:" + path }

// URITag is the implicit tag of one target URI, used to invalidate it after
// an unsafe method (RFC 9111 section 4.4) whatever variants it has.
func URITag(primaryKey string) string { return "uri:" + primaryKey }

// VaryNames returns the canonical, sorted, de-duplicated field names of the
// response's Vary header.
func VaryNames(h http.Header) []string {
	var names []string
	for _, v := range h.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// VariantKey extends primary with the request's values of the Vary fields.
// Values are normalised by collapsing whitespace and joining repeated field
// lines, as RFC 9111 section 4.1 allows.
func VariantKey(primary string, varyNames []string, r *http.Request) string {
	if len(varyNames) == 0 {
		return primary
	}
	var b strings.Builder
	b.WriteString(primary)
	for _, name := range varyNames {
		b.WriteString("\x00")
		b.WriteString(name)
		b.WriteString("=")
		b.WriteString(normalizeFieldValue(r.Header.Values(name)))
	}
	return b.String()
}

func normalizeFieldValue(values []string) string {
	var parts []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			parts = append(parts, strings.Join(strings.Fields(item), " "))
		}
	}
	return strings.Join(parts, ",")
}
