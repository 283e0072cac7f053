package caddybff_test

import (
	"testing"

	_ "github.com/caddy-bff/caddy-bff"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"
)

// TestCaddyfileAdapt adapts every testdata/caddyfile_adapt/*.caddytest file
// and compares the result with the JSON (or error) it expects.
func TestCaddyfileAdapt(t *testing.T) {
	testharness.RunAdaptTests(t, "testdata/caddyfile_adapt/*.caddytest")
}
