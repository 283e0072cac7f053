package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
)

// These unit tests drive the handler directly with an Invalidator of the
// test's choosing: it is the only way to make the cache refuse to record
// (503) until the distributed backend exists. Everything else is also
// exercised through a real Caddy in internal/integration.

const testSecret = "s3cr3t-token-value"

// recordingInvalidator records what it is asked and answers with err.
type recordingInvalidator struct {
	mu    sync.Mutex
	calls []cache.Invalidation
	err   error
}

func (f *recordingInvalidator) Invalidate(_ context.Context, inv cache.Invalidation) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.calls = append(f.calls, inv)
	return uint64(len(f.calls)), nil
}

func (f *recordingInvalidator) last(t *testing.T) cache.Invalidation {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the cache was not asked to invalidate anything")
	}
	return f.calls[len(f.calls)-1]
}

func (f *recordingInvalidator) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// newTestWebhook provisions h around inv and returns it with its logs.
func newTestWebhook(t *testing.T, h *Handler, inv Invalidator) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	if h.Secret == "" {
		h.Secret = testSecret
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	if err := h.setup(inv); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h, logs
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func serve(t *testing.T, h *Handler, req *http.Request) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, nil); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	rep := reply{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &rep.body); err != nil {
			t.Fatalf("body is not a JSON object: %q", rec.Body.String())
		}
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control %q, want no-store", req.Method, req.URL, got)
	}
	return rep
}

func get(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

func post(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func wantStatus(t *testing.T, rep reply, status int, success bool) {
	t.Helper()
	if rep.status != status {
		t.Fatalf("status %d, want %d; body %s", rep.status, status, rep.raw)
	}
	if got, ok := rep.body["success"].(bool); !ok || got != success {
		t.Fatalf("success = %v, want %v; body %s", rep.body["success"], success, rep.raw)
	}
}

// The seed's contract, exactly: 401 without or with a wrong token, 400
// without a tag, 200 {"success":true} otherwise.
func TestWebhookSeedContract(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{}, inv)

	wantStatus(t, serve(t, h, get("/api/revalidate?tag=posts")), 401, false)
	wantStatus(t, serve(t, h, get("/api/revalidate?token=wrong&tag=posts")), 401, false)
	wantStatus(t, serve(t, h, get("/api/revalidate?token="+testSecret[:len(testSecret)-1]+"&tag=posts")), 401, false)
	wantStatus(t, serve(t, h, get("/api/revalidate?token="+testSecret)), 400, false)
	if inv.count() != 0 {
		t.Fatalf("refused calls reached the cache: %d", inv.count())
	}

	rep := serve(t, h, get("/api/revalidate?token="+testSecret+"&tag=posts"))
	wantStatus(t, rep, 200, true)
	if rep.body["revalidated"] != true || rep.body["mode"] != "expire" {
		t.Errorf("success body %s", rep.raw)
	}
	if now, ok := rep.body["now"].(float64); !ok || time.Since(time.UnixMilli(int64(now))) > time.Minute {
		t.Errorf("now = %v, want the current time in ms", rep.body["now"])
	}
	got := inv.last(t)
	if strings.Join(got.Tags, ",") != "posts" || got.Mode != cache.ModeExpire || got.Source != "webhook" || got.Store != "" {
		t.Errorf("invalidation %+v", got)
	}
}

// Acknowledged means recorded: when the cache cannot record, the answer is
// 503 with Retry-After and a JSON body, the cause is logged but not sent.
func TestWebhookNotRecordedIs503(t *testing.T) {
	inv := &recordingInvalidator{err: errors.New("redis 10.9.8.7:6379: connection refused")}
	h, logs := newTestWebhook(t, &Handler{}, inv)

	rep := serve(t, h, get("/api/revalidate?token="+testSecret+"&tag=posts"))
	wantStatus(t, rep, http.StatusServiceUnavailable, false)
	if rep.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if msg, _ := rep.body["error"].(string); msg == "" || strings.Contains(msg, "10.9.8.7") {
		t.Errorf("503 error message %q: want a message without internal details", msg)
	}
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zapcore.ErrorLevel {
		t.Fatalf("want one error log line, got %v", entries)
	}
	if !strings.Contains(fmt.Sprint(entries[0].ContextMap()["cause"]), "connection refused") {
		t.Errorf("log line lacks the cause: %v", entries[0].ContextMap())
	}
}

// The app refusing the request's content (an unknown store, say) is a 400.
func TestWebhookAppRefusalIs400(t *testing.T) {
	inv := &recordingInvalidator{err: &cache.InvalidRequestError{Msg: `tag_cache has no store named "x"`}}
	h, _ := newTestWebhook(t, &Handler{}, inv)
	rep := serve(t, h, get("/api/revalidate?token="+testSecret+"&tag=posts"))
	wantStatus(t, rep, 400, false)
	if !strings.Contains(rep.body["error"].(string), "no store") {
		t.Errorf("error %q", rep.body["error"])
	}
}

func TestWebhookTokenSources(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{TokenHeader: "X-Revalidate-Token", TokenParam: "secret"}, inv)

	r := get("/r?tag=a")
	r.Header.Set("Authorization", "Bearer "+testSecret)
	wantStatus(t, serve(t, h, r), 200, true)

	r = get("/r?tag=a")
	r.Header.Set("Authorization", "bearer "+testSecret) // the scheme is case-insensitive
	wantStatus(t, serve(t, h, r), 200, true)

	r = get("/r?tag=a")
	r.Header.Set("Authorization", "Basic "+testSecret)
	wantStatus(t, serve(t, h, r), 401, false)

	r = get("/r?tag=a")
	r.Header.Set("X-Revalidate-Token", testSecret)
	wantStatus(t, serve(t, h, r), 200, true)

	wantStatus(t, serve(t, h, get("/r?tag=a&secret="+testSecret)), 200, true)
	// The default name is replaced, not added to.
	wantStatus(t, serve(t, h, get("/r?tag=a&token="+testSecret)), 401, false)

	// The first source present is the one checked: a right token further
	// down does not rescue a wrong one, so each request is one guess.
	r = get("/r?tag=a&secret=" + testSecret)
	r.Header.Set("X-Revalidate-Token", "wrong")
	rep := serve(t, h, r)
	wantStatus(t, rep, 401, false)
	if rep.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}

	off, _ := newTestWebhook(t, &Handler{DisableTokenParam: true}, inv)
	wantStatus(t, serve(t, off, get("/r?tag=a&token="+testSecret)), 401, false)
}

func TestWebhookSecretPlaceholder(t *testing.T) {
	t.Setenv("CADDYBFF_TEST_WEBHOOK_SECRET", "from-the-environment")
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{Secret: "{env.CADDYBFF_TEST_WEBHOOK_SECRET}"}, inv)
	wantStatus(t, serve(t, h, get("/r?tag=a&token=from-the-environment")), 200, true)
	wantStatus(t, serve(t, h, get("/r?tag=a&token={env.CADDYBFF_TEST_WEBHOOK_SECRET}")), 401, false)

	empty := &Handler{Secret: "{env.CADDYBFF_TEST_WEBHOOK_UNSET_VARIABLE}", logger: zap.NewNop()}
	err := empty.setup(inv)
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty resolved secret must fail provisioning, got %v", err)
	}
	if err := (&Handler{}).Validate(); err == nil {
		t.Fatal("a missing secret must fail validation")
	}
}

func TestWebhookTagsAndPaths(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{AllowModeOverride: true}, inv)
	tok := "token=" + testSecret

	wantStatus(t, serve(t, h, get("/r?"+tok+"&tag=a,b&tag=c&tag=a&path=/blog,/blog/x&tag=%20d%20")), 200, true)
	got := inv.last(t)
	if strings.Join(got.Tags, "|") != "a|b|c|d" || strings.Join(got.Paths, "|") != "/blog|/blog/x" {
		t.Errorf("tags %q paths %q", got.Tags, got.Paths)
	}

	rep := serve(t, h, post("/r?"+tok+"&tag=q", `{"tags":["x","y"],"paths":["/p"],"mode":"stale"}`))
	wantStatus(t, rep, 200, true)
	got = inv.last(t)
	if strings.Join(got.Tags, "|") != "q|x|y" || strings.Join(got.Paths, "|") != "/p" || got.Mode != cache.ModeStale {
		t.Errorf("invalidation %+v", got)
	}
	if rep.body["mode"] != "stale" {
		t.Errorf("mode in reply %v", rep.body["mode"])
	}

	// A POST without a body is the query alone.
	wantStatus(t, serve(t, h, post("/r?"+tok+"&tag=q&mode=stale", "")), 200, true)
	if inv.last(t).Mode != cache.ModeStale {
		t.Error("mode query parameter ignored")
	}

	bad := []struct{ name, target, body, want string }{
		{"no tag", "/r?" + tok, "", "at least one tag or path"},
		{"empty tag", "/r?" + tok + "&tag=", "", "at least one tag or path"},
		{"tag too long", "/r?" + tok + "&tag=" + strings.Repeat("t", cache.MaxTagLength+1), "", "at most 256"},
		{"control character", "/r?" + tok + "&tag=a%01b", "", "control characters"},
		{"relative path", "/r?" + tok + "&path=blog", "", "must start with /"},
		{"bad mode", "/r?" + tok + "&tag=a&mode=purge", "", `mode must be "expire", "stale" or "max"`},
		{"two modes", "/r?" + tok + "&tag=a&mode=stale&mode=expire", "", "more than once"},
		{"malformed query", "/r?" + tok + "&tag=a&x=%zz", "", "malformed query"},
		{"unknown field", "/r?" + tok, `{"tag":["a"]}`, `unknown field "tag"`},
		{"wrong type", "/r?" + tok, `{"tags":"a"}`, `"tags" must be an array of strings`},
		{"not an object", "/r?" + tok, `["a"]`, "must be a JSON object"},
		{"invalid JSON", "/r?" + tok, `{"tags":[`, "JSON"},
		{"two values", "/r?" + tok, `{"tags":["a"]} {}`, "more than one JSON value"},
		{"modes disagree", "/r?" + tok + "&mode=stale", `{"tags":["a"],"mode":"expire"}`, "different modes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			if tc.body == "" {
				req = get(tc.target)
			} else {
				req = post(tc.target, tc.body)
			}
			rep := serve(t, h, req)
			wantStatus(t, rep, 400, false)
			if msg, _ := rep.body["error"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
		})
	}

	var many []string
	for i := range cache.MaxInvalidationItems + 1 {
		many = append(many, fmt.Sprintf(`"t%d"`, i))
	}
	rep = serve(t, h, post("/r?"+tok, `{"tags":[`+strings.Join(many, ",")+`]}`))
	wantStatus(t, rep, 400, false)
	if !strings.Contains(rep.body["error"].(string), "too many tags and paths: 1025, at most 1024") {
		t.Errorf("error %q", rep.body["error"])
	}
}

func TestWebhookLimits(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{MaxBodySize: 64, MaxItems: 2}, inv)
	tok := "token=" + testSecret

	rep := serve(t, h, post("/r?"+tok, `{"tags":["`+strings.Repeat("x", 100)+`"]}`))
	wantStatus(t, rep, http.StatusRequestEntityTooLarge, false)
	if !strings.Contains(rep.body["error"].(string), "larger than 64 bytes") {
		t.Errorf("error %q", rep.body["error"])
	}
	rep = serve(t, h, get("/r?"+tok+"&tag=a,b,c"))
	wantStatus(t, rep, 400, false)
	if !strings.Contains(rep.body["error"].(string), "too many tags and paths: 3, at most 2") {
		t.Errorf("error %q", rep.body["error"])
	}
	// Duplicates do not count against the limit.
	wantStatus(t, serve(t, h, get("/r?"+tok+"&tag=a,b,a,b")), 200, true)

	// An unauthenticated caller's body is never read.
	wantStatus(t, serve(t, h, post("/r", strings.Repeat("x", 100))), 401, false)
}

func TestWebhookModeOverride(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{Mode: cache.ModeStale}, inv)
	tok := "token=" + testSecret

	wantStatus(t, serve(t, h, get("/r?"+tok+"&tag=a")), 200, true)
	if inv.last(t).Mode != cache.ModeStale {
		t.Error("directive mode not applied")
	}
	// Asking for the configured mode is fine; another one is refused.
	wantStatus(t, serve(t, h, get("/r?"+tok+"&tag=a&mode=stale")), 200, true)
	rep := serve(t, h, post("/r?"+tok, `{"tags":["a"],"mode":"expire"}`))
	wantStatus(t, rep, 400, false)
	if !strings.Contains(rep.body["error"].(string), "allow_mode_override") {
		t.Errorf("error %q", rep.body["error"])
	}
}

// DatoCMS' cache-tags webhook, read through tags_from.
func TestWebhookTagsFromPayload(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{
		TagsFrom:  []string{"$.entity.attributes.tags"},
		PathsFrom: []string{"related_entities.*.attributes.path"},
	}, inv)
	dato := `{
	  "entity_type": "cda_cache_tags",
	  "event_type": "invalidate",
	  "entity": {"id": "cda_cache_tags", "type": "cda_cache_tags",
	             "attributes": {"tags": ["N*r;L", "6-KZ@", "t#k[uP"]}},
	  "related_entities": [{"attributes": {"path": "/blog"}}, {"attributes": {}}]
	}`
	wantStatus(t, serve(t, h, post("/r?token="+testSecret, dato)), 200, true)
	got := inv.last(t)
	if strings.Join(got.Tags, " ") != "N*r;L 6-KZ@ t#k[uP" || strings.Join(got.Paths, " ") != "/blog" {
		t.Errorf("invalidation %+v", got)
	}
	// Query tags add to the payload's.
	wantStatus(t, serve(t, h, post("/r?token="+testSecret+"&tag=extra", dato)), 200, true)
	if n := len(inv.last(t).Tags); n != 4 {
		t.Errorf("%d tags, want 4", n)
	}
	// The payload's shape is not the native one: unknown fields are fine,
	// but a value of the wrong type at a configured path is a precise 400.
	rep := serve(t, h, post("/r?token="+testSecret, `{"entity":{"attributes":{"tags":[1]}}}`))
	wantStatus(t, rep, 400, false)
	if !strings.Contains(rep.body["error"].(string), "element 0 is a JSON number") {
		t.Errorf("error %q", rep.body["error"])
	}
	wantStatus(t, serve(t, h, post("/r?token="+testSecret, `{"other":true}`)), 400, false)
}

func TestWebhookIgnoreBody(t *testing.T) {
	inv := &recordingInvalidator{}
	h, _ := newTestWebhook(t, &Handler{IgnoreBody: true}, inv)
	wantStatus(t, serve(t, h, post("/r?token="+testSecret+"&tag=docs", `{"ref":"refs/heads/main"}`)), 200, true)
	if strings.Join(inv.last(t).Tags, ",") != "docs" {
		t.Errorf("tags %v", inv.last(t).Tags)
	}
}

// One log line per call, at a level that matches the outcome, with counts
// and never the secret or the token.
func TestWebhookLogsOneLinePerCall(t *testing.T) {
	inv := &recordingInvalidator{}
	h, logs := newTestWebhook(t, &Handler{}, inv)
	calls := []*http.Request{
		get("/r?token=" + testSecret + "&tag=a,b&path=/x"),
		get("/r?token=wrong-token-guess&tag=a"),
		get("/r?token=" + testSecret),
		httptest.NewRequest(http.MethodOptions, "/r", nil),
		httptest.NewRequest(http.MethodDelete, "/r?token="+testSecret, nil),
	}
	for _, r := range calls {
		serve(t, h, r)
	}
	entries := logs.All()
	if len(entries) != len(calls) {
		t.Fatalf("%d log lines for %d calls", len(entries), len(calls))
	}
	wantOutcomes := []string{"revalidated", "unauthorized", "bad_request", "options", "method_not_allowed"}
	for i, e := range entries {
		fields := e.ContextMap()
		if fields["outcome"] != wantOutcomes[i] {
			t.Errorf("line %d: outcome %v, want %s", i, fields["outcome"], wantOutcomes[i])
		}
		text := e.Message + fmt.Sprint(fields)
		for _, secret := range []string{testSecret, "wrong-token-guess"} {
			if strings.Contains(text, secret) {
				t.Errorf("line %d logs a token: %s", i, text)
			}
		}
	}
	first := entries[0].ContextMap()
	if first["tags"] != int64(2) || first["paths"] != int64(1) || first["status"] != int64(200) || first["auth"] != "query" {
		t.Errorf("first line fields %v", first)
	}
	if entries[1].Level != zapcore.WarnLevel {
		t.Errorf("unauthorized call logged at %v", entries[1].Level)
	}
}

func TestWebhookMethods(t *testing.T) {
	h, _ := newTestWebhook(t, &Handler{}, &recordingInvalidator{})
	rep := serve(t, h, httptest.NewRequest(http.MethodOptions, "/r", nil))
	if rep.status != http.StatusNoContent || rep.header.Get("Allow") != "GET, HEAD, OPTIONS, POST" {
		t.Errorf("OPTIONS: %d Allow %q", rep.status, rep.header.Get("Allow"))
	}
	rep = serve(t, h, httptest.NewRequest(http.MethodPut, "/r", nil))
	wantStatus(t, rep, http.StatusMethodNotAllowed, false)
	if rep.header.Get("Allow") != "GET, HEAD, OPTIONS, POST" {
		t.Errorf("405 Allow %q", rep.header.Get("Allow"))
	}
}

func TestWebhookValidate(t *testing.T) {
	bad := map[string]*Handler{
		"secret is required":            {},
		"mode must be":                  {Secret: "x", Mode: "purge"},
		"max_items must be":             {Secret: "x", MaxItems: cache.MaxInvalidationItems + 1},
		"exclude each other":            {Secret: "x", IgnoreBody: true, TagsFrom: []string{"a"}},
		"token_header has no effect":    {Secret: "x", TokenHeader: "X-T", Signature: &signature.Config{Preset: signature.GitHub}},
		"preset must be one of":         {Secret: "x", Signature: &signature.Config{Preset: "paypal"}},
		"belong to the hmac preset":     {Secret: "x", Signature: &signature.Config{Preset: signature.GitHub, Header: "X"}},
		"needs the header":              {Secret: "x", Signature: &signature.Config{Preset: signature.HMAC}},
		"algorithm must be":             {Secret: "x", Signature: &signature.Config{Preset: signature.HMAC, Header: "X", Algorithm: "md5"}},
		"encoding must be hex or base6": {Secret: "x", Signature: &signature.Config{Preset: signature.HMAC, Header: "X", Encoding: "b32"}},
	}
	for want, h := range bad {
		err := h.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want an error containing %q", err, want)
		}
	}
	err := (&Handler{Secret: "not base64!", logger: zap.NewNop(), Signature: &signature.Config{Preset: signature.StandardWebhooks}}).setup(&recordingInvalidator{})
	if err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("a standard_webhooks secret that is not base64: %v", err)
	}
	err = (&Handler{Secret: "x", logger: zap.NewNop(), TagsFrom: []string{"a..b"}}).setup(&recordingInvalidator{})
	if err == nil || !strings.Contains(err.Error(), "empty segment") {
		t.Errorf("a bad JSON path: %v", err)
	}
}
