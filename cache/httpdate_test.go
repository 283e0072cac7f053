package cache

import (
	"net/http"
	"testing"
	"time"
)

// The Expires cases of the upstream HTTP cache test suite (expires-parse):
// the valid forms an optimal cache accepts and the invalid ones that must
// read as already expired.
func TestExpiresParsingIsStrict(t *testing.T) {
	future := time.Date(2050, time.August, 18, 2, 1, 18, 0, time.UTC)
	valid := map[string]time.Time{
		"Thu, 18 Aug 2050 02:01:18 GMT":     future,
		"THU, 18 Aug 2050 02:01:18 GMT":     future,
		"Thu, 18 AUG 2050 02:01:18 GMT":     future,
		"Thu, 18 Aug 2050 02:01:18 gMT":     future,
		"Thursday, 18-Aug-50 02:01:18 GMT":  future,
		"Thu Aug  8 02:01:18 2050":          time.Date(2050, time.August, 8, 2, 1, 18, 0, time.UTC),
		"Tue, 19 Jan 2038 14:14:08 GMT":     time.Date(2038, time.January, 19, 14, 14, 8, 0, time.UTC),
		"Sun, 21 Nov 2286 04:46:39 GMT":     time.Date(2286, time.November, 21, 4, 46, 39, 0, time.UTC),
		"Sunday, 06-Nov-94 08:49:37 GMT":    time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC),
		"Sun Nov 16 08:49:37 1994":          time.Date(1994, time.November, 16, 8, 49, 37, 0, time.UTC),
		"Wednesday, 29-Feb-40 00:00:00 GMT": time.Date(2040, time.February, 29, 0, 0, 0, 0, time.UTC),
	}
	for in, want := range valid {
		got, ok := parseHTTPDate(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"Thu, 18 Aug 2050 02:01:18 UTC",
		"Thu, 18 Aug 2050 02:01:18 AEST",
		"Thu, 18 Aug 50 02:01:18 GMT",
		"Thu 18 Aug 2050 02:01:18 GMT",
		"Thu, 18  Aug  2050 02:01:18 GMT",
		"Thu, 18-Aug-2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 02.01.18 GMT",
		"Thu, 18 Aug 2050 2:01:18 GMT",
		"Thu, 31 Feb 2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 24:01:18 GMT",
		"0", "", "-1", "Thu, 18 Aug 2050 02:01:18 GMT ",
	} {
		if got, ok := parseHTTPDate(in); ok {
			t.Errorf("parseHTTPDate(%q) = %v, want invalid", in, got)
		}
	}

	// Several Expires lines mean already expired, even when both are valid.
	h := http.Header{"Expires": {"Thu, 18 Aug 2050 02:01:18 GMT", "Thu, 18 Aug 2050 02:01:19 GMT"}, "Date": {"Thu, 18 Aug 2050 01:01:18 GMT"}}
	if life, explicit := explicitLifetime(nil, h); !explicit || life != 0 {
		t.Fatalf("two Expires lines: lifetime %v explicit %v, want 0 (expired)", life, explicit)
	}
	h["Expires"] = h["Expires"][:1]
	if life, _ := explicitLifetime(nil, h); life != time.Hour {
		t.Fatalf("one valid Expires: lifetime %v, want 1h", life)
	}
}

// A targeted field that is not a valid Structured Field dictionary, or whose
// known directives have the wrong type, is ignored as a whole (RFC 9213),
// so Cache-Control decides (cdn-cc-invalid-sh-type-* upstream).
func TestTargetedFieldMustBeAValidDictionary(t *testing.T) {
	p := Policy{TargetedFields: []string{"CDN-Cache-Control", "Surrogate-Control"}}
	for value, wantFromCDN := range map[string]bool{
		"max-age=10000":            true,
		"foobar, max-age=3600":     true,
		"max-age=60, private":      true,
		`no-cache=("set-cookie")`:  true,
		"max-age=10000;x=1, a=?0":  true,
		"max-age=10000, &&&&&":     false,
		`max-age="10000"`:          false,
		"max-age=1.5":              false,
		"max-age=-1":               false,
		"max-age =100":             false,
		"max-age= 100":             false,
		"MaX-aGe=3600":             false,
		"max-age=10000,":           false,
		"no-store=1":               false,
		`max-age=10, foo="unterm`:  false,
		"max-age=9999999999999999": false,
	} {
		h := http.Header{"Cdn-Cache-Control": {value}, "Cache-Control": {"no-store"}}
		d := p.EffectiveDirectives(h)
		if fromCDN := !d.Has("no-store"); fromCDN != wantFromCDN {
			t.Errorf("CDN-Cache-Control %q: obeyed %v, want %v (directives %v)", value, fromCDN, wantFromCDN, d)
		}
	}
	// Surrogate-Control is no Structured Field and keeps its lenient parse.
	h := http.Header{"Surrogate-Control": {"max-age=60;edge"}, "Cache-Control": {"no-store"}}
	if d := p.EffectiveDirectives(h); d.Has("no-store") {
		t.Fatalf("Surrogate-Control was ignored: %v", d)
	}
}
