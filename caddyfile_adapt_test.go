package caddybff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestCaddyfileAdapt runs every testdata/caddyfile_adapt/*.caddytest file:
// good configs adapt to the expected JSON, bad ones fail with their line
// and reason.
func TestCaddyfileAdapt(t *testing.T) {
	testharness.RunAdaptTests(t, "testdata/caddyfile_adapt/*.caddytest")
}

// TestExamplesAdapt adapts every examples/*.Caddyfile and compares it with
// the JSON form beside it (examples/<name>.json), so the examples always
// load and their JSON forms never drift.
func TestExamplesAdapt(t *testing.T) {
	files, err := filepath.Glob("examples/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			caddyfile, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(file, ".Caddyfile") + ".json")
			if err != nil {
				t.Fatalf("the JSON form of %s is missing: %v", file, err)
			}
			testharness.AssertAdapt(t, string(caddyfile), string(want))
		})
	}
}
