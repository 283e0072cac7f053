package nextjsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
)

const bridgeTestSecret = "bridge-secret-for-tests"

// storeInvalidator records invalidations in a real store, as the tag_cache
// app does in single-node mode, or fails with err.
type storeInvalidator struct {
	store *cache.Store
	err   error
}

func (s *storeInvalidator) Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error) {
	if s.err != nil {
		return 0, s.err
	}
	if inv.Mode == "" {
		inv.Mode = cache.ModeExpire
	}
	if err := cache.ValidateInvalidation(inv.Tags, inv.Paths, inv.Mode); err != nil {
		return 0, err
	}
	return s.store.Invalidate(ctx, inv.Tags, inv.Paths, inv.Mode)
}

func newTestBridge(t *testing.T, failing error) (*Handler, *cache.Store) {
	t.Helper()
	store, err := cache.NewStore("test", cache.StoreConfig{MaxSize: 16 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	b := &Handler{Secret: bridgeTestSecret}
	if err := b.setup(&storeInvalidator{store: store, err: failing}, store); err != nil {
		t.Fatal(err)
	}
	return b, store
}

func bridgeCall(t *testing.T, b *Handler, method, path, auth, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:9080"+path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	if err := b.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Fatal("the bridge is terminal: it called the next handler")
		return nil
	})); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	var answer map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
	}
	return w, answer
}

func TestNextjsBridgeAuthenticatesEveryCall(t *testing.T) {
	b, store := newTestBridge(t, nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + bridgeTestSecret, bridgeTestSecret, "Bearer " + bridgeTestSecret + "x"} {
		for _, call := range []string{"revalidate", "tags", "pages"} {
			w, answer := bridgeCall(t, b, "POST", "/_caddy-bff/next/"+call, auth, `{"tags":["posts"]}`)
			if w.Code != http.StatusUnauthorized || answer["success"] != false {
				t.Fatalf("%s with Authorization %q: %d %v", call, auth, w.Code, answer)
			}
		}
	}
	if times, _, _ := store.TagTimes([]string{"posts"}); len(times) != 0 {
		t.Fatalf("an unauthenticated call recorded an invalidation: %v", times)
	}
}

func TestNextjsBridgeRevalidateThenTags(t *testing.T) {
	b, store := newTestBridge(t, nil)
	auth := "Bearer " + bridgeTestSecret
	before := time.Now().UnixMilli()
	w, answer := bridgeCall(t, b, "POST", "/_caddy-bff/next/revalidate", auth, `{"tags":["posts"],"mode":"max"}`)
	if w.Code != http.StatusOK || answer["success"] != true {
		t.Fatalf("revalidate: %d %v", w.Code, answer)
	}
	w, answer = bridgeCall(t, b, "POST", "/_caddy-bff/next/revalidate", auth, `{"tags":["authors"],"mode":{"expire":0}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("revalidate with Next's {expire: 0}: %d %v", w.Code, answer)
	}
	w, answer = bridgeCall(t, b, "POST", "/_caddy-bff/next/tags", auth, `{"tags":["posts","authors","never"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("tags: %d %v", w.Code, answer)
	}
	tags := answer["tags"].(map[string]any)
	posts, authors := tags["posts"].(map[string]any), tags["authors"].(map[string]any)
	if posts["stale"].(float64) < float64(before) || posts["expired"] != nil {
		t.Errorf("posts after a 'max' revalidation: %v", posts)
	}
	if authors["expired"].(float64) < float64(before) || authors["stale"] != nil {
		t.Errorf("authors after {expire: 0}: %v", authors)
	}
	if _, ok := tags["never"]; ok {
		t.Errorf("a tag never revalidated has times: %v", tags["never"])
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("bridge answers must not be cached: Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	_ = store
}

func TestNextjsBridgeRefusesBadCalls(t *testing.T) {
	b, _ := newTestBridge(t, nil)
	auth := "Bearer " + bridgeTestSecret
	cases := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/_caddy-bff/next/purge", `{}`, http.StatusNotFound, "unknown bridge call"},
		{"/_caddy-bff/next/revalidate", `{"tags":["posts"],"mode":"later"}`, http.StatusBadRequest, "mode"},
		{"/_caddy-bff/next/revalidate", `{"tags":[]}`, http.StatusBadRequest, "at least one"},
		{"/_caddy-bff/next/revalidate", `{"tagz":["posts"]}`, http.StatusBadRequest, "unknown field"},
		{"/_caddy-bff/next/revalidate", `{"tags":["posts"]} {}`, http.StatusBadRequest, "trailing"},
		{"/_caddy-bff/next/tags", `{"tags":["a\nb"]}`, http.StatusBadRequest, "tag 0"},
		{"/_caddy-bff/next/tags", `{"tags":[` + strings.Repeat(`"t",`, 1500) + `"t"]}`, http.StatusBadRequest, "too many tags"},
		{"/_caddy-bff/next/pages", `{"path":"posts","tags":["posts"],"generated":1}`, http.StatusBadRequest, "must start with /"},
		{"/_caddy-bff/next/pages", `{"path":"/posts","tags":["posts"]}`, http.StatusBadRequest, "generated"},
		{"/_caddy-bff/next/pages", `{"path":"/posts","tags":["posts"],"generated":1,"x":1}`, http.StatusBadRequest, "unknown field"},
		{"/_caddy-bff/next/tags", `{"tags":["` + strings.Repeat("x", 300<<10) + `"]}`, http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, c := range cases {
		w, answer := bridgeCall(t, b, "POST", c.path, auth, c.body)
		msg, _ := answer["error"].(string)
		if w.Code != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s %.60s: %d %q, want %d containing %q", c.path, c.body, w.Code, msg, c.status, c.want)
		}
	}
	w, _ := bridgeCall(t, b, "GET", "/_caddy-bff/next/tags", auth, "")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
		t.Errorf("GET: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// A revalidation the cache could not record is never acknowledged: Next's
// revalidateTag then fails instead of claiming success.
func TestNextjsBridgeNeverAcknowledgesAnUnrecordedRevalidation(t *testing.T) {
	b, _ := newTestBridge(t, errors.New("redis 10.0.0.9:6379: connection refused"))
	w, answer := bridgeCall(t, b, "POST", "/_caddy-bff/next/revalidate", "Bearer "+bridgeTestSecret, `{"tags":["posts"]}`)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("unrecorded revalidation answered %d %v", w.Code, answer)
	}
	if strings.Contains(w.Body.String(), "10.0.0.9") {
		t.Fatalf("the answer leaks the backend's address: %s", w.Body.String())
	}
}

// A page report indexes the page's tags: a later invalidation of one of
// them reaches the page's entries.
func TestNextjsBridgePageReportIndexesTags(t *testing.T) {
	b, store := newTestBridge(t, nil)
	auth := "Bearer " + bridgeTestSecret
	body := `{"path":"/posts","tags":["_N_T_/layout","_N_T_/posts","posts"],"generated":` + jsonInt(time.Now().UnixMilli()) + `}`
	if w, answer := bridgeCall(t, b, "POST", "/_caddy-bff/next/pages", auth, body); w.Code != http.StatusOK {
		t.Fatalf("pages: %d %v", w.Code, answer)
	}
	// An entry of /posts as tag_cache stores a page of next start: its path
	// tag, no data tags.
	now := time.Now()
	page := &cache.Entry{Key: "http://example.com/posts", PrimaryKey: "http://example.com/posts", Path: "/posts", Status: 200,
		Header: http.Header{}, RequestTime: now, ResponseTime: now, DateValue: now,
		Reuse: cache.Reuse{Lifetime: time.Hour}, Tags: []string{cache.PathTag("/posts")}, Clock: store.Clock().Now()}
	if !store.Put(page) {
		t.Fatal("the page was not stored")
	}
	if w, answer := bridgeCall(t, b, "POST", "/_caddy-bff/next/revalidate", auth, `{"tags":["posts"]}`); w.Code != http.StatusOK {
		t.Fatalf("revalidate: %d %v", w.Code, answer)
	}
	if got := store.Validity(page); got != cache.HardInvalidated {
		t.Fatalf("revalidating posts left the /posts page %v", got)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
