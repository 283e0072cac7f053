package tagcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
)

// serveEntry answers from a stored entry: its headers with a correct Age
// and this cache's Cache-Status, a 304 when the client's own conditional
// request matches, a single range when asked for one, and no body for HEAD.
func (h *Handler) serveEntry(w http.ResponseWriter, r *http.Request, e *cache.Entry, now time.Time, status cacheStatus) error {
	header := w.Header()
	values := replayHeader(header, e.Header)
	h.stripTagHeaders(header)
	age := int64(e.Age(now) / time.Second)
	header.Set("Age", strconv.FormatInt(max(age, 0), 10))
	header.Add("Cache-Status", h.render(status))

	if e.Status == http.StatusOK && notModified(r, e.Header) {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"} {
			header.Del(k)
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if e.Status == http.StatusOK && r.Method == http.MethodGet {
		if start, end, ok := singleRange(r, e); ok {
			return writeRange(w, e.Body, start, end)
		}
	}
	values = append(values, e.ContentLength()[0])
	header["Content-Length"] = values[len(values)-1:]
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead || !bodyAllowed(e.Status) {
		return nil
	}
	_, err := w.Write(e.Body)
	return err
}

// replayHeader sets the stored header fields on the client's header.
// Headers set by handlers that ran before tag_cache are this request's
// own and win over stored ones of the same name (an entry holds only what
// the later handlers produced). Vary is a list both add to, so the stored
// names follow this request's.
//
// The values are copied, into one backing array so one allocation:
// handlers that run later, like `header` with a replace operation, may
// edit them in place, and the stored entry must stay untouched. The array
// is returned with room left for one more value (Content-Length).
func replayHeader(header, stored http.Header) []string {
	total := 1
	for _, vs := range stored {
		total += len(vs)
	}
	values := make([]string, 0, total+len(header["Vary"]))
	for k, vs := range stored {
		own, set := header[k]
		if set && k != "Vary" {
			continue
		}
		start := len(values)
		values = append(values, own...)
		values = append(values, vs...)
		header[k] = values[start:len(values):len(values)]
	}
	return values
}

// writeRange answers with bytes start to end of body (RFC 9110 section
// 14.4).
func writeRange(w http.ResponseWriter, body []byte, start, end int) error {
	w.Header().Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(end)+"/"+strconv.Itoa(len(body)))
	w.Header().Set("Content-Length", strconv.Itoa(end-start+1))
	w.WriteHeader(http.StatusPartialContent)
	_, err := w.Write(body[start : end+1])
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
		// Without Last-Modified, the Date is the latest time the
		// representation is known to be unchanged since.
		if lm, err = http.ParseTime(stored.Get("Date")); err != nil {
			return false
		}
	}
	return !lm.After(since)
}

func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// singleRange parses a single satisfiable byte range of the request against
// the stored body (RFC 9110 section 14.1.2). Multiple ranges, unsatisfiable
// ones and If-Range that does not match are answered with the full body,
// which RFC 9110 always allows.
func singleRange(r *http.Request, e *cache.Entry) (start, end int, ok bool) {
	spec, found := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !found || strings.Contains(spec, ",") || len(e.Body) == 0 {
		return 0, 0, false
	}
	if ifRange := r.Header.Get("If-Range"); ifRange != "" {
		etag := e.Header.Get("ETag")
		if etag == "" || strings.HasPrefix(etag, "W/") || ifRange != etag {
			return 0, 0, false
		}
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	size := len(e.Body)
	if first == "" {
		n, err := strconv.Atoi(last)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	start, err := strconv.Atoi(first)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end = size - 1
	if last != "" {
		if end, err = strconv.Atoi(last); err != nil || end < start {
			return 0, 0, false
		}
		end = min(end, size-1)
	}
	return start, end, true
}
