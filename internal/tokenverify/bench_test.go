package tokenverify

import (
	"context"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func BenchmarkVerifyHS256(b *testing.B) {
	v := provisioned(b, &Verifier{JWT: &JWT{Secret: testSecret}})
	tok := sign(b, claimsFor(b, nil), jwa.HS256(), []byte(testSecret), "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256Uncached(b *testing.B) {
	v := provisioned(b, &Verifier{JWT: &JWT{Secret: testSecret, CacheTTL: -1}})
	tok := sign(b, claimsFor(b, nil), jwa.HS256(), []byte(testSecret), "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
