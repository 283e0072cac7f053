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

// BenchmarkTokenCompare shows that checking a token costs the same whether
// it shares no leading character with the secret or all but the last: an
// attacker timing the answers learns nothing about how close a guess is.
// Compare the ns/op of the two sub-benchmarks.
func BenchmarkTokenCompare(b *testing.B) {
	value := strings.Repeat("0123456789abcdef", 4) // 64 characters
	digest := NewDigest(value)
	cases := []struct{ name, token string }{
		{"prefix=0", "X" + value[1:]},
		{"prefix=all-but-last", value[:len(value)-1] + "X"},
	}
	for _, c := range cases {
		if len(c.token) != len(value) {
			b.Fatal("guesses must have the secret's length")
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if digest.Matches(c.token) {
					b.Fatal("a wrong guess matched")
				}
			}
		})
	}
}
