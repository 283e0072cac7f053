package tagcache

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestUnmarshalCaddyfileReadsEveryOption(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`tag_cache {
		store            pages
		tag_header       Cache-Tag
		tag_header       Surrogate-Key space
		keep_tag_headers
		ttl              5m
		allow_set_cookie
		allow_private
		max_item_size    1MiB
		targeted_fields  CDN-Cache-Control
		cache_name       edge
		lock_timeout     2s
		credential_cookie session other
		credential_header X-Api-Key
		credential_cookie third
		debug
		nextjs
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Handler{
		Store:             "pages",
		TagHeaders:        []TagHeader{{Name: "Cache-Tag"}, {Name: "Surrogate-Key", Separator: SeparateBySpace}},
		KeepTagHeaders:    true,
		TTL:               caddy.Duration(5 * time.Minute),
		AllowSetCookie:    true,
		AllowPrivate:      true,
		MaxItemSize:       1 << 20,
		TargetedFields:    []string{"CDN-Cache-Control"},
		CacheName:         "edge",
		LockTimeout:       caddy.Duration(2 * time.Second),
		CredentialCookies: []string{"session", "other", "third"},
		CredentialHeaders: []string{"X-Api-Key"},
		Debug:             true,
		Nextjs:            true,
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got  %+v\nwant %+v", h, want)
	}
}

func TestUnmarshalCaddyfileTargetedFieldsOff(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("tag_cache {\n\ttargeted_fields off\n}")); err != nil {
		t.Fatal(err)
	}
	if !h.DisableTargetedFields || len(h.TargetedFields) != 0 {
		t.Fatalf("targeted_fields off: %#v, want disable_targeted_fields and no list", h)
	}
}

// `targeted_fields off` survives the trip through JSON that every Caddyfile
// takes: an empty list would be dropped by omitempty and the defaults
// would come back, obeying a CDN-Cache-Control the user said to ignore.
func TestTargetedFieldsOffSurvivesJSON(t *testing.T) {
	var parsed Handler
	if err := parsed.UnmarshalCaddyfile(caddyfile.NewTestDispenser("tag_cache {\n\ttargeted_fields off\n}")); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(parsed)
	if err != nil {
		t.Fatal(err)
	}
	var loaded Handler
	if err := json.Unmarshal(raw, &loaded); err != nil {
		t.Fatal(err)
	}
	h, _ := newTestTagCache(t, &loaded)
	var calls int
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls++
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("CDN-Cache-Control", "no-store")
		_, err := io.WriteString(w, "page")
		return err
	})
	do(t, h, next, "GET", "http://example.com/a", nil)
	do(t, h, next, "GET", "http://example.com/a", nil)
	if calls != 1 {
		t.Fatalf("with targeted_fields off (JSON %s) CDN-Cache-Control: no-store was obeyed: %d upstream calls", raw, calls)
	}
	both := &Handler{DisableTargetedFields: true, TargetedFields: []string{"CDN-Cache-Control"}}
	both.applyDefaults()
	if err := both.Validate(); err == nil {
		t.Fatal("targeted_fields with disable_targeted_fields was accepted")
	}
}

func TestUnmarshalCaddyfileRefusesBadOptions(t *testing.T) {
	for input, want := range map[string]string{
		"tag_cache extra":                         "wrong argument count",
		"tag_cache {\n\tstore\n}":                 "wrong argument count",
		"tag_cache {\n\ttag_header\n}":            "tag_header takes a header name",
		"tag_cache {\n\ttag_header A b c\n}":      "tag_header takes a header name",
		"tag_cache {\n\ttag_header A tab\n}":      `separator must be comma, space or both, not "tab"`,
		"tag_cache {\n\tkeep_tag_headers yes\n}":  "wrong argument count",
		"tag_cache {\n\tttl\n}":                   "wrong argument count",
		"tag_cache {\n\tttl 0s\n}":                `ttl: "0s" is not a positive duration`,
		"tag_cache {\n\tttl soon\n}":              `ttl: "soon" is not a positive duration`,
		"tag_cache {\n\tmax_item_size 0\n}":       "is not a size",
		"tag_cache {\n\ttargeted_fields\n}":       "wrong argument count",
		"tag_cache {\n\tcache_name a;b\n}":        "must be a token",
		"tag_cache {\n\tlock_timeout -1s\n}":      `lock_timeout: "-1s" is not a positive duration`,
		"tag_cache {\n\tcredential_cookie\n}":     "wrong argument count",
		"tag_cache {\n\tcredential_cookie a;b\n}": `credential_cookie: "a;b" is not a valid name`,
		"tag_cache {\n\tcredential_header a:b\n}": `credential_header: "a:b" is not a valid name`,
		"tag_cache {\n\tnextjs on\n}":             "nextjs takes no arguments",
		"tag_cache {\n\tdebug on\n}":              "wrong argument count",
		"tag_cache {\n\tcompress\n}":              `unrecognized tag_cache subdirective "compress"`,
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", input, err, want)
		}
	}
}
