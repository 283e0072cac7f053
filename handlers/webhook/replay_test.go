package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	cacheredis "github.com/caddy-bff/caddy-bff/cache/redis"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestWebhookReplayMemorySharedInRedis: in distributed mode the replay
// memory lives in Redis, so a copy of a delivery sent to another instance
// is refused too, and it is kept for the retention (24h by default for a
// preset without a signed timestamp). Without Redis the delivery is not
// acknowledged (503), so the sender retries.
func TestWebhookReplayMemorySharedInRedis(t *testing.T) {
	rs := testharness.StartRedis(t)
	const secret = "It's a Secret to Everybody"
	instance := func() (*Handler, *recordingInvalidator) {
		client := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond})
		t.Cleanup(func() { _ = client.Close() })
		inv := &recordingInvalidator{}
		wh := &Handler{Secret: secret, Signature: &signature.Config{Preset: signature.GitHub}, TagsFrom: []string{"tags"}}
		wh.shared = cacheredis.NewDeliveryMemory(client, "it:default:")
		h, _ := newTestWebhook(t, wh, inv)
		return h, inv
	}
	a, invA := instance()
	b, invB := instance()
	// GitHub's published vector signs "Hello, World!", which is not JSON:
	// sign a JSON body the same way instead.
	body := `{"tags":"posts"}`
	headers := map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(secret, body), "X-GitHub-Delivery": "d-1"}
	wantStatus(t, serve(t, a, signedPost("/hook", body, headers)), 200, true)
	wantError(t, serve(t, b, signedPost("/hook", body, headers)), http.StatusConflict, "already processed")
	wantError(t, serve(t, a, signedPost("/hook", body, headers)), http.StatusConflict, "already processed")
	if len(invA.calls) != 1 || len(invB.calls) != 0 {
		t.Fatalf("invalidations: A %d, B %d, want 1 and 0", len(invA.calls), len(invB.calls))
	}
	inspect := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = inspect.Close() })
	keys, err := inspect.Keys(t.Context(), "it:default:replay:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("replay keys in Redis: %q (%v), want one", keys, err)
	}
	ttl, err := inspect.PTTL(t.Context(), keys[0]).Result()
	if err != nil || ttl < 23*time.Hour || ttl > signature.DefaultReplayRetention {
		t.Fatalf("replay key PTTL %s (%v), want about 24h", ttl, err)
	}

	// A refused payload releases its claim in Redis: the sender's retry is
	// not taken for a replay.
	bad := `{"tags":["a, b"]}`
	badHeaders := map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(secret, bad)}
	wh := &Handler{Secret: secret, Signature: &signature.Config{Preset: signature.GitHub}}
	client := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	wh.shared = cacheredis.NewDeliveryMemory(client, "it:default:")
	c, _ := newTestWebhook(t, wh, &recordingInvalidator{})
	for i := 0; i < 2; i++ {
		wantError(t, serve(t, c, signedPost("/hook", bad, badHeaders)), http.StatusBadRequest, "no cache entry can carry it")
	}

	// Redis gone: the delivery cannot be checked against the memory, so it
	// is not acknowledged.
	rs.Kill()
	other := `{"tags":"pages"}`
	rep := serve(t, a, signedPost("/hook", other, map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(secret, other)}))
	wantStatus(t, rep, http.StatusServiceUnavailable, false)
	if rep.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}

func hmacHex(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}
