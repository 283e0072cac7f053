package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

const (
	itSecret       = "integration-webhook-secret"
	itStripeSecret = "whsec_integration_stripe"
)

// loadWebhookStatuses loads a server with three webhooks: a token one with
// tight limits, a Stripe-signed one and a DatoCMS one reading tags from the
// payload. It has no handle_errors, so the handler writes its JSON itself.
func loadWebhookStatuses(t *testing.T) (*testharness.InProcess, string) {
	t.Helper()
	t.Setenv("CADDYBFF_IT_WEBHOOK_SECRET", itSecret)
	port := testharness.FreePort(t)
	cfg := fmt.Sprintf(`
http://127.0.0.1:%d {
	handle /hook {
		revalidate_webhook {
			secret {env.CADDYBFF_IT_WEBHOOK_SECRET}
			token_header X-Revalidate-Token
			max_body_size 256
			max_items 3
			allow_mode_override
		}
	}
	handle /stripe {
		revalidate_webhook {
			secret %s
			signature stripe {
				tolerance 2m
			}
		}
	}
	handle /dato {
		revalidate_webhook {
			secret {env.CADDYBFF_IT_WEBHOOK_SECRET}
			token_param off
			tags_from $.entity.attributes.tags
			mode stale
		}
	}
	respond "site"
}
`, port, itStripeSecret)
	c := testharness.StartInProcess(t, cfg, "caddyfile")
	return c, "http://127.0.0.1:" + strconv.Itoa(port)
}

// invalidations reads how many invalidations the default store recorded,
// from the tag_cache admin API: proof that a 200 was recorded.
func invalidations(t *testing.T, c *testharness.InProcess) int {
	t.Helper()
	r := send(t, http.DefaultClient, http.MethodGet, c.AdminURL("/tag_cache/stats"))
	var stats struct {
		Stores []struct {
			Name          string `json:"name"`
			Invalidations int    `json:"invalidations"`
		} `json:"stores"`
	}
	if err := json.Unmarshal([]byte(r.body), &stats); err != nil {
		t.Fatalf("stats: %v", err)
	}
	for _, s := range stats.Stores {
		if s.Name == "default" {
			return s.Invalidations
		}
	}
	t.Fatalf("no default store in %+v", stats)
	return 0
}

func TestWebhookStatuses(t *testing.T) {
	c, base := loadWebhookStatuses(t)
	client := c.Client
	hook := base + "/hook"

	testharness.AssertRouteHandlerSemantics(t, client, hook, http.MethodGet, http.MethodPost)

	before := invalidations(t, c)
	t.Run("200 seed", func(t *testing.T) {
		m := wantJSON(t, send(t, client, http.MethodGet, hook+"?token="+itSecret+"&tag=posts"), 200, true)
		if m["revalidated"] != true || m["mode"] != "expire" {
			t.Errorf("body %v", m)
		}
		if got := invalidations(t, c); got != before+1 {
			t.Errorf("invalidations %d, want %d", got, before+1)
		}
	})
	t.Run("200 header token, POST body, mode override", func(t *testing.T) {
		a := send(t, client, http.MethodPost, hook+"?tag=a", withBody(`{"tags":["b"],"paths":["/blog"],"mode":"stale"}`), withHeader("X-Revalidate-Token", itSecret), withHeader("Content-Type", "application/json"))
		m := wantJSON(t, a, 200, true)
		if m["mode"] != "stale" || fmt.Sprint(m["tags"]) != "[a b]" || fmt.Sprint(m["paths"]) != "[/blog]" {
			t.Errorf("body %v", m)
		}
	})
	t.Run("HEAD is GET without a body", func(t *testing.T) {
		a := send(t, client, http.MethodHead, hook+"?token="+itSecret+"&tag=posts")
		if a.status != 200 || a.body != "" || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("HEAD: %d %q %v", a.status, a.body, a.header)
		}
	})
	t.Run("401", func(t *testing.T) {
		for _, target := range []string{hook + "?tag=posts", hook + "?token=wrong&tag=posts", hook + "?token=" + itSecret[:len(itSecret)-1] + "&tag=posts"} {
			a := send(t, client, http.MethodGet, target)
			wantJSON(t, a, 401, false)
			if a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		}
		// Authentication comes before the body is even read.
		wantJSON(t, send(t, client, http.MethodPost, hook, withBody(strings.Repeat("x", 1000))), 401, false)
	})
	t.Run("400", func(t *testing.T) {
		for target, want := range map[string]string{
			hook + "?token=" + itSecret:                                      "at least one tag or path is required",
			hook + "?token=" + itSecret + "&tag=a,b,c,d":                     "too many tags and paths: 4, at most 3",
			hook + "?token=" + itSecret + "&tag=" + strings.Repeat("x", 257): "at most 256",
			hook + "?token=" + itSecret + "&tag=a&mode=soon":                 "mode must be",
		} {
			m := wantJSON(t, send(t, client, http.MethodGet, target), 400, false)
			if !strings.Contains(fmt.Sprint(m["error"]), want) {
				t.Errorf("error %q, want %q", m["error"], want)
			}
		}
		m := wantJSON(t, send(t, client, http.MethodPost, hook+"?token="+itSecret, withBody(`{"tags":"a"}`)), 400, false)
		if !strings.Contains(fmt.Sprint(m["error"]), `"tags" must be an array of strings`) {
			t.Errorf("error %q", m["error"])
		}
	})
	t.Run("413", func(t *testing.T) {
		body := `{"tags":["` + strings.Repeat("x", 300) + `"]}`
		m := wantJSON(t, send(t, client, http.MethodPost, hook+"?token="+itSecret, withBody(body)), 413, false)
		if !strings.Contains(fmt.Sprint(m["error"]), "larger than 256 bytes") {
			t.Errorf("error %q", m["error"])
		}
	})
	t.Run("405 and OPTIONS", func(t *testing.T) {
		a := send(t, client, http.MethodDelete, hook+"?token="+itSecret+"&tag=a")
		wantJSON(t, a, 405, false)
		if a.header.Get("Allow") != "GET, HEAD, OPTIONS, POST" {
			t.Errorf("Allow %q", a.header.Get("Allow"))
		}
		a = send(t, client, http.MethodOptions, hook)
		if a.status != 204 || a.header.Get("Allow") != "GET, HEAD, OPTIONS, POST" || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("OPTIONS: %d %v", a.status, a.header)
		}
	})
	t.Run("stripe signature, replay 409", func(t *testing.T) {
		body := `{"tags":["products"]}`
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: itStripeSecret})
		sig, jsonType := withHeader("Stripe-Signature", signed.Header), withHeader("Content-Type", "application/json")
		wantJSON(t, send(t, client, http.MethodPost, base+"/stripe", withBody(body), sig, jsonType), 200, true)
		m := wantJSON(t, send(t, client, http.MethodPost, base+"/stripe", withBody(body), sig, jsonType), 409, false)
		if m["error"] != "this delivery was already processed" {
			t.Errorf("409 error %q", m["error"])
		}
		old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: itStripeSecret, Timestamp: time.Now().Add(-3 * time.Minute)})
		wantJSON(t, send(t, client, http.MethodPost, base+"/stripe", withBody(body), withHeader("Stripe-Signature", old.Header)), 401, false)
		// A token is no credential where a signature is required.
		wantJSON(t, send(t, client, http.MethodGet, base+"/stripe?tag=a&token="+itStripeSecret), 401, false)
	})
	t.Run("DatoCMS payload", func(t *testing.T) {
		dato := `{"entity_type":"cda_cache_tags","event_type":"invalidate","entity":{"id":"cda_cache_tags","type":"cda_cache_tags","attributes":{"tags":["N*r;L","6-KZ@"]}},"related_entities":[]}`
		bearer, jsonType := withHeader("Authorization", "Bearer "+itSecret), withHeader("Content-Type", "application/json")
		m := wantJSON(t, send(t, client, http.MethodPost, base+"/dato", withBody(dato), bearer, jsonType), 200, true)
		if fmt.Sprint(m["tags"]) != "[N*r;L 6-KZ@]" || m["mode"] != "stale" {
			t.Errorf("body %v", m)
		}
		// token_param off: the query parameter is no credential here.
		wantJSON(t, send(t, client, http.MethodPost, base+"/dato?token="+itSecret, withBody(dato)), 401, false)
	})
}

// The secret is required and its placeholders must resolve: both are
// refused when the config is loaded, not on the first call.
func TestWebhookProvisionErrors(t *testing.T) {
	c := testharness.StartInProcess(t, `{"admin":{"listen":"`+testharness.AdminAddress+`"}}`, "json")
	port := testharness.FreePort(t)
	err := c.TryLoad(fmt.Sprintf(`
http://127.0.0.1:%d {
	revalidate_webhook {
		secret {env.CADDYBFF_IT_WEBHOOK_SECRET_THAT_IS_NOT_SET}
	}
}`, port), "caddyfile")
	if err == nil || !strings.Contains(err.Error(), "secret is empty") {
		t.Fatalf("an unset secret variable: %v", err)
	}
	err = c.TryLoad(fmt.Sprintf(`
http://127.0.0.1:%d {
	revalidate_webhook {
		store nowhere
		secret x
	}
}`, port), "caddyfile")
	if err == nil || !strings.Contains(err.Error(), "no store named") || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("an unknown store: %v", err)
	}
}

// The JSON form of the config, with the GitHub preset and GitHub's
// published test vector.
func TestWebhookJSONConfig(t *testing.T) {
	port := testharness.FreePort(t)
	cfg := fmt.Sprintf(`{
	"admin": {"listen": %q},
	"apps": {
		"tag_cache": {"stores": {"docs": {"max_size": 1048576}}},
		"http": {"servers": {"srv0": {
			"listen": ["127.0.0.1:%d"],
			"routes": [{
				"match": [{"path": ["/github"]}],
				"handle": [{
					"handler": "revalidate_webhook",
					"secret": "It's a Secret to Everybody",
					"store": "docs",
					"ignore_body": true,
					"signature": {"preset": "github", "allow_unsigned_query": true}
				}]
			}]
		}}}
	}
}`, testharness.AdminAddress, port)
	c := testharness.StartInProcess(t, cfg, "json")
	url := fmt.Sprintf("http://127.0.0.1:%d/github?tag=docs", port)
	sig := withHeader("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	wantJSON(t, send(t, c.Client, http.MethodPost, url, withBody("Hello, World?"), sig), 401, false)
	wantJSON(t, send(t, c.Client, http.MethodPost, url, withBody("Hello, World!"), sig), 200, true)
	wantJSON(t, send(t, c.Client, http.MethodPost, url, withBody("Hello, World!"), sig), 409, false)
}

// Written in one site block with tag_cache, the webhook is ordered before
// it: its answers never pass through the cache, so each call invalidates.
func TestWebhookNeverCached(t *testing.T) {
	port, upstream := testharness.FreePort(t), testharness.FreePort(t)
	c := testharness.StartInProcess(t, fmt.Sprintf(`
http://127.0.0.1:%d {
	tag_cache
	revalidate_webhook /hook {
		secret %s
	}
	reverse_proxy 127.0.0.1:%d
}
http://127.0.0.1:%d {
	header Cache-Control "public, s-maxage=60"
	respond "site"
}`, port, itSecret, upstream, upstream), "caddyfile")
	url := fmt.Sprintf("http://127.0.0.1:%d/hook?token=%s&tag=posts", port, itSecret)
	before := invalidations(t, c)
	for i := range 2 {
		a := send(t, c.Client, http.MethodGet, url)
		wantJSON(t, a, 200, true)
		if cs := a.header.Get("Cache-Status"); cs != "" {
			t.Fatalf("call %d went through the cache: Cache-Status %q", i, cs)
		}
	}
	if got := invalidations(t, c); got != before+2 {
		t.Fatalf("invalidations %d, want %d", got, before+2)
	}
	// The site itself is cached, so the cache is really in that route.
	send(t, c.Client, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if cs := send(t, c.Client, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port)).header.Get("Cache-Status"); !strings.HasPrefix(cs, "caddy-bff; hit") {
		t.Fatalf("site: Cache-Status %q, want a hit", cs)
	}
}
