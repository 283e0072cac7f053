package webhook

import (
	"encoding/json"
	"slices"
	"testing"
)

// Fuzz targets for what the webhook parses from a caller's body (the
// signature headers are fuzzed in package signature). `go test` runs the
// seeds; `go test -fuzz=Fuzz...` explores further.

func FuzzParseNativeBody(f *testing.F) {
	f.Add([]byte(`{"tags":["a","b"],"paths":["/x"],"mode":"stale"}`))
	f.Add([]byte(`{"tags":null}`))
	f.Add([]byte(`{"tag":["a"]}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"tags":["a"]} {}`))
	f.Add([]byte(`{"tags":["\u0000"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		nb, err := parseNativeBody(body)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// What was accepted survives a round trip unchanged.
		again, err := json.Marshal(nb)
		if err != nil {
			t.Fatal(err)
		}
		nb2, err := parseNativeBody(again)
		if err != nil || !slices.Equal(nb.Tags, nb2.Tags) || !slices.Equal(nb.Paths, nb2.Paths) || nb.Mode != nb2.Mode {
			t.Fatalf("round trip of %q: %v", body, err)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"entity":{"attributes":{"tags":["a","b"]}}}`), "$.entity.attributes.tags")
	f.Add([]byte(`{"items":[{"slug":"x"},{"slug":null},{}]}`), "items.*.slug")
	f.Add([]byte(`[["a"],"b",{"c":"d"}]`), "*")
	f.Add([]byte(`{"a":1}`), "a")
	f.Add([]byte(`"top"`), "$")
	f.Fuzz(func(t *testing.T, body []byte, expr string) {
		p, err := parseJSONPath(expr)
		if err != nil {
			return
		}
		tags, _, err := parsePayload(body, []jsonPath{p}, nil)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = tags
	})
}
