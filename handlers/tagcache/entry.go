package tagcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// fetched is a response a fill got, to become an entry.
type fetched struct {
	status int
	// seen is the response as the client got it, which says the tags,
	// Date and Age (a `header Cache-Tag` before the cache tags the entry).
	seen http.Header
	// produced is what the handlers after the cache produced: what the
	// entry keeps to replay.
	produced http.Header
	body     []byte
	// inherited are the tags of the entry a 304 refreshed, kept as they
	// are.
	inherited []string
}

// newEntry builds an entry from a judged response, fetched for a request
// of the given standing at times.
func (h *Handler) newEntry(r *http.Request, standing cache.Standing, resp fetched, d cache.Decision, times fetchTimes) (*cache.Entry, bool) {
	primary := cache.PrimaryKey(r)
	tags, ok := h.entryTags(r, primary, resp)
	if !ok {
		return nil, false
	}
	stored := cache.StorableHeader(resp.produced)
	// The entry varies as the handlers after the cache said; a Vary set
	// before the cache is about headers set again for every request.
	varyNames := cache.VaryNames(stored)
	date, err := http.ParseTime(resp.seen.Get("Date"))
	if err != nil {
		date = times.response
	}
	return &cache.Entry{
		Key:        cache.VariantKey(primary, varyNames, r),
		PrimaryKey: primary,
		// A clone: r.URL.Path can be a substring of the whole request line
		// (a 15 kB query string included), which the entry would otherwise
		// keep alive outside the byte budget.
		Path:         strings.Clone(r.URL.Path),
		Status:       resp.status,
		Header:       stored,
		Body:         append([]byte(nil), resp.body...),
		RequestTime:  times.request,
		ResponseTime: times.response,
		DateValue:    date,
		AgeValue:     parseAge(resp.seen),
		Reuse:        d.Reuse,
		Tags:         tags,
		Clock:        times.clock,
		VaryNames:    varyNames,
		Standing:     standing,
	}, true
}

// entryTags returns the tags of the entry for resp: its inherited tags, the
// root layout's implicit tag for a Next.js page, and those the response
// carries. ok is false, and the overflow is logged and counted, when they
// overflow the bounds.
func (h *Handler) entryTags(r *http.Request, primary string, resp fetched) (tags []string, ok bool) {
	inherited := resp.inherited
	if h.Nextjs && !isNextjsAsset(r.URL.Path) {
		inherited = append(inherited[:len(inherited):len(inherited)], cache.NextRootLayoutTag)
	}
	tags, ok, problem := h.tagsOf(resp.seen, r.URL.Path, primary, inherited...)
	if !ok {
		h.logger.Warn("response not stored: its tags overflow the bounds",
			zap.String("path", r.URL.Path), zap.String("problem", problem),
			zap.Int("max_tag_length", cache.MaxTagLength), zap.Int("max_tags", cache.MaxTagsPerEntry))
		h.store.RecordUncacheable()
	}
	return tags, ok
}

// parseAge reads the Age a response arrived with (RFC 9111 section 5.1):
// the first member of the first field line. A value that is not a
// non-negative integer (non-numeric, negative, fractional) is invalid and
// ignored; one too large for 31 bits makes the response maximally old.
func parseAge(header http.Header) time.Duration {
	values := header.Values("Age")
	if len(values) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(values[0], ",")
	first = strings.TrimSpace(first)
	if first == "" {
		return 0
	}
	for i := 0; i < len(first); i++ {
		if first[i] < '0' || first[i] > '9' {
			return 0
		}
	}
	secs, err := strconv.ParseInt(first, 10, 64)
	if err != nil || secs > int64(veryOld/time.Second) {
		return veryOld
	}
	return time.Duration(secs) * time.Second
}

// veryOld is the age given to responses whose Age cannot be trusted.
const veryOld = time.Duration(1<<31) * time.Second
