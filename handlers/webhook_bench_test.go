package handlers

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// BenchmarkTokenCompare shows that checking a token costs the same whether
// it shares no leading character with the secret or all but the last: an
// attacker timing the answers learns nothing about how close a guess is.
// Compare the ns/op of the two sub-benchmarks.
func BenchmarkTokenCompare(b *testing.B) {
	secret := strings.Repeat("0123456789abcdef", 4) // 64 characters
	digest := sha256.Sum256([]byte(secret))
	cases := []struct{ name, token string }{
		{"prefix=0", "X" + secret[1:]},
		{"prefix=all-but-last", secret[:len(secret)-1] + "X"},
	}
	for _, c := range cases {
		if len(c.token) != len(secret) {
			b.Fatal("guesses must have the secret's length")
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if tokenMatches(&digest, c.token) {
					b.Fatal("a wrong guess matched")
				}
			}
		})
	}
}
