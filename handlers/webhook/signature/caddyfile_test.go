package signature

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	var c Config
	d := caddyfile.NewTestDispenser("signature hmac {\n header X-Sig\n algorithm sha512\n encoding base64\n prefix sha512=\n id_header X-Id\n tolerance 10m\n replay_retention 48h\n max_replay_entries 50\n allow_unsigned_query\n}")
	if err := c.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Config{Preset: HMAC, Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512=", IDHeader: "X-Id",
		Tolerance: caddy.Duration(10 * time.Minute), ReplayRetention: caddy.Duration(48 * time.Hour), MaxReplayEntries: 50, AllowUnsignedQuery: true}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	for input, want := range map[string]string{
		"signature":                                    "needs a preset",
		"signature stripe extra":                       "wrong argument count",
		"signature paypal":                             `preset must be one of`,
		"signature stripe {\n tolerance soon\n}":       `tolerance: "soon" is not a positive duration`,
		"signature stripe {\n replay_retention 1m\n}":  "still is, at Testfile:1",
		"signature github {\n max_replay_entries 0\n}": "not a positive count",
		"signature github {\n replay_cache_size 5\n}":  `unrecognized signature option "replay_cache_size"`,
		"signature github {\n header\n}":               "wrong argument count",
	} {
		var c Config
		err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", input, err, want)
		}
	}
}
