package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stripe/stripe-go/v82/webhook"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
	"github.com/caddy-bff/caddy-bff/internal/passthrough"
)

// With forward, the webhook fronts the app's own revalidate route: the next
// handler here stands for reverse_proxy to that route.

// fakeApp is the app's revalidate route as the next handler: it records
// what reached it and answers with answer.
type fakeApp struct {
	mu     sync.Mutex
	calls  int
	method string
	uri    string
	body   []byte
	length int64
	header http.Header
	// during runs when the app is called, before it answers.
	during func(r *http.Request)
	answer func(w http.ResponseWriter, r *http.Request) error
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.calls++
	a.method, a.uri, a.body, a.length, a.header = r.Method, r.URL.RequestURI(), body, r.ContentLength, r.Header.Clone()
	a.mu.Unlock()
	if a.during != nil {
		a.during(r)
	}
	if a.answer == nil {
		w.Header().Set("Content-Type", "application/json")
		_, err := fmt.Fprintf(w, `{"revalidated":true,"now":%d}`, time.Now().UnixMilli())
		return err
	}
	return a.answer(w, r)
}

func (a *fakeApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// serveNext is serve with a next handler.
func serveNext(t *testing.T, h *Handler, req *http.Request, next caddyhttp.Handler) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, next); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	rep := reply{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &rep.body); err != nil {
		t.Fatalf("body is not a JSON object: %q", rec.Body.String())
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	return rep
}

// upstreamOf returns the reply's "upstream" object.
func upstreamOf(t *testing.T, rep reply) map[string]any {
	t.Helper()
	up, ok := rep.body["upstream"].(map[string]any)
	if !ok {
		t.Fatalf("no upstream object in %s", rep.raw)
	}
	return up
}

// The app revalidates first, then the cache records: while the app's route
// runs, the cached page is still served and the store has recorded
// nothing; once the app answered 2xx, the invalidation is recorded and the
// page is fetched anew. The other order would let a request arriving
// between Caddy's purge and the app's revalidation store the app's old
// page again.
func TestWebhookForwardThenRecord(t *testing.T) {
	store, err := cache.NewStore("test", cache.StoreConfig{MaxSize: 16 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	now := time.Now()
	page := &cache.Entry{Key: "http://example.com/posts", PrimaryKey: "http://example.com/posts", Path: "/posts", Status: 200,
		Header: http.Header{}, RequestTime: now, ResponseTime: now, DateValue: now,
		Reuse: cache.Reuse{Lifetime: time.Minute}, Tags: []string{"posts", cache.PathTag("/posts")}, Clock: store.Clock().Now()}
	if !store.Put(page) {
		t.Fatal("the page was not stored")
	}

	var sawHit, sawUnrecorded bool
	var mark string
	app := &fakeApp{during: func(r *http.Request) {
		sawHit = store.Validity(page) == cache.Valid
		sawUnrecorded = store.Stats().Invalidations == 0
		mark = passthrough.MarkedBy(r)
	}}
	h, logs := newTestWebhook(t, &Handler{Forward: true}, &storeInvalidator{store: store})
	rep := serveNext(t, h, get("/api/revalidate?token="+testSecret+"&tag=posts"), app)
	wantStatus(t, rep, 200, true)
	if app.count() != 1 {
		t.Fatalf("the app was called %d times, want once", app.count())
	}
	if !sawHit || !sawUnrecorded {
		t.Fatalf("while the app revalidated: page still a hit %v, nothing recorded %v; the cache must record only after the app answered", sawHit, sawUnrecorded)
	}
	if n := store.Stats().Invalidations; n != 1 {
		t.Fatalf("after a 200 the store recorded %d invalidations, want 1", n)
	}
	if got := store.Validity(page); got != cache.HardInvalidated {
		t.Fatalf("after the 200 the cached page is %v, want it expired", got)
	}
	if mark != "revalidate_webhook" {
		t.Errorf("the forwarded call is not marked for a cache after the webhook (mark %q)", mark)
	}
	if rep.body["revalidated"] != true || fmt.Sprint(rep.body["tags"]) != "[posts]" {
		t.Errorf("body %s", rep.raw)
	}
	up := upstreamOf(t, rep)
	if up["status"] != float64(200) {
		t.Errorf("upstream status %v", up["status"])
	}
	if b, ok := up["body"].(map[string]any); !ok || b["revalidated"] != true {
		t.Errorf("upstream body %v, want the app's JSON object", up["body"])
	}
	if app.method != "GET" || app.uri != "/api/revalidate?token="+testSecret+"&tag=posts" {
		t.Errorf("the app got %s %s, want the original method and URL", app.method, app.uri)
	}
	if f := logs.All()[0].ContextMap(); f["upstream_status"] != int64(200) || f["outcome"] != "revalidated" {
		t.Errorf("log fields %v", f)
	}
}

// Without forward the webhook stays terminal.
func TestWebhookWithoutForwardIsTerminal(t *testing.T) {
	app := &fakeApp{}
	h, _ := newTestWebhook(t, &Handler{}, &recordingInvalidator{})
	rep := serveNext(t, h, get("/r?token="+testSecret+"&tag=posts"), app)
	wantStatus(t, rep, 200, true)
	if app.count() != 0 {
		t.Fatal("the next handler was called without forward")
	}
	if _, ok := rep.body["upstream"]; ok {
		t.Errorf("an upstream object without forward: %s", rep.raw)
	}
}

// Anything but a 2xx from the app is a 502 that names the app's status,
// and nothing is recorded: the CMS retries, the app gets another chance.
func TestWebhookForwardUpstreamFailures(t *testing.T) {
	cases := []struct {
		name       string
		answer     func(w http.ResponseWriter, r *http.Request) error
		want       []string
		wantStatus any // upstream.status; nil: no upstream object
		notInBody  string
	}{
		{
			name: "app answers 500",
			answer: func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, err := io.WriteString(w, `{"message":"revalidateTag failed"}`)
				return err
			},
			want:       []string{"500", "nothing was recorded"},
			wantStatus: float64(500),
		},
		{
			name: "app answers 401 (its own secret differs)",
			answer: func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusUnauthorized)
				_, err := io.WriteString(w, `{"message":"Invalid secret"}`)
				return err
			},
			want:       []string{"401"},
			wantStatus: float64(401),
		},
		{
			name: "app redirects",
			answer: func(w http.ResponseWriter, r *http.Request) error {
				http.Redirect(w, r, "/api/revalidate/", http.StatusPermanentRedirect)
				return nil
			},
			want:       []string{"308"},
			wantStatus: float64(308),
		},
		{
			// reverse_proxy cannot reach the app: it writes nothing and
			// returns a HandlerError. The cause names internal hosts: it
			// is logged, not sent.
			name: "next returns a HandlerError",
			answer: func(w http.ResponseWriter, r *http.Request) error {
				return caddyhttp.Error(http.StatusBadGateway, errors.New("dial tcp 10.9.8.7:3000: connect: connection refused"))
			},
			want:       []string{"502", "nothing was recorded"},
			wantStatus: float64(502),
			notInBody:  "10.9.8.7",
		},
		{
			name: "next returns a plain error",
			answer: func(w http.ResponseWriter, r *http.Request) error {
				return errors.New("something broke at 10.9.8.7")
			},
			want:       []string{"500"},
			wantStatus: float64(500),
			notInBody:  "10.9.8.7",
		},
		{
			// forward with nothing after it: Caddy's chain ends in a
			// handler that writes nothing. Never an empty 200.
			name:   "nothing after the webhook answers",
			answer: func(w http.ResponseWriter, r *http.Request) error { return nil },
			want:   []string{"nothing after revalidate_webhook", "reverse_proxy"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := &recordingInvalidator{}
			app := &fakeApp{answer: tc.answer}
			h, logs := newTestWebhook(t, &Handler{Forward: true}, inv)
			rep := serveNext(t, h, get("/r?token="+testSecret+"&tag=posts"), app)
			wantStatus(t, rep, http.StatusBadGateway, false)
			if app.count() != 1 {
				t.Fatalf("app called %d times", app.count())
			}
			if inv.count() != 0 {
				t.Fatal("the invalidation was recorded although the app did not answer 2xx")
			}
			msg, _ := rep.body["error"].(string)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q, want it to contain %q", msg, w)
				}
			}
			if tc.notInBody != "" && strings.Contains(rep.raw, tc.notInBody) {
				t.Errorf("the answer leaks the cause: %s", rep.raw)
			}
			if tc.wantStatus == nil {
				if _, ok := rep.body["upstream"]; ok {
					t.Errorf("an upstream object with no upstream answer: %s", rep.raw)
				}
			} else if got := upstreamOf(t, rep)["status"]; got != tc.wantStatus {
				t.Errorf("upstream status %v, want %v", got, tc.wantStatus)
			}
			entries := logs.All()
			if len(entries) != 1 || entries[0].Level != zapcore.ErrorLevel || entries[0].ContextMap()["outcome"] != "upstream_failed" {
				t.Fatalf("want one error line with outcome upstream_failed, got %v", entries)
			}
			if tc.notInBody != "" && !strings.Contains(fmt.Sprint(entries[0].ContextMap()["cause"]), tc.notInBody) {
				t.Errorf("the log line lacks the cause: %v", entries[0].ContextMap())
			}
		})
	}
}

// The app revalidated but the cache could not record: 503 with
// Retry-After, and the message says which half happened.
func TestWebhookForwardNotRecorded(t *testing.T) {
	inv := &recordingInvalidator{err: errors.New("redis 10.9.8.7:6379: connection refused")}
	app := &fakeApp{}
	h, _ := newTestWebhook(t, &Handler{Forward: true}, inv)
	rep := serveNext(t, h, get("/r?token="+testSecret+"&tag=posts"), app)
	wantStatus(t, rep, http.StatusServiceUnavailable, false)
	if rep.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	msg, _ := rep.body["error"].(string)
	if !strings.Contains(msg, "the app revalidated") || !strings.Contains(msg, "not record") || strings.Contains(rep.raw, "10.9.8.7") {
		t.Errorf("503 message %q", msg)
	}
	if up := upstreamOf(t, rep); up["status"] != float64(200) {
		t.Errorf("upstream %v", up)
	}
}

// A call refused by the webhook never reaches the app: a bad request is
// refused before anything is forwarded.
func TestWebhookForwardRefusedCallsStayHere(t *testing.T) {
	inv := &recordingInvalidator{}
	app := &fakeApp{}
	h, _ := newTestWebhook(t, &Handler{Forward: true, MaxBodySize: 64}, inv)
	tok := "token=" + testSecret
	cases := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"no token", get("/r?tag=posts"), 401},
		{"wrong token", get("/r?token=wrong&tag=posts"), 401},
		{"unauthenticated POST", post("/r", `{"tags":["a"]}`), 401},
		{"no tag", get("/r?" + tok), 400},
		{"bad mode", get("/r?" + tok + "&tag=a&mode=purge"), 400},
		{"mode not allowed", get("/r?" + tok + "&tag=a&mode=stale"), 400},
		{"bad body", post("/r?"+tok, `{"tag":["a"]}`), 400},
		{"malformed query", get("/r?" + tok + "&tag=a&x=%zz"), 400},
		{"body too large", post("/r?"+tok, `{"tags":["`+strings.Repeat("x", 100)+`"]}`), 413},
		{"method", httptest.NewRequest(http.MethodPut, "/r?"+tok+"&tag=a", nil), 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := serveNext(t, h, tc.req, app)
			wantStatus(t, rep, tc.status, false)
			if app.count() != 0 {
				t.Fatalf("a refused call reached the app")
			}
			if _, ok := rep.body["upstream"]; ok {
				t.Errorf("an upstream object on a refused call: %s", rep.raw)
			}
		})
	}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, httptest.NewRequest(http.MethodOptions, "/r", nil), app); err != nil || rec.Code != http.StatusNoContent || app.count() != 0 {
		t.Fatalf("OPTIONS: %d %v, app calls %d", rec.Code, err, app.count())
	}
	if inv.count() != 0 {
		t.Fatal("a refused call was recorded")
	}

	// A signature that does not match never reaches the app either.
	now := time.Now()
	signed := signedWebhook(t, "whsec_forward", &signature.Config{Preset: signature.Stripe}, &now, &Handler{Forward: true})
	rep := serveNext(t, signed, signedPost("/r", `{"tags":["a"]}`, map[string]string{"Stripe-Signature": "t=1,v1=00"}), app)
	wantStatus(t, rep, 401, false)
	if app.count() != 0 {
		t.Fatal("an unsigned delivery reached the app")
	}
}

// The app gets the body the caller sent, byte for byte, with the right
// Content-Length, although the webhook read it first; a signed delivery
// still verifies at the app.
func TestWebhookForwardBodyBytes(t *testing.T) {
	inv := &recordingInvalidator{}
	app := &fakeApp{}
	h, _ := newTestWebhook(t, &Handler{Forward: true}, inv)
	body := "{ \"tags\" : [\"posts\", \"post:1\"],\n  \"paths\": [\"/blog\"] }\n"
	req := post("/api/revalidate?token="+testSecret, body)
	req.Header.Set("Accept-Encoding", "gzip, br")
	req.Header.Set("X-Custom", "kept")
	wantStatus(t, serveNext(t, h, req, app), 200, true)
	if string(app.body) != body || app.length != int64(len(body)) {
		t.Fatalf("the app got %q (Content-Length %d), want %q (%d)", app.body, app.length, body, len(body))
	}
	if app.method != "POST" || app.uri != "/api/revalidate?token="+testSecret || app.header.Get("X-Custom") != "kept" {
		t.Errorf("the app got %s %s %v", app.method, app.uri, app.header)
	}
	if got := app.header.Get("Content-Length"); got != "" && got != fmt.Sprint(len(body)) {
		t.Errorf("Content-Length header %q", got)
	}
	// The webhook reads the app's answer: it asks for it uncompressed.
	if got := app.header.Get("Accept-Encoding"); got != "" {
		t.Errorf("Accept-Encoding %q reached the app", got)
	}
	if strings.Join(inv.last(t).Tags, ",") != "posts,post:1" {
		t.Errorf("recorded %+v", inv.last(t))
	}

	// A chunked body (no Content-Length) arrives with its length known.
	chunked := post("/api/revalidate?token="+testSecret, body)
	chunked.ContentLength = -1
	chunked.TransferEncoding = []string{"chunked"}
	wantStatus(t, serveNext(t, h, chunked, app), 200, true)
	if string(app.body) != body || app.length != int64(len(body)) {
		t.Fatalf("chunked: the app got %q (Content-Length %d)", app.body, app.length)
	}

	// Stripe-signed: the app can verify the very same signature.
	const secret = "whsec_forward_body"
	now := time.Now()
	signedApp := &fakeApp{}
	signedApp.answer = func(w http.ResponseWriter, r *http.Request) error {
		if err := webhook.ValidatePayload(signedApp.body, r.Header.Get("Stripe-Signature"), secret); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"error":%q}`, err.Error())
			return nil
		}
		_, err := io.WriteString(w, `{"revalidated":true}`)
		return err
	}
	sh := signedWebhook(t, secret, &signature.Config{Preset: signature.Stripe}, &now, &Handler{Forward: true})
	stripeBody := "{\"tags\": [\"products\"]}\n"
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(stripeBody), Secret: secret, Timestamp: now})
	rep := serveNext(t, sh, signedPost("/hook", stripeBody, map[string]string{"Stripe-Signature": sp.Header}), signedApp)
	if rep.status != 200 || string(signedApp.body) != stripeBody {
		t.Fatalf("signed: %d %s; the app got %q", rep.status, rep.raw, signedApp.body)
	}
}

// A signed delivery the app refused is not remembered: the sender's retry
// goes through (and is not a 409).
func TestWebhookForwardReleasesReplay(t *testing.T) {
	const secret = "whsec_forward_replay"
	now := time.Now()
	fail := true
	app := &fakeApp{answer: func(w http.ResponseWriter, r *http.Request) error {
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return nil
		}
		_, err := io.WriteString(w, `{"revalidated":true}`)
		return err
	}}
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Stripe}, &now, &Handler{Forward: true})
	body := `{"tags":["products"]}`
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: now})
	req := func() *http.Request {
		return signedPost("/hook", body, map[string]string{"Stripe-Signature": sp.Header})
	}
	wantStatus(t, serveNext(t, h, req(), app), http.StatusBadGateway, false)
	fail = false
	wantStatus(t, serveNext(t, h, req(), app), 200, true)
	wantError(t, serveNext(t, h, req(), app), http.StatusConflict, "already processed")
	if app.count() != 2 {
		t.Fatalf("app called %d times, want 2 (the replay stays here)", app.count())
	}
}

// The app's headers never reach the caller: the answer is the webhook's.
func TestWebhookForwardNoReflectedHeaders(t *testing.T) {
	app := &fakeApp{answer: func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		h.Set("Set-Cookie", "session=app; Path=/")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Powered-By", "Next.js")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Type", "text/html")
		h.Set("Location", "https://evil.example/")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		_, err := io.WriteString(w, `{"revalidated":true}`)
		return err
	}}
	for _, status := range []int{200, 503} {
		inv := &recordingInvalidator{}
		if status == 503 {
			inv.err = errors.New("down")
		}
		h, _ := newTestWebhook(t, &Handler{Forward: true}, inv)
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, get("/r?token="+testSecret+"&tag=a"), app); err != nil {
			t.Fatal(err)
		}
		if rec.Code != status {
			t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
		}
		for _, name := range []string{"Set-Cookie", "Access-Control-Allow-Origin", "X-Powered-By", "Location"} {
			if v := rec.Header().Get(name); v != "" {
				t.Errorf("%d: the app's %s %q reached the caller", status, name, v)
			}
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%d: headers %v", status, rec.Header())
		}
	}
}

// The app's body is embedded: JSON as JSON, anything else as a string,
// and an oversize body cut and flagged.
func TestWebhookForwardUpstreamBody(t *testing.T) {
	bodyApp := func(status int, body string) *fakeApp {
		return &fakeApp{answer: func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(status)
			// In several writes, as reverse_proxy copies.
			for len(body) > 0 {
				n := min(len(body), 1000)
				if _, err := io.WriteString(w, body[:n]); err != nil {
					return err
				}
				body = body[n:]
			}
			return nil
		}}
	}
	h, _ := newTestWebhook(t, &Handler{Forward: true}, &recordingInvalidator{})
	call := func(app *fakeApp) map[string]any {
		return upstreamOf(t, serveNext(t, h, get("/r?token="+testSecret+"&tag=a"), app))
	}

	up := call(bodyApp(200, ` {"revalidated": true, "now": 1764361200000, "tags": ["a"]} `))
	if b, ok := up["body"].(map[string]any); !ok || b["revalidated"] != true || b["now"] != float64(1764361200000) {
		t.Errorf("JSON body %v", up["body"])
	}
	if _, ok := up["truncated"]; ok {
		t.Errorf("truncated set on a small body: %v", up)
	}
	if up = call(bodyApp(200, `[1,2]`)); fmt.Sprint(up["body"]) != "[1 2]" {
		t.Errorf("JSON array body %v", up["body"])
	}
	if up = call(bodyApp(200, "revalidated posts\n")); up["body"] != "revalidated posts\n" {
		t.Errorf("text body %#v", up["body"])
	}
	if up = call(bodyApp(500, "<html>Internal Server Error</html>")); up["body"] != "<html>Internal Server Error</html>" || up["status"] != float64(500) {
		t.Errorf("HTML error body %v", up)
	}
	if up = call(bodyApp(204, "")); up["body"] != "" || up["status"] != float64(204) {
		t.Errorf("empty body %#v", up)
	}

	big := `{"revalidated":true,"pad":"` + strings.Repeat("x", 200<<10) + `"}`
	up = call(bodyApp(200, big))
	s, ok := up["body"].(string)
	if !ok || len(s) != webhookUpstreamBodyLimit || !strings.HasPrefix(big, s) {
		t.Errorf("oversize body: %T of %d bytes, want the first %d bytes as a string", up["body"], len(s), webhookUpstreamBodyLimit)
	}
	if up["truncated"] != true {
		t.Errorf("oversize body not flagged: truncated=%v", up["truncated"])
	}
}

// ctxInvalidator fails as a context-aware backend does when the caller's
// context is done.
type ctxInvalidator struct{ recordingInvalidator }

func (c *ctxInvalidator) Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return c.recordingInvalidator.Invalidate(ctx, inv)
}

// A caller that hangs up after the app revalidated does not leave Caddy's
// half undone: the app's cache and Caddy's must not disagree.
func TestWebhookForwardRecordsAfterCallerLeft(t *testing.T) {
	inv := &ctxInvalidator{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := &fakeApp{answer: func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, `{"revalidated":true}`)
		cancel() // the caller is gone by the time the app answered
		return err
	}}
	h, _ := newTestWebhook(t, &Handler{Forward: true}, inv)
	serveNext(t, h, get("/r?token="+testSecret+"&tag=posts").WithContext(ctx), app)
	if inv.count() != 1 {
		t.Fatal("the app revalidated but the cache did not record it once the caller left")
	}
}

// storeInvalidator records invalidations in a real store, as the tag_cache
// app does in single-node mode.
type storeInvalidator struct{ store *cache.Store }

func (s *storeInvalidator) Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error) {
	return s.store.Invalidate(ctx, inv.Tags, inv.Paths, inv.Mode)
}
