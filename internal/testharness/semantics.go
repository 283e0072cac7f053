package testharness

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// AssertRouteHandlerSemantics checks the Next.js route-handler method rules on
// the endpoint at url, which serves exactly the methods in served:
//   - OPTIONS answers 204 with an Allow header listing exactly served, plus
//     OPTIONS, plus HEAD when GET is served;
//   - a method that is not served answers 405 with the same Allow header and
//     a JSON body;
//   - no request header name or value is ever copied into a response: random
//     header names and values are sent with every request and must not
//     appear in any response header or body.
func AssertRouteHandlerSemantics(t *testing.T, client *http.Client, url string, served ...string) {
	t.Helper()
	want := map[string]bool{http.MethodOptions: true}
	for _, m := range served {
		want[m] = true
		if m == http.MethodGet {
			want[http.MethodHead] = true
		}
	}
	canaries := map[string]string{}
	for range 4 {
		canaries["X-Canary-"+randomToken(t)] = "canary-" + randomToken(t)
	}
	do := func(method string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range canaries {
			req.Header.Set(k, v)
		}
		req.Header.Set("Origin", "https://"+randomToken(t)+".example")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		assertNotReflected(t, method, resp, string(body), req.Header)
		return resp, string(body)
	}

	resp, _ := do(http.MethodOptions)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("OPTIONS: status %d, want 204", resp.StatusCode)
	}
	assertAllow(t, "OPTIONS", resp.Header.Get("Allow"), want)

	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
		if want[m] {
			do(m) // still checked for reflection
			continue
		}
		resp, body := do(m)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, resp.StatusCode)
			continue
		}
		assertAllow(t, m, resp.Header.Get("Allow"), want)
		if !json.Valid([]byte(body)) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: 405 body is not JSON (Content-Type %q): %q", m, resp.Header.Get("Content-Type"), body)
		}
	}
}

func assertAllow(t *testing.T, method, allow string, want map[string]bool) {
	t.Helper()
	var got []string
	for _, m := range strings.Split(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	var wantList []string
	for m := range want {
		wantList = append(wantList, m)
	}
	slices.Sort(got)
	slices.Sort(wantList)
	if !slices.Equal(got, wantList) {
		t.Errorf("%s: Allow %q, want exactly %v", method, allow, wantList)
	}
}

// assertNotReflected fails when any request header name or value appears in
// the response headers or body.
func assertNotReflected(t *testing.T, method string, resp *http.Response, body string, sent http.Header) {
	t.Helper()
	var respText strings.Builder
	for k, vs := range resp.Header {
		respText.WriteString(strings.ToLower(k) + ": " + strings.ToLower(strings.Join(vs, ",")) + "\n")
	}
	respText.WriteString(strings.ToLower(body))
	haystack := respText.String()
	for k, vs := range sent {
		if strings.HasPrefix(k, "X-Canary-") && strings.Contains(haystack, strings.ToLower(k)) {
			t.Errorf("%s: request header name %q reflected into the response", method, k)
		}
		for _, v := range vs {
			if strings.Contains(haystack, strings.ToLower(v)) {
				t.Errorf("%s: request header value %q reflected into the response", method, v)
			}
		}
	}
}

func randomToken(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
