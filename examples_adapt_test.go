package caddybff

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestExamplesAdapt adapts every examples/*.Caddyfile and examples/Caddyfile. When the JSON form
// sits beside it (examples/<name>.json), the adapted config must equal it,
// so the published JSON forms never drift; otherwise the example must adapt
// without error or warning.
func TestExamplesAdapt(t *testing.T) {
	files, err := filepath.Glob("examples/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// The quick start's examples/Caddyfile, whose JSON form is
	// examples/Caddyfile.json.
	files = append(files, "examples/Caddyfile")
	// Its ports and demo secret come from the environment with defaults;
	// adapt with the defaults the JSON form shows.
	for _, name := range []string{"PORT", "UPSTREAM_PORT", "REVALIDATE_SECRET"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			caddyfile, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(file, ".Caddyfile") + ".json")
			if err == nil {
				testharness.AssertAdapt(t, string(caddyfile), string(want))
				return
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			_, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile, map[string]any{"filename": file})
			if err != nil {
				t.Fatalf("adapting %s: %v", file, err)
			}
			for _, w := range warnings {
				t.Errorf("%s:%d: %s", w.File, w.Line, w.Message)
			}
		})
	}
}

// TestREADMEDirectivesAdapt adapts the README's "Directives at a glance"
// block, which shows every directive of the project in one site: it must
// adapt without error or warning, and use each directive.
func TestREADMEDirectivesAdapt(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Directives at a glance\n")
	if !ok {
		t.Fatal(`README.md has no "## Directives at a glance" section`)
	}
	_, block, ok := strings.Cut(section, "```caddyfile\n")
	if !ok {
		t.Fatal("the section has no caddyfile block")
	}
	block, _, _ = strings.Cut(block, "```")
	for _, directive := range []string{"tag_cache {", "revalidate_webhook ", "session_callback ", "session_logout ", "auth_proxy ", "nextjs_bridge ", "path_pattern ", "authenticated ", "nextjs"} {
		if !strings.Contains(block, directive) {
			t.Errorf("the block does not show %q", strings.TrimSpace(directive))
		}
	}
	_, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(block), map[string]any{"filename": "README.md"})
	if err != nil {
		t.Fatalf("the README's block does not adapt: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("README.md block line %d: %s", w.Line, w.Message)
	}
}
