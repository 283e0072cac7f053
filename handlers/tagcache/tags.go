package tagcache

import (
	"net/http"
	"strings"

	"github.com/caddy-bff/caddy-bff/cache"
)

// tagsOf reads the tags of a response from the configured tag headers and
// adds the implicit path and URI tags. ok is false when the tags overflow
// the bounds (a tag too long, too many tags): such a response is not stored,
// because an entry that cannot carry all its tags could not be invalidated
// by the missing ones. problem says what overflowed, for the log. inherited
// tags (those of an entry a 304 refreshed) are kept as they are.
func (h *Handler) tagsOf(header http.Header, path, primaryKey string, inherited ...string) (tags []string, ok bool, problem string) {
	seen := map[string]bool{}
	add := func(tag string) {
		if tag != "" && !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	for _, tag := range inherited {
		add(tag)
	}
	for name, sep := range h.tagSplit {
		for _, line := range header.Values(name) {
			for _, tag := range splitTags(line, sep) {
				if err := cache.CheckTag(tag); err != nil {
					return nil, false, "tag from " + name + " " + err.Error()
				}
				add(tag)
			}
		}
	}
	if len(tags) > cache.MaxTagsPerEntry {
		return nil, false, "too many tags"
	}
	add(cache.PathTag(path))
	add(cache.URITag(primaryKey))
	return tags, true, ""
}

func splitTags(line string, sep TagSeparator) []string {
	var fields []string
	switch sep {
	case SeparateBySpace:
		fields = strings.Fields(line)
	case SeparateByBoth:
		fields = strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	default:
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
	}
	return fields
}

// stripTagHeaders removes the tag headers from what the client receives.
func (h *Handler) stripTagHeaders(header http.Header) {
	if h.KeepTagHeaders {
		return
	}
	for name := range h.tagSplit {
		header.Del(name)
	}
}
