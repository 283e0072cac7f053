package integration

import (
	"net/http"
	"strings"
	"testing"
)

// TestRevalidateAcceptsNextJSModes is issue 12.4: the admin API and the
// webhook take Next.js 16's names for the two modes, "max" for stale
// (revalidateTag(tag, 'max')) and {"expire": 0} for expire, and refuse a
// delayed expiry with a precise 400.
func TestRevalidateAcceptsNextJSModes(t *testing.T) {
	c, base := loadAuthConfig(t, `:{PORT} {
	revalidate_webhook /api/revalidate {
		secret test-secret-0123456789
		allow_mode_override
	}
	respond "ok"
}`)
	admin := c.AdminURL("/tag_cache/revalidate")
	for body, want := range map[string]string{
		`{"tags":["posts"],"mode":"max"}`:           `"mode":"stale"`,
		`{"tags":["posts"],"mode":{"expire":0}}`:    `"mode":"expire"`,
		`{"tags":["posts"],"mode":{"expire":3600}}`: `only {\"expire\": 0}`,
	} {
		r := send(t, http.DefaultClient, "POST", admin, withBody(body), withHeader("Content-Type", "application/json"))
		if !strings.Contains(r.body, want) {
			t.Errorf("admin %s: %d %s, want %s", body, r.status, r.body, want)
		}
		if strings.Contains(body, "3600") && r.status != http.StatusBadRequest {
			t.Errorf("admin %s: %d, want 400", body, r.status)
		}
	}
	r := send(t, http.DefaultClient, "GET", base+"/api/revalidate?token=test-secret-0123456789&tag=posts&mode=max")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"mode":"stale"`) {
		t.Errorf("webhook mode=max: %d %s", r.status, r.body)
	}
}
