package testharness

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// adaptSeparator splits a .caddytest file into its Caddyfile and the
// expected JSON (or expected error), as in caddy-l4's adapt tests.
var adaptSeparator = regexp.MustCompile(`(?m)^-{10,}\s*$`)

// RunAdaptTests runs every .caddytest file matched by pattern as a subtest.
// A file holds a Caddyfile, a line of ten or more dashes, then either the
// JSON the Caddyfile adapts to, or `error: <substring>` for a Caddyfile that
// must be refused at adapt time (the substring should name the line and the
// reason). The caller's test binary must import the modules the files use.
func RunAdaptTests(t *testing.T, pattern string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .caddytest files match %s", pattern)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := adaptSeparator.Split(string(raw), 2)
			if len(parts) != 2 {
				t.Fatalf("%s: no separator line of dashes", file)
			}
			AssertAdapt(t, parts[0], parts[1])
		})
	}
}

// AssertAdapt adapts caddyfile and compares it with expected, which is JSON
// or `error: <substring>`.
func AssertAdapt(t testing.TB, caddyfile, expected string) {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	got, warnings, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	expected = strings.TrimSpace(expected)
	if want, ok := strings.CutPrefix(expected, "error:"); ok {
		want = strings.TrimSpace(want)
		if err == nil {
			t.Fatalf("adapt succeeded, want an error containing %q; got:\n%s", want, got)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("adapt error %q does not contain %q", err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("adapt failed: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("adapt warning: %s:%d: %s", w.File, w.Line, w.Message)
	}
	var gotIndented, wantIndented bytes.Buffer
	if err := json.Indent(&gotIndented, got, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&wantIndented, []byte(expected), "", "\t"); err != nil {
		t.Fatalf("expected JSON is invalid: %v", err)
	}
	if gotIndented.String() != wantIndented.String() {
		t.Fatalf("adapted JSON differs.\n--- got\n%s\n--- want\n%s", gotIndented.String(), wantIndented.String())
	}
}
