package secret

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Setenv("CADDYBFF_SECRET_TEST", "s3cr3t")
	got, err := Resolve("secret", "{env.CADDYBFF_SECRET_TEST}")
	if err != nil || got != "s3cr3t" {
		t.Fatalf("Resolve = %q, %v", got, err)
	}
	if got, err := Resolve("secret", "literal"); err != nil || got != "literal" {
		t.Fatalf("a literal secret: %q, %v", got, err)
	}
	for _, value := range []string{"", "{env.CADDYBFF_SECRET_TEST_UNSET}"} {
		_, err := Resolve("client_secret", value)
		if err == nil || !strings.Contains(err.Error(), "client_secret resolved to an empty value") {
			t.Fatalf("Resolve(%q): %v, want an empty-value error", value, err)
		}
	}
}
