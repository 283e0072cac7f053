package tagcache

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
)

// The Next.js profile (`tag_cache { nextjs }`) teaches the cache what
// `next start` means by its answers, which RFC 9111 alone reads wrongly:
//
//   - `x-nextjs-cache: STALE` is Next serving an old page while it
//     regenerates, under the same `s-maxage` as a fresh one: never stored.
//   - `x-nextjs-cache: HIT` comes from Next's own cache with no Age: the
//     Age is derived from when Next generated the page (reported by the
//     bridge), or, unknown, taken as the whole lifetime, so Caddy never
//     holds a page longer than Next's own `revalidate` allows.
//   - Next's `stale-while-revalidate` (up to a year) is bounded to one
//     second, so time-based ISR through Caddy stays within Next's own
//     staleness plus one second.
//   - Draft Mode and Preview Mode requests (their cookies) bypass the
//     cache: editors see drafts, and drafts are never stored.
//   - The 307 Next answers an `_rsc` request with a stale cache-busting
//     parameter is not stored.
//   - `/_next/image` requests have Accept reduced to what Next's image
//     optimizer reads (image/avif, image/webp), so variants share entries.
//   - Pages (not `/_next/` assets) carry the root layout's implicit tag, so
//     `revalidatePath('/', 'layout')` reaches every page.

// nextjsSWRBound bounds an inherited stale-while-revalidate.
const nextjsSWRBound = time.Second

// nextjsDraftCookies are the cookies of Next's Draft Mode (app router) and
// Preview Mode (pages router).
var nextjsDraftCookies = []string{"__prerender_bypass", "__next_preview_data"}

// nextjsDraftMode reports a request in Draft or Preview Mode.
func nextjsDraftMode(r *http.Request) bool {
	// Every GET passes here: parse the cookies only when a draft cookie's
	// name appears at all.
	named := false
	for _, line := range r.Header.Values("Cookie") {
		named = named || strings.Contains(line, "__prerender_bypass") || strings.Contains(line, "__next_preview_data")
	}
	if !named {
		return false
	}
	for _, c := range r.Cookies() {
		for _, name := range nextjsDraftCookies {
			if c.Name == name && c.Value != "" {
				return true
			}
		}
	}
	return false
}

// nextjsNormalizeImageAccept reduces the Accept of an /_next/image request
// to the media types Next's image optimizer chooses among, with their
// weights: two browsers that would get the same image share one entry.
func nextjsNormalizeImageAccept(r *http.Request) {
	if r.URL.Path != "/_next/image" {
		return
	}
	var kept []string
	for _, want := range []string{"image/avif", "image/webp"} {
		if q, ok := acceptWeight(r.Header.Values("Accept"), want); ok && q > 0 {
			if q == 1 {
				kept = append(kept, want)
			} else {
				kept = append(kept, want+";q="+strconv.FormatFloat(q, 'f', -1, 64))
			}
		}
	}
	if len(kept) == 0 {
		// Next serves the source format: any Accept naming neither type is
		// the same request.
		r.Header.Set("Accept", "*/*")
		return
	}
	r.Header.Set("Accept", strings.Join(kept, ","))
}

// acceptWeight returns the q value Accept gives the media type named
// exactly (wildcards do not count: Next requires the type to be named).
func acceptWeight(values []string, mediaType string) (float64, bool) {
	for _, v := range values {
		for _, member := range strings.Split(v, ",") {
			params := strings.Split(member, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), mediaType) {
				continue
			}
			q := 1.0
			for _, p := range params[1:] {
				name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(name, "q") {
					if f, err := strconv.ParseFloat(value, 64); err == nil && f >= 0 && f <= 1 {
						q = f
					}
				}
			}
			return q, true
		}
	}
	return 0, false
}

// nextjsRefusal returns why the profile refuses to store a response, or "".
func nextjsRefusal(r *http.Request, status int, header http.Header) string {
	if strings.EqualFold(strings.TrimSpace(header.Get("X-Nextjs-Cache")), "STALE") {
		return "nextjs-stale"
	}
	if status >= 300 && status < 400 && isRSCRequest(r) {
		return "nextjs-rsc-redirect"
	}
	return ""
}

// isRSCRequest reports a React Server Components request of Next's router.
func isRSCRequest(r *http.Request) bool {
	if r.Header.Get("RSC") != "" {
		return true
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return strings.Contains(r.URL.RawQuery, "_rsc")
	}
	_, ok := q["_rsc"]
	return ok
}

// nextjsAge sets the Age of an answer Next served from its own cache
// (`x-nextjs-cache: HIT`, which comes without one): from when Next
// generated the page when the bridge reported it, else the whole shared
// lifetime, the worst case Next's own revalidate allows.
func (h *Handler) nextjsAge(r *http.Request, header http.Header, now time.Time) {
	if !strings.EqualFold(strings.TrimSpace(header.Get("X-Nextjs-Cache")), "HIT") || header.Get("Age") != "" {
		return
	}
	if generated, ok := h.store.GeneratedAt(r.URL.Path); ok {
		// Rounded up: Age counts whole seconds, and an entry thought a
		// little older expires a little early, never late.
		age := max(now.Sub(generated), 0)
		header.Set("Age", strconv.FormatInt(int64((age+time.Second-1)/time.Second), 10))
		return
	}
	cc := cache.ParseDirectives(header, "Cache-Control")
	lifetime, ok := cc.Seconds("s-maxage")
	if !ok {
		lifetime, ok = cc.Seconds("max-age")
	}
	if ok {
		header.Set("Age", strconv.FormatInt(int64(lifetime/time.Second), 10))
	}
}

// isNextjsAsset reports paths under /_next/: static assets, images and
// data, which belong to no page.
func isNextjsAsset(path string) bool { return strings.HasPrefix(path, "/_next/") }
