package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
)

// serveEntry answers from a stored entry: its headers with a correct Age
// and this cache's Cache-Status, a 304 when the client's own conditional
// request matches, and no body for HEAD.
func (h *TagCache) serveEntry(w http.ResponseWriter, r *http.Request, e *cache.Entry, now time.Time, cacheStatus string) error {
	header := w.Header()
	for k := range header {
		delete(header, k)
	}
	for k, vs := range e.Header {
		header[k] = append([]string(nil), vs...)
	}
	h.stripTagHeaders(header)
	age := int64(e.Age(now) / time.Second)
	header.Set("Age", strconv.FormatInt(max(age, 0), 10))
	header.Add("Cache-Status", cacheStatus)

	if e.Status == http.StatusOK && notModified(r, e.Header) {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"} {
			header.Del(k)
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	header.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead || !bodyAllowed(e.Status) {
		return nil
	}
	_, err := w.Write(e.Body)
	return err
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// notModified evaluates the client's If-None-Match, or If-Modified-Since when
// there is none, against the stored response (RFC 9110 section 13.2.2).
func notModified(r *http.Request, stored http.Header) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		etag := stored.Get("ETag")
		if etag == "" {
			return false
		}
		for _, candidate := range strings.Split(inm, ",") {
			candidate = strings.TrimSpace(candidate)
			if candidate == "*" || weakMatch(candidate, etag) {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(stored.Get("Last-Modified"))
	if err != nil {
		return false
	}
	return !lm.After(since)
}

func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// status renders this cache's Cache-Status member (RFC 9211): the cache
// name, the outcome ("hit" or "fwd=..."), ttl (the remaining freshness; negative
// once stale), the key when debugging, and extra parameters.
func (h *TagCache) status(outcome string, ttl time.Duration, key string, extra string) string {
	var b strings.Builder
	b.WriteString(h.CacheName)
	b.WriteString("; ")
	b.WriteString(outcome)
	if outcome == "hit" || strings.Contains(extra, "stored") || strings.Contains(extra, "stale-if-error") {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(int64(ttl/time.Second), 10))
	}
	if extra != "" {
		b.WriteString("; ")
		b.WriteString(extra)
	}
	if h.Debug {
		b.WriteString("; key=")
		b.WriteString(sfString(key))
	}
	return b.String()
}

// sfString renders s as a structured-field string (RFC 8941): printable
// ASCII only, with quotes and backslashes escaped.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
