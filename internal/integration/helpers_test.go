package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// reply is a response to send, its body read and closed.
type reply struct {
	status int
	header http.Header
	body   string
}

// cookies parses the reply's Set-Cookie lines as http.Response.Cookies
// does.
func (r reply) cookies() []*http.Cookie {
	return (&http.Response{Header: r.header}).Cookies()
}

// reqOpt is one addition to a request made by send: a header line, a
// cookie, a Host or a body. Tables of cases print it as the header line or
// cookie it stands for.
type reqOpt struct {
	kind        reqOptKind
	name, value string
}

type reqOptKind int

const (
	optHeader reqOptKind = iota
	optCookie
	optHost
	optBody
)

// withHeader adds the header line "name: value"; each line given for a name
// is sent.
func withHeader(name, value string) reqOpt { return reqOpt{optHeader, name, value} }

// withCookie adds name=value to the request's Cookie header.
func withCookie(name, value string) reqOpt { return reqOpt{optCookie, name, value} }

// withHost sends host as the request's Host instead of the URL's.
func withHost(host string) reqOpt { return reqOpt{optHost, "Host", host} }

// withBody sends body as the request body.
func withBody(body string) reqOpt { return reqOpt{optBody, "", body} }

func (o reqOpt) String() string {
	switch o.kind {
	case optCookie:
		return o.name + "=" + o.value
	case optBody:
		return "body " + strconv.Quote(o.value)
	}
	return o.name + ": " + o.value
}

// send makes one request with client and returns the reply. It fails the
// test when the request cannot be made or its body cannot be read.
func send(t testing.TB, client *http.Client, method, url string, opts ...reqOpt) reply {
	t.Helper()
	var body io.Reader
	for _, o := range opts {
		if o.kind == optBody {
			body = strings.NewReader(o.value)
		}
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		switch o.kind {
		case optHeader:
			req.Header.Add(o.name, o.value)
		case optCookie:
			req.AddCookie(&http.Cookie{Name: o.name, Value: o.value})
		case optHost:
			req.Host = o.value
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
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
