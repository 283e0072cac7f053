package signature

import (
	"slices"
	"testing"
)

// Fuzz targets for the signature headers, parsed before the caller is
// authenticated. `go test` runs the seeds; `go test -fuzz=Fuzz...` explores
// further.

func FuzzParseStripeSignature(f *testing.F) {
	f.Add("t=1614265330,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd")
	f.Add("t=1,v1=aa,v1=bb,v0=cc")
	f.Add("t=1,t=2,v1=aa")
	f.Add("v1=aa")
	f.Add("t=-1,v1=aa")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, header string) {
		ts, sigs, err := parseStripeSignature(header)
		if err != nil {
			return
		}
		if ts < 0 || len(sigs) == 0 || len(sigs) > maxSignatureCandidates {
			t.Fatalf("accepted %q as t=%d with %d signatures", header, ts, len(sigs))
		}
	})
}

func FuzzParseStandardSignatures(f *testing.F) {
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("v1a,abc v1,bm9wZQ== v2,xyz")
	f.Add("v1,")
	f.Add("  ")
	f.Fuzz(func(t *testing.T, header string) {
		sigs, err := parseStandardSignatures(header)
		if err == nil && (len(sigs) == 0 || len(sigs) > maxSignatureCandidates) {
			t.Fatalf("accepted %q with %d signatures", header, len(sigs))
		}
	})
}

func FuzzParseSanitySignature(f *testing.F) {
	f.Add("t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0")
	f.Add("t=1 v1=abc")
	f.Add("t=,v1=")
	f.Add("t=1,v1=a,b")
	f.Fuzz(func(t *testing.T, header string) {
		ts, _, err := parseSanitySignature(header)
		if err != nil {
			return
		}
		if _, ok := parseUnsigned(ts); !ok {
			t.Fatalf("accepted timestamp %q from %q", ts, header)
		}
	})
}

func FuzzParseContentfulSignedHeaders(f *testing.F) {
	f.Add("x-contentful-signed-headers,x-contentful-timestamp")
	f.Add(" X-Contentful-Timestamp , x-contentful-signed-headers,x-contentful-topic,x-contentful-topic")
	f.Add(",")
	f.Fuzz(func(t *testing.T, list string) {
		names, err := parseContentfulSignedHeaders(list)
		if err != nil {
			return
		}
		if !slices.IsSorted(names) || !slices.Contains(names, contentfulTimestamp) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("%q gave %q", list, names)
		}
	})
}
