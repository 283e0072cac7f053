package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// eventRecorder is a test-only events handler: it hands every event it
// receives to the running test, the way a user's exec or webhook handler
// would receive tag_revalidated.
type eventRecorder struct{}

var recordedEvents = make(chan caddy.Event, 16)

func (eventRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.test_recorder", New: func() caddy.Module { return new(eventRecorder) }}
}

func (eventRecorder) Handle(_ context.Context, e caddy.Event) error {
	select {
	case recordedEvents <- e:
	default:
	}
	return nil
}

func init() { caddy.RegisterModule(eventRecorder{}) }

// TestTagRevalidatedEvent subscribes to tag_revalidated on Caddy's events
// app and checks each recorded invalidation emits it with its details.
func TestTagRevalidatedEvent(t *testing.T) {
	port := testharness.FreePort(t)
	caddyInst := testharness.StartInProcess(t, fmt.Sprintf(`{
  "admin": {"listen": %q},
  "apps": {
    "events": {"subscriptions": [{"events": ["tag_revalidated"], "handlers": [{"handler": "test_recorder"}]}]},
    "tag_cache": {},
    "http": {"servers": {"s": {"listen": [":%d"], "routes": [{"handle": [{"handler": "tag_cache"}, {"handler": "static_response", "body": "x"}]}]}}}
  }
}`, testharness.AdminAddress, port), "json")
	r := send(t, http.DefaultClient, "POST", caddyInst.AdminURL("/tag_cache/revalidate"),
		withBody(`{"tags":["posts"],"paths":["/blog"],"mode":"stale"}`))
	if r.status != 200 {
		t.Fatalf("revalidate: %d %s", r.status, r.body)
	}
	select {
	case e := <-recordedEvents:
		if e.Name() != "tag_revalidated" {
			t.Fatalf("event %q, want tag_revalidated", e.Name())
		}
		if fmt.Sprint(e.Data["tags"]) != "[posts]" || fmt.Sprint(e.Data["paths"]) != "[/blog]" ||
			e.Data["mode"] != "stale" || e.Data["source"] != "admin" || e.Data["store"] != "default" {
			t.Fatalf("event data: %v", e.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no tag_revalidated event within 5s")
	}
	// A refused invalidation emits nothing.
	send(t, http.DefaultClient, "POST", caddyInst.AdminURL("/tag_cache/revalidate"), withBody(`{"tags":[]}`))
	select {
	case e := <-recordedEvents:
		t.Fatalf("a refused invalidation emitted %s %v", e.Name(), e.Data)
	case <-time.After(200 * time.Millisecond):
	}
}
