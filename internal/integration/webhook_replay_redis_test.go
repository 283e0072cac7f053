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
	"time"

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
	inproc := testharness.StartInProcess(t, fmt.Sprintf(`{
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
	waitTrusted(t, inproc.AdminURL("/tag_cache/stats"))
	body := `{"ref":"refs/heads/main","repository":{"name":"docs"}}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	sig, delivery := withHeader("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil))), withHeader("X-GitHub-Delivery", "d-1")
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/github"
	c := &http.Client{}
	wantJSON(t, send(t, c, http.MethodPost, url, withBody(body), sig, delivery), 200, true)
	wantJSON(t, send(t, c, http.MethodPost, url, withBody(body), sig, delivery), 409, false)
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
	wantJSON(t, send(t, c, http.MethodPost, url, withBody(body), sig, delivery), 200, true)
}

// TestWebhookReplayRefusedByAnotherInstance: two Caddy processes share one
// redis-server; a signed delivery acknowledged by one is refused as a copy
// by the other.
func TestWebhookReplayRefusedByAnotherInstance(t *testing.T) {
	rs := testharness.StartRedis(t)
	const secret = "caddy-bff github secret"
	start := func() string {
		port := testharness.FreePort(t)
		proc := testharness.StartBinary(t, fmt.Sprintf(`{
	tag_cache {
		redis %s {
			key_prefix wh2:
		}
	}
}
http://127.0.0.1:%d {
	revalidate_webhook /github {
		secret {env.GITHUB_WEBHOOK_SECRET}
		signature github
		tags_from repository.name
	}
}`, rs.URL(), port), "GITHUB_WEBHOOK_SECRET="+secret)
		waitTrusted(t, "http://"+proc.AdminAddr+"/tag_cache/stats")
		return "http://127.0.0.1:" + strconv.Itoa(port) + "/github"
	}
	a, b := start(), start()
	body := `{"ref":"refs/heads/main","repository":{"name":"docs"}}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	sig, delivery := withHeader("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil))), withHeader("X-GitHub-Delivery", "d-1")
	c := &http.Client{}
	wantJSON(t, send(t, c, http.MethodPost, a, withBody(body), sig, delivery), 200, true)
	wantJSON(t, send(t, c, http.MethodPost, b, withBody(body), sig, delivery), 409, false)
	wantJSON(t, send(t, c, http.MethodPost, a, withBody(body), sig, delivery), 409, false)
}

// waitTrusted waits until the distributed store has synchronised with
// Redis (before that, invalidations are refused with 503).
func waitTrusted(t *testing.T, statsURL string) {
	t.Helper()
	testharness.WaitFor(t, 5*time.Second, "the store synchronised with Redis", func() bool {
		st := send(t, http.DefaultClient, "GET", statsURL).body
		return strings.Contains(st, `"trusted":true`) && strings.Contains(st, `"healthy":true`)
	})
}
