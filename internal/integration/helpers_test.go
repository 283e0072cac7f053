package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// get sends a GET and returns the response with its body read.
func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	return doRequest(t, client, http.MethodGet, url, nil, nil)
}

func doRequest(t *testing.T, client *http.Client, method, url string, body []byte, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// decodeJSON decodes body into a map, failing the test when it is not JSON.
func decodeJSON(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, body)
	}
	return m
}

// readExample returns an example Caddyfile of the repository.
func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// portEnv sets name to a free port for the test and returns the port.
func portEnv(t *testing.T, name string) string {
	t.Helper()
	p := strconv.Itoa(testharness.FreePort(t))
	t.Setenv(name, p)
	return p
}
