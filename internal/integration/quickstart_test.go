package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// quickstartWalkthrough is the shell block of the README's "Quick start",
// verbatim: change it here first, then paste it there. Each `# n.` comment is
// the one-line expected result of the command under it; TestQuickstart runs
// every command against examples/Caddyfile and checks those results.
const quickstartWalkthrough = `
B=localhost:8080
TOKEN=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZW1vLXVzZXIiLCJleHAiOjQxMDI0NDQ4MDB9.gKSVluacO1mw-0Dc6nkyPHUSpkWkv0P9FzAxHXQNVgc

# 1. A page the upstream tags "posts": 200, Cache-Status: caddy-bff; fwd=uri-miss; ttl=3600; stored
curl -si $B/posts
# 2. Again: 200 from memory, same body, Cache-Status: caddy-bff; hit; ttl=3599
curl -si $B/posts
# 3. The CMS webhook without its secret: 401 {"success":false,"error":"missing token"}
curl -si "$B/api/revalidate?tag=posts"
# 4. revalidateTag('posts') from the CMS: 200 {"success":true,"revalidated":true,...,"tags":["posts"]...}
curl -si "$B/api/revalidate?token=quickstart-demo-revalidate-secret&tag=posts"
# 5. The page is rendered anew: 200, Cache-Status: caddy-bff; fwd=miss; detail=invalidated; ttl=3600; stored
curl -si $B/posts
# 6. /api/* without a session: 401 {"success":false,"message":"authentication failed"}
curl -si $B/api/me
# 7. The login callback: 307 to /api/me, Set-Cookie: _token=...; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax
curl -si -c jar "$B/api/auth/callback?session_token=$TOKEN&redirect_url=/api/me"
# 8. With the cookie: 200 {"user":"demo-user"}, the X-User-Id the upstream received
curl -si -b jar $B/api/me
# 9. Five more within a minute, then: 429 {"error":"Rate limit exceeded"} with Retry-After
for i in 1 2 3 4 5; do curl -s -o /dev/null -b jar $B/api/me; done; curl -si -b jar $B/api/me
# 10. Route-handler methods: 204, Allow: GET, HEAD, OPTIONS, POST
curl -si -X OPTIONS $B/api/revalidate
# 11. A method it does not serve: 405 {"success":false,"error":"method DELETE is not allowed; ..."}, same Allow
curl -si -X DELETE $B/api/revalidate
# 12. Logout: 303 to /, Set-Cookie: _token=; ...; Max-Age=0
curl -si -b jar -c jar -X POST $B/api/auth/logout
# 13. The session is gone: 401 again
curl -si -b jar $B/api/me
`

// TestQuickstart runs examples/Caddyfile exactly as the README's first
// command does (the built ./cmd/caddy, nothing set but the ports), then
// every line of the README's walkthrough, checking statuses, the headers
// that matter and the bodies.
func TestQuickstart(t *testing.T) {
	caddyfile := readExample(t, "Caddyfile")
	if !strings.Contains(caddyfile, "http://localhost:{$PORT:8080} {") {
		t.Fatal("examples/Caddyfile no longer serves http://localhost:{$PORT:8080}; update the walkthrough and this test")
	}
	// The demo must run with nothing set: the secrets' defaults are the
	// ones the walkthrough uses.
	for _, name := range []string{"REVALIDATE_SECRET", "PORT", "UPSTREAM_PORT"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}

	lines := qsParse(t, quickstartWalkthrough)
	sh := newQSShell(t)
	port, upstream := testharness.FreePort(t), testharness.FreePort(t)
	for _, l := range lines {
		if l.step != nil {
			break
		}
		m := qsAssignment.FindStringSubmatch(l.assign)
		sh.vars[m[1]] = m[2]
	}
	if sh.vars["B"] != "localhost:8080" {
		t.Fatalf("the walkthrough's B is %q, want localhost:8080 (the Caddyfile's default)", sh.vars["B"])
	}
	token := sh.vars["TOKEN"]
	if token == "" || !strings.Contains(caddyfile, "#   "+token+"\n") {
		t.Fatal("the walkthrough's TOKEN is not the demo token documented in examples/Caddyfile")
	}
	sh.vars["B"] = "localhost:" + strconv.Itoa(port)

	proc := testharness.StartBinary(t, caddyfile, "PORT="+strconv.Itoa(port), "UPSTREAM_PORT="+strconv.Itoa(upstream))
	for _, p := range []int{port, upstream} {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		testharness.WaitFor(t, 20*time.Second, "the quick start listening on "+addr, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}

	var firstPosts string
	wantAPI401 := func(t *testing.T, a reply) {
		t.Helper()
		qsWant(t, a, 401)
		qsWantJSON(t, a, map[string]any{"success": false, "message": "authentication failed"})
		if a.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}
	checks := map[int]func(t *testing.T, answers []reply){
		1: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 200)
			qsWantHeader(t, a, "Cache-Status", "caddy-bff; fwd=uri-miss; ttl=3600; stored")
			if !strings.HasPrefix(a.body, "posts rendered at ") {
				t.Errorf("body %q", a.body)
			}
			for _, h := range []string{"X-Next-Cache-Tags", "Cache-Tag"} {
				if v := a.header.Get(h); v != "" {
					t.Errorf("the tag header %s reached the client: %q", h, v)
				}
			}
			firstPosts = a.body
		},
		2: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 200)
			if cs := a.header.Get("Cache-Status"); !regexp.MustCompile(`^caddy-bff; hit; ttl=(3599|3600)$`).MatchString(cs) {
				t.Errorf("Cache-Status %q, want caddy-bff; hit; ttl=3599", cs)
			}
			if a.body != firstPosts || a.header.Get("Age") == "" {
				t.Errorf("a HIT with body %q (first %q) and Age %q", a.body, firstPosts, a.header.Get("Age"))
			}
		},
		3: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 401)
			qsWantJSON(t, a, map[string]any{"success": false, "error": "missing token"})
			qsWantHeader(t, a, "Cache-Control", "no-store")
			if a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		},
		4: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 200)
			m := qsJSON(t, a)
			if m["success"] != true || m["revalidated"] != true || m["mode"] != "expire" || !reflect.DeepEqual(m["tags"], []any{"posts"}) {
				t.Errorf("webhook answer %s", a.body)
			}
			qsWantHeader(t, a, "Cache-Control", "no-store")
		},
		5: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 200)
			qsWantHeader(t, a, "Cache-Status", "caddy-bff; fwd=miss; detail=invalidated; ttl=3600; stored")
			if a.body == firstPosts || !strings.HasPrefix(a.body, "posts rendered at ") {
				t.Errorf("after the revalidation the body is %q (first %q), want a new rendering", a.body, firstPosts)
			}
		},
		6: func(t *testing.T, answers []reply) { wantAPI401(t, qsOne(t, answers)) },
		7: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 307)
			qsWantHeader(t, a, "Location", "/api/me")
			qsWantHeader(t, a, "Set-Cookie", "_token="+token+"; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax")
			qsWantHeader(t, a, "Cache-Control", "no-store")
			qsWantHeader(t, a, "Referrer-Policy", "no-referrer")
		},
		8: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 200)
			qsWantJSON(t, a, map[string]any{"user": "demo-user"})
			// The identity is auth_proxy's, never the client's own.
			a = sh.curl(`curl -si -b jar -H 'X-User-Id: admin' $B/api/me`)
			qsWant(t, a, 200)
			qsWantJSON(t, a, map[string]any{"user": "demo-user"})
			wantAPI401(t, sh.curl(`curl -si -H 'X-User-Id: admin' $B/api/me`))
		},
		9: func(t *testing.T, answers []reply) {
			if len(answers) != 6 {
				t.Fatalf("%d answers, want 6", len(answers))
			}
			for i, a := range answers[:5] {
				if a.status != 200 && a.status != 429 {
					t.Errorf("request %d of the loop: %d %q, want 200 or 429", i+1, a.status, a.body)
				}
			}
			a := answers[5]
			qsWant(t, a, 429)
			qsWantJSON(t, a, map[string]any{"error": "Rate limit exceeded"})
			qsWantHeader(t, a, "Cache-Control", "no-store")
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After %q, want 1 to 60 seconds", a.header.Get("Retry-After"))
			}
		},
		10: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 204)
			qsWantHeader(t, a, "Allow", "GET, HEAD, OPTIONS, POST")
			if a.body != "" {
				t.Errorf("204 with a body %q", a.body)
			}
		},
		11: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 405)
			qsWantHeader(t, a, "Allow", "GET, HEAD, OPTIONS, POST")
			qsWantJSON(t, a, map[string]any{"success": false, "error": "method DELETE is not allowed; allowed: GET, HEAD, OPTIONS, POST"})
		},
		12: func(t *testing.T, answers []reply) {
			a := qsOne(t, answers)
			qsWant(t, a, 303)
			qsWantHeader(t, a, "Location", "/")
			qsWantHeader(t, a, "Set-Cookie", "_token=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
			if len(sh.jars["jar"]) != 0 {
				t.Errorf("the jar still holds %v after the logout", sh.jars["jar"])
			}
		},
		13: func(t *testing.T, answers []reply) { wantAPI401(t, qsOne(t, answers)) },
	}

	ran := 0
	for _, l := range lines {
		if l.step == nil {
			continue
		}
		step := l.step
		check, ok := checks[step.n]
		if !ok {
			t.Fatalf("walkthrough step %d (%s) has no check in this test", step.n, step.command)
		}
		ok = t.Run("step"+strconv.Itoa(step.n), func(t *testing.T) {
			sh.t = t
			answers := sh.run(step.command)
			t.Logf("%s\n-> %d answer(s), the last %d %q", step.command, len(answers), answers[len(answers)-1].status, answers[len(answers)-1].body)
			// The README's one-line result names the status the user sees.
			if last := answers[len(answers)-1].status; !regexp.MustCompile(`\b` + strconv.Itoa(last) + `\b`).MatchString(step.expected) {
				t.Errorf("step %d's expected result %q does not name the status %d", step.n, step.expected, last)
			}
			check(t, answers)
		})
		if !ok {
			t.Fatalf("step %d failed; the later steps depend on it. Caddy's log:\n%s", step.n, proc.LogText())
		}
		ran++
	}
	if ran != len(checks) {
		t.Fatalf("the walkthrough has %d steps, this test checks %d", ran, len(checks))
	}
}

// qsOne returns the single answer of a one-request step.
func qsOne(t *testing.T, answers []reply) reply {
	t.Helper()
	if len(answers) != 1 {
		t.Fatalf("%d answers, want 1", len(answers))
	}
	return answers[0]
}

func qsWant(t *testing.T, a reply, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; headers %v; body %q", a.status, status, a.header, a.body)
	}
}

func qsWantHeader(t *testing.T, a reply, name, want string) {
	t.Helper()
	if got := a.header.Values(name); len(got) != 1 || got[0] != want {
		t.Errorf("%s %q, want %q", name, got, want)
	}
}

// qsJSON decodes a JSON object answer with the JSON content type.
func qsJSON(t *testing.T, a reply) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %q", a.body)
	}
	return m
}

// qsWantJSON checks a JSON answer's whole body.
func qsWantJSON(t *testing.T, a reply, want map[string]any) {
	t.Helper()
	if got := qsJSON(t, a); !reflect.DeepEqual(got, want) {
		t.Errorf("body %s, want %v", a.body, want)
	}
}

// TestQuickstartIsTheREADMEs: the walkthrough TestQuickstart runs is the one
// the README shows, line for line.
func TestQuickstartIsTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := "```sh\n" + strings.TrimLeft(quickstartWalkthrough, "\n") + "```\n"
	if !strings.Contains(string(readme), block) {
		t.Fatalf("README.md's Quick start no longer shows the walkthrough quickstart_test.go runs; copy it from quickstartWalkthrough:\n%s", block)
	}
}
