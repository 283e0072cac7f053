package cache

import (
	"crypto/sha256"
	"encoding/hex"
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

// MaxRecordKeyLength is the longest tag kept as it is in a tag record (in
// memory and in a distributed backend alike). Longer tags, such as the implicit uri: tag of a URL
// with a 15 kB query string, are recorded under a fixed-size digest, so a
// record costs the same small size whatever the request that caused it.
const MaxRecordKeyLength = 64

// RecordKey returns the key under which tag is recorded and checked: tag
// itself when short, else its kind prefix (such as "uri:") followed by "#"
// and 128 bits of its SHA-256 in hex. The digest is not seeded, so every
// instance of a distributed store derives the same key. It is idempotent:
// a key it returns maps to itself.
func RecordKey(tag string) string {
	if len(tag) <= MaxRecordKeyLength {
		return tag
	}
	prefix := ""
	if i := strings.IndexByte(tag, ':'); i > 0 && i < 16 {
		prefix = tag[:i+1]
	}
	sum := sha256.Sum256([]byte(tag))
	return prefix + "#" + hex.EncodeToString(sum[:16])
}

// recordKeys maps tags to their record keys, reusing the slice when no tag
// needs hashing (the common case).
func recordKeys(tags []string) []string {
	for i, tag := range tags {
		if len(tag) > MaxRecordKeyLength {
			out := append([]string(nil), tags[:i]...)
			for _, t := range tags[i:] {
				out = append(out, RecordKey(t))
			}
			return out
		}
	}
	return tags
}
