package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestWebhookReplayMemoryInRedis: with the tag_cache app in distributed
// mode, revalidate_webhook keeps its replay memory in Redis (so every
// instance refuses a copy any of them accepted): the delivery's key is
// there, and it alone decides, as deleting it lets the copy through.
func TestWebhookReplayMemoryInRedis(t *testing.T) {
	rs := testharness.StartRedis(t)
	port := testharness.FreePort(t)
	const secret = "caddy-bff github secret"
	testharness.StartInProcess(t, fmt.Sprintf(`{
	tag_cache {
		redis %s {
			key_prefix wh:
		}
	}
}
http://127.0.0.1:%d {
	revalidate_webhook /github {
		secret "%s"
		signature github
		tags_from repository.name
	}
}`, rs.URL(), port, secret), "caddyfile")
	body := `{"ref":"refs/heads/main","repository":{"name":"docs"}}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	sig := map[string]string{"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(m.Sum(nil)), "X-GitHub-Delivery": "d-1"}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/github"
	c := &http.Client{}
	wantJSON(t, do(t, c, http.MethodPost, url, body, sig), 200, true)
	wantJSON(t, do(t, c, http.MethodPost, url, body, sig), 409, false)
	n, err := rs.Do("DBSIZE")
	if err != nil {
		t.Fatal(err)
	}
	// Find the replay key: SCAN is enough on this small dataset.
	out, err := rs.Do("EVAL", "local k = redis.call('KEYS', 'wh:default:replay:*') return table.concat(k, ' ')", "0")
	if err != nil || strings.Count(out, "wh:default:replay:") != 1 {
		t.Fatalf("replay keys %q (%v) among %s keys, want one", out, err, n)
	}
	if ttl, _ := rs.Do("TTL", out); ttl == "-1" || ttl == "-2" {
		t.Fatalf("replay key TTL %s, want an expiry", ttl)
	}
	if _, err := rs.Do("DEL", out); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, do(t, c, http.MethodPost, url, body, sig), 200, true)
}
