package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
)

// Every preset is checked against signatures made elsewhere: Stripe's own
// test-payload generator, the Standard Webhooks, GitHub and @sanity/webhook
// published test vectors, and, for Shopify, Sanity, Contentful and the
// generic HMAC, the vendor's documented algorithm written out independently
// here (the signed string spelled literally, not built by the production
// code).

// signedWebhook provisions a webhook with a signature preset and a clock
// the test controls.
func signedWebhook(t *testing.T, secret string, sig *signature.Config, now *time.Time, h *Handler) *Handler {
	t.Helper()
	if h == nil {
		h = &Handler{}
	}
	h.Secret = secret
	h.Signature = sig
	h.now = func() time.Time { return *now }
	wh, _ := newTestWebhook(t, h, &recordingInvalidator{})
	return wh
}

func signedPost(target, body string, headers map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func wantError(t *testing.T, rep reply, status int, contains string) {
	t.Helper()
	wantStatus(t, rep, status, false)
	if msg, _ := rep.body["error"].(string); !strings.Contains(msg, contains) {
		t.Fatalf("error %q, want it to contain %q", msg, contains)
	}
}

func TestSignatureStripe(t *testing.T) {
	const secret = "whsec_stripe_test_0123456789"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Stripe}, &now, nil)

	body := `{"tags":["products"]}`
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: now})
	req := func(header, body string) *http.Request {
		return signedPost("/hook", body, map[string]string{"Stripe-Signature": header})
	}
	wantStatus(t, serve(t, h, req(signed.Header, body)), 200, true)
	wantError(t, serve(t, h, req(signed.Header, body)), http.StatusConflict, "already processed")

	// Tampered body, wrong secret, missing header, malformed header.
	wantError(t, serve(t, h, req(signed.Header, `{"tags":["other"]}`)), 401, "no v1 signature matches")
	other := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: "whsec_other", Timestamp: now})
	wantError(t, serve(t, h, req(other.Header, body)), 401, "no v1 signature matches")
	wantError(t, serve(t, h, signedPost("/hook", body, nil)), 401, "missing Stripe-Signature")
	wantError(t, serve(t, h, req("v1=abc", body)), 401, "no timestamp")

	// Outside the tolerance either way.
	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: now.Add(-6 * time.Minute)})
	wantError(t, serve(t, h, req(old.Header, body)), 401, "older than")
	future := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: now.Add(6 * time.Minute)})
	wantError(t, serve(t, h, req(future.Header, body)), 401, "future")

	// While a secret rolls, the header lists several v1 signatures (and
	// maybe a v0): any match will do.
	body2 := `{"tags":["products"],"paths":["/shop"]}`
	rolled := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body2), Secret: secret, Timestamp: now.Add(-time.Minute)})
	stale := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body2), Secret: "whsec_old", Timestamp: now.Add(-time.Minute)})
	v1 := strings.SplitN(rolled.Header, "v1=", 2)[1]
	oldV1 := strings.SplitN(stale.Header, "v1=", 2)[1]
	header := fmt.Sprintf("t=%d,v1=%s,v0=deadbeef,v1=%s", now.Add(-time.Minute).Unix(), oldV1, v1)
	wantStatus(t, serve(t, h, req(header, body2)), 200, true)
}

// The Standard Webhooks specification's published test vector.
func TestSignatureStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = "1614265330"
		body   = `{"test": 2432232314}`
		sig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	now := time.Unix(1614265330, 0).Add(30 * time.Second)
	inv := &recordingInvalidator{}
	h := &Handler{IgnoreBody: true, Secret: secret, Signature: &signature.Config{Preset: signature.StandardWebhooks}}
	h.now = func() time.Time { return now }
	h, _ = newTestWebhook(t, h, inv)
	req := func(target, sigs string) *http.Request {
		return signedPost(target, body, map[string]string{"Webhook-Id": id, "Webhook-Timestamp": ts, "Webhook-Signature": sigs})
	}

	// Verified but refused for its content: the delivery is not
	// remembered, so the sender's corrected retry goes through.
	wantError(t, serve(t, h, req("/hook", sig)), 400, "at least one tag")
	// The cache cannot record it: 503, and the retry is not a replay.
	inv.err = errors.New("backend down")
	wantStatus(t, serve(t, h, req("/hook?tag=users", sig)), 503, false)
	inv.err = nil
	// Several signatures, one of them unknown-version and one wrong.
	wantStatus(t, serve(t, h, req("/hook?tag=users", "v1a,abc v1,bm9wZQ== "+sig)), 200, true)
	// Retries keep the webhook-id: once acknowledged it is a replay.
	wantError(t, serve(t, h, req("/hook?tag=users", sig)), http.StatusConflict, "already processed")

	wantError(t, serve(t, h, signedPost("/hook?tag=a", body, map[string]string{"Webhook-Id": "other", "Webhook-Timestamp": ts, "Webhook-Signature": sig})), 401, "no v1 signature matches")
	wantError(t, serve(t, h, signedPost("/hook?tag=a", body, map[string]string{"Webhook-Id": id, "Webhook-Signature": sig})), 401, "missing webhook-id")
	now = now.Add(10 * time.Minute)
	wantError(t, serve(t, h, req("/hook?tag=a", sig)), 401, "older than")
}

// GitHub's published test vector.
func TestSignatureGitHubVector(t *testing.T) {
	now := time.Now()
	h := signedWebhook(t, "It's a Secret to Everybody", &signature.Config{Preset: signature.GitHub, AllowUnsignedQuery: true}, &now, &Handler{IgnoreBody: true})
	const good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	req := func(body, sig string) *http.Request {
		return signedPost("/hook?tag=docs", body, map[string]string{"X-Hub-Signature-256": sig, "X-GitHub-Delivery": "1"})
	}
	wantError(t, serve(t, h, req("Hello, World?", good)), 401, "does not match")
	wantError(t, serve(t, h, req("Hello, World!", strings.TrimPrefix(good, "sha256="))), 401, `does not start with "sha256="`)
	wantError(t, serve(t, h, req("Hello, World!", "sha256=zz")), 401, "not a well-formed signature")
	wantStatus(t, serve(t, h, req("Hello, World!", good)), 200, true)
	// GitHub signs no timestamp: the signature is remembered for the
	// replay retention (24h by default), then forgotten (bounded memory).
	now = now.Add(time.Minute)
	wantError(t, serve(t, h, req("Hello, World!", good)), http.StatusConflict, "already processed")
	now = now.Add(6 * time.Hour)
	wantError(t, serve(t, h, req("Hello, World!", good)), http.StatusConflict, "already processed")
	now = now.Add(signature.DefaultReplayRetention)
	wantStatus(t, serve(t, h, req("Hello, World!", good)), 200, true)
}

// TestWebhookUnsignedQueryRefused: a genuine GitHub delivery captured and
// replayed after the tolerance with `?tag=everything,home&path=/` purged
// all of it. For presets without a signed timestamp the query cannot
// choose tags, paths or mode unless allowed, and deliveries are remembered
// for 24 hours by default.
func TestWebhookUnsignedQueryRefused(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	const good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	for _, preset := range []string{signature.GitHub, signature.Shopify, signature.HMAC} {
		now := time.Now()
		sig := &signature.Config{Preset: preset}
		headers := map[string]string{"X-Hub-Signature-256": good}
		body := "Hello, World!"
		switch preset {
		case signature.Shopify:
			body = `{"tags":"posts"}`
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(body))
			headers = map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(m.Sum(nil))}
		case signature.HMAC:
			sig.Header, sig.Prefix = "X-Hub-Signature-256", "sha256="
		}
		inv := &recordingInvalidator{}
		wh := &Handler{Secret: secret, Signature: sig, TagsFrom: []string{"tags"}}
		if preset != signature.Shopify {
			wh.TagsFrom, wh.IgnoreBody = nil, true
		}
		wh.now = func() time.Time { return now }
		h, _ := newTestWebhook(t, wh, inv)
		for _, q := range []string{"?tag=everything,home&path=/", "?path=/", "?mode=stale", "?tag="} {
			rep := serve(t, h, signedPost("/hook"+q, body, headers))
			wantError(t, rep, http.StatusBadRequest, "does not cover the query string")
		}
		if len(inv.calls) != 0 {
			t.Fatalf("%s: an unsigned query was acknowledged: %v", preset, inv.calls)
		}
		if preset == signature.Shopify {
			// The signed body alone is accepted, and remembered past the
			// tolerance: a copy a day later is still refused.
			wantStatus(t, serve(t, h, signedPost("/hook", body, headers)), 200, true)
			now = now.Add(23 * time.Hour)
			wantError(t, serve(t, h, signedPost("/hook", body, headers)), http.StatusConflict, "already processed")
		}
	}
	// allow_unsigned_query makes no sense with a signed timestamp.
	if err := (&signature.Config{Preset: signature.Stripe, AllowUnsignedQuery: true}).Validate(); err == nil {
		t.Fatal("allow_unsigned_query accepted with stripe")
	}
	// A retention shorter than the timestamp window is refused.
	if err := (&signature.Config{Preset: signature.Stripe, ReplayRetention: caddy.Duration(time.Minute)}).Validate(); err == nil {
		t.Fatal("replay_retention 1m accepted with a 5m tolerance")
	}
}

// Shopify: base64 of HMAC-SHA256 over the raw body, keyed with the app's
// client secret.
func TestSignatureShopify(t *testing.T) {
	const secret = "shpss_0123456789abcdef"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Shopify}, &now, &Handler{TagsFrom: []string{"handle"}})
	body := `{"id":788032119674292922,"title":"Example T-Shirt","handle":"example-t-shirt","tags":"a, b"}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))

	wantStatus(t, serve(t, h, signedPost("/hook", body, map[string]string{"X-Shopify-Hmac-Sha256": sig})), 200, true)
	wantError(t, serve(t, h, signedPost("/hook", body+" ", map[string]string{"X-Shopify-Hmac-Sha256": sig})), 401, "does not match")
	wantError(t, serve(t, h, signedPost("/hook", body, nil)), 401, "missing X-Shopify-Hmac-Sha256")
}

// Sanity: `t=<unix ms>,v1=<unpadded base64url of HMAC-SHA256("<t>.<body>")>`.
func TestSignatureSanity(t *testing.T) {
	const secret = "sanity-webhook-secret"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Sanity}, &now, &Handler{TagsFrom: []string{"_type", "tags"}})
	body := `{"_id":"post-1","_type":"post","tags":["post:post-1"]}`
	sign := func(ms int64, body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(strconv.FormatInt(ms, 10) + "." + body))
		enc := base64.StdEncoding.EncodeToString(m.Sum(nil))
		enc = strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(enc)
		return "t=" + strconv.FormatInt(ms, 10) + ",v1=" + enc
	}
	req := func(header string) *http.Request {
		return signedPost("/hook", body, map[string]string{"Sanity-Webhook-Signature": header})
	}
	header := sign(now.UnixMilli(), body)
	rep := serve(t, h, req(header))
	wantStatus(t, rep, 200, true)
	if fmt.Sprint(rep.body["tags"]) != "[post post:post-1]" {
		t.Errorf("tags %v", rep.body["tags"])
	}
	wantError(t, serve(t, h, req(header)), http.StatusConflict, "already processed")
	wantError(t, serve(t, h, req(sign(now.UnixMilli(), body+" "))), 401, "does not match")
	wantError(t, serve(t, h, req(sign(now.Add(-time.Hour).UnixMilli(), body))), 401, "older than")
	wantError(t, serve(t, h, req("v1=abc")), 401, "malformed")
}

// Contentful request signing: hex HMAC-SHA256 of
// "METHOD\npath\nsigned headers\nbody", headers lower-cased, sorted and
// written name:value joined by ';'.
func TestSignatureContentful(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Contentful}, &now, &Handler{TagsFrom: []string{"sys.contentType.sys.id", "metadata.tags.*.sys.id"}})
	body := `{"sys":{"id":"5KsDBWseXY6QegucYAoacS","type":"Entry","contentType":{"sys":{"id":"blogPost"}}},"metadata":{"tags":[{"sys":{"id":"featured"}}]}}`
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	canonical := "POST\n/api/revalidate\n" +
		"x-contentful-signed-headers:x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic;" +
		"x-contentful-timestamp:" + ms + ";" +
		"x-contentful-topic:ContentManagement.Entry.publish\n" + body
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	sig := hex.EncodeToString(m.Sum(nil))
	headers := func() map[string]string {
		return map[string]string{
			"X-Contentful-Signature":      sig,
			"X-Contentful-Timestamp":      ms,
			"X-Contentful-Signed-Headers": "x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic",
			"X-Contentful-Topic":          "ContentManagement.Entry.publish",
		}
	}

	tampered := headers()
	tampered["X-Contentful-Topic"] = "ContentManagement.Entry.unpublish"
	wantError(t, serve(t, h, signedPost("/api/revalidate", body, tampered)), 401, "does not match")
	unsignedTime := headers()
	unsignedTime["X-Contentful-Signed-Headers"] = "x-contentful-signed-headers,x-contentful-topic"
	wantError(t, serve(t, h, signedPost("/api/revalidate", body, unsignedTime)), 401, "must cover x-contentful-timestamp")
	wantError(t, serve(t, h, signedPost("/api/other", body, headers())), 401, "does not match")

	rep := serve(t, h, signedPost("/api/revalidate", body, headers()))
	wantStatus(t, rep, 200, true)
	if fmt.Sprint(rep.body["tags"]) != "[blogPost featured]" {
		t.Errorf("tags %v", rep.body["tags"])
	}
	wantError(t, serve(t, h, signedPost("/api/revalidate", body, headers())), http.StatusConflict, "already processed")
}

func TestSignatureGenericHMAC(t *testing.T) {
	const secret = "generic-secret"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.HMAC, Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512="}, &now, nil)
	body := `{"tags":["generic"]}`
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(body))
	sum := m.Sum(nil)
	wantStatus(t, serve(t, h, signedPost("/hook", body, map[string]string{"X-Signature": "sha512=" + base64.StdEncoding.EncodeToString(sum)})), 200, true)
	// The URL alphabet without padding names the same bytes: still the
	// same delivery.
	wantError(t, serve(t, h, signedPost("/hook", body, map[string]string{"X-Signature": "sha512=" + base64.RawURLEncoding.EncodeToString(sum)})), http.StatusConflict, "already processed")
	wantError(t, serve(t, h, signedPost("/hook", body, map[string]string{"X-Signature": "sha512=" + hex.EncodeToString(sum)})), 401, "X-Signature")
}

// With a signature preset, a token is no credential.
func TestSignatureIgnoresTokens(t *testing.T) {
	now := time.Now()
	h := signedWebhook(t, testSecret, &signature.Config{Preset: signature.GitHub}, &now, nil)
	r := signedPost("/hook?tag=a&token="+testSecret, "", map[string]string{"Authorization": "Bearer " + testSecret})
	wantError(t, serve(t, h, r), 401, "missing X-Hub-Signature-256")
}

// Two copies of one delivery arriving together: exactly one is
// acknowledged, the other is a replay.
func TestSignatureConcurrentReplay(t *testing.T) {
	const secret = "concurrent-secret"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Stripe}, &now, nil)
	body := `{"tags":["race"]}`
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: now})
	const n = 16
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			_ = h.ServeHTTP(rec, signedPost("/hook", body, map[string]string{"Stripe-Signature": signed.Header}), nil)
			statuses <- rec.Code
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 200 and %d 409", count, n-1)
	}
}

// The published test vectors of @sanity/webhook, Sanity's own toolkit.
func TestSignatureSanityVendorVectors(t *testing.T) {
	vectors := []struct{ secret, body, header string }{
		{"test", `{"_id":"resume"}`, "t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0"},
		{"try-me", `{"title":"GROQ-Hooks are neat"}`, "t=1633518820676, v1=e7C9h2sfbFfc4V7TEz7PSOp4IoNzl0UdVsBV-1wgdeA"},
	}
	for _, v := range vectors {
		ms, _ := strconv.ParseInt(v.header[2:15], 10, 64)
		now := time.UnixMilli(ms).Add(time.Second)
		h := signedWebhook(t, v.secret, &signature.Config{Preset: signature.Sanity}, &now, &Handler{IgnoreBody: true})
		// The vector's timestamp one millisecond off does not verify.
		off := strings.Replace(v.header, v.header[2:15], strconv.FormatInt(ms-1, 10), 1)
		wantError(t, serve(t, h, signedPost("/hook?tag=sanity", v.body, map[string]string{"Sanity-Webhook-Signature": off})), 401, "does not match")
		wantStatus(t, serve(t, h, signedPost("/hook?tag=sanity", v.body, map[string]string{"Sanity-Webhook-Signature": v.header})), 200, true)
	}
}

// With a query string, the canonical path is the toolkit's: the query
// escaped as one component, then the whole target URI-encoded, so
// "/api/revalidate?tag=extra" is signed as "/api/revalidate?tag%253Dextra".
func TestSignatureContentfulQuery(t *testing.T) {
	const secret = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	now := time.Now()
	h := signedWebhook(t, secret, &signature.Config{Preset: signature.Contentful}, &now, &Handler{IgnoreBody: true})
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	body := `{"sys":{"id":"x"}}`
	canonical := "POST\n/api/revalidate?tag%253Dextra\n" +
		"x-contentful-signed-headers:x-contentful-signed-headers,x-contentful-timestamp;" +
		"x-contentful-timestamp:" + ms + "\n" + body
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	headers := map[string]string{
		"X-Contentful-Signature":      hex.EncodeToString(m.Sum(nil)),
		"X-Contentful-Timestamp":      ms,
		"X-Contentful-Signed-Headers": "x-contentful-signed-headers,x-contentful-timestamp",
	}
	wantError(t, serve(t, h, signedPost("/api/revalidate?tag=other", body, headers)), 401, "does not match")
	rep := serve(t, h, signedPost("/api/revalidate?tag=extra", body, headers))
	wantStatus(t, rep, 200, true)
	if fmt.Sprint(rep.body["tags"]) != "[extra]" {
		t.Errorf("tags %v", rep.body["tags"])
	}
}

// TestWebhookTagsSplitAsSourceDefines: acknowledged means purged. Shopify
// stores product tags as one comma-separated string and Stripe metadata
// values are strings: both are split and trimmed. A tag no cache entry
// could ever carry is refused with 400, never acknowledged, and the
// sender's retry of that delivery is not taken for a replay.
func TestWebhookTagsSplitAsSourceDefines(t *testing.T) {
	const secret = "shpss_0123456789abcdef"
	now := time.Now()
	shopifySig := func(body string) map[string]string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(m.Sum(nil)), "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}
	}
	inv := &recordingInvalidator{}
	wh := &Handler{Secret: secret, Signature: &signature.Config{Preset: signature.Shopify}, TagsFrom: []string{"tags"}}
	wh.now = func() time.Time { return now }
	h, _ := newTestWebhook(t, wh, inv)
	body := `{"id":788032119674292922,"title":"Example T-Shirt","tags":"posts, summer-sale"}`
	rep := serve(t, h, signedPost("/hook", body, shopifySig(body)))
	wantStatus(t, rep, 200, true)
	if got := inv.last(t).Tags; strings.Join(got, "|") != "posts|summer-sale" {
		t.Fatalf("Shopify tags %q, want [posts summer-sale]", got)
	}

	// Stripe metadata.
	const stripeSecret = "whsec_stripe_test_0123456789"
	sinv := &recordingInvalidator{}
	swh := &Handler{Secret: stripeSecret, Signature: &signature.Config{Preset: signature.Stripe}, TagsFrom: []string{"data.object.metadata.cache_tags"}}
	swh.now = func() time.Time { return now }
	sh, _ := newTestWebhook(t, swh, sinv)
	sbody := `{"id":"evt_1","type":"product.updated","data":{"object":{"id":"prod_1","metadata":{"cache_tags":"posts,products"}}}}`
	header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(sbody), Secret: stripeSecret, Timestamp: now}).Header
	wantStatus(t, serve(t, sh, signedPost("/hook", sbody, map[string]string{"Stripe-Signature": header})), 200, true)
	if got := sinv.last(t).Tags; strings.Join(got, "|") != "posts|products" {
		t.Fatalf("Stripe tags %q, want [posts products]", got)
	}

	// The native body names tags one by one: one that holds a comma and a
	// space could never be carried by an entry.
	ninv := &recordingInvalidator{}
	nwh := &Handler{Secret: secret, Signature: &signature.Config{Preset: signature.Shopify}}
	nwh.now = func() time.Time { return now }
	nh, _ := newTestWebhook(t, nwh, ninv)
	for _, nbody := range []string{`{"tags":["posts, summer-sale"]}`, `{"tags":[" posts"]}`, `{"tags":["posts "]}`} {
		for attempt := 0; attempt < 2; attempt++ { // the retry is refused the same way, not as a replay
			wantError(t, serve(t, nh, signedPost("/hook", nbody, shopifySig(nbody))), http.StatusBadRequest, "no cache entry can carry it")
		}
	}
	if len(ninv.calls) != 0 {
		t.Fatalf("uncarryable tags were acknowledged: %v", ninv.calls)
	}
}

// TestSignatureHMACIDHeader: a sender without a signed timestamp that
// signs the same body twice is told apart by its delivery id when
// id_header names it; without it the second delivery is a copy for the
// whole replay retention.
func TestSignatureHMACIDHeader(t *testing.T) {
	const secret = "generic-hmac-secret"
	body := `{"tags":["posts"]}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	sig := hex.EncodeToString(m.Sum(nil))
	send := func(h *Handler, id string) reply {
		headers := map[string]string{"X-Signature": sig}
		if id != "" {
			headers["X-Delivery"] = id
		}
		return serve(t, h, signedPost("/hook", body, headers))
	}
	now := time.Now()
	with := signedWebhook(t, secret, &signature.Config{Preset: signature.HMAC, Header: "X-Signature", IDHeader: "X-Delivery"}, &now, nil)
	wantStatus(t, send(with, "1"), 200, true)
	wantStatus(t, send(with, "2"), 200, true)
	wantError(t, send(with, "2"), http.StatusConflict, "already processed")
	without := signedWebhook(t, secret+"-2", &signature.Config{Preset: signature.HMAC, Header: "X-Signature"}, &now, nil)
	m = hmac.New(sha256.New, []byte(secret+"-2"))
	m.Write([]byte(body))
	sig = hex.EncodeToString(m.Sum(nil))
	wantStatus(t, send(without, "1"), 200, true)
	wantError(t, send(without, "2"), http.StatusConflict, "already processed")
	if err := (&signature.Config{Preset: signature.GitHub, IDHeader: "X-GitHub-Delivery"}).Validate(); err == nil {
		t.Fatal("id_header accepted outside the hmac preset")
	}
}
