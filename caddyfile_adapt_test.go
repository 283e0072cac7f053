package caddybff

import (
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestCaddyfileAdapt adapts every testdata/caddyfile_adapt/*.caddytest file
// and compares the result with the JSON (or the adapt-time error) it holds.
func TestCaddyfileAdapt(t *testing.T) {
	testharness.RunAdaptTests(t, "testdata/caddyfile_adapt/*.caddytest")
}
