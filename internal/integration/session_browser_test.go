package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestSessionCallbackInBrowser drives headless Chromium through a login
// callback on http://localhost and proves what only a browser can: the
// session cookie is stored with its attributes (Secure included: browsers
// treat http://localhost as a secure context), it goes back on the next
// same-site requests, scripts cannot read it, the redirect lands where it
// should (and never off-site), and logout removes it.
func TestSessionCallbackInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run installs it): %v", chromiumPath, err)
	}

	token := "tok-" + randomHex(t)
	port, otherPort := testharness.FreePort(t), testharness.FreePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	other := fmt.Sprintf("http://127.0.0.1:%d", otherPort)
	// /whoami answers whether the exact session cookie arrived, as a
	// boolean: it never echoes what the request carried.
	cfg := fmt.Sprintf(`http://localhost:%[1]d {
	session_callback /auth/callback {
		redirect_allowed_origins %[3]s
	}
	session_logout /auth/logout
	handle /whoami {
		@session header_regexp Cookie (^|;\s*)_token=%[4]s(;|$)
		header Content-Type application/json
		header Cache-Control no-store
		respond @session `+"`"+`{"cookie":true}`+"`"+` 200
		respond `+"`"+`{"cookie":false}`+"`"+` 200
	}
	handle /dashboard {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><title>dashboard</title><p id=page>dashboard</p>" 200
	}
	handle {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><title>home</title><p id=page>home</p>" 200
	}
}
http://127.0.0.1:%[2]d {
	header Content-Type "text/html; charset=utf-8"
	respond "<!doctype html><title>other</title><p id=page>other</p>" 200
}
`, port, otherPort, other, token)
	testharness.StartInProcess(t, cfg, "caddyfile")

	ctx := newBrowser(t)

	// 1. The callback: cookie set, redirect followed to the requested path.
	landed := navigate(t, ctx, base+callbackPath("/auth/callback", "session_token", token, "redirect_url", "/dashboard?tab=1"))
	if want := base + "/dashboard?tab=1"; landed != want {
		t.Fatalf("the callback landed on %q, want %q; page %q", landed, want, run(t, ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)))
	}
	if page := pageText(t, ctx); page != "dashboard" {
		t.Fatalf("page %q, want dashboard", page)
	}

	// 2. Stored with its attributes.
	ck := browserCookie(t, ctx, base+"/", "_token")
	if ck == nil {
		t.Fatal("the browser did not store the _token cookie (a Secure cookie over http://localhost must be accepted)")
	}
	if ck.Value != token || !ck.HTTPOnly || !ck.Secure || ck.SameSite != network.CookieSameSiteLax ||
		ck.Path != "/" || ck.Domain != "localhost" || !ck.Session {
		t.Fatalf("stored cookie %+v: want value %q, HttpOnly, Secure, SameSite=Lax, Path=/, host-only localhost, session", *ck, token)
	}

	// 3. Invisible to scripts, while document.cookie itself works.
	docCookie := run(t, ctx, chromedp.Evaluate[string](`document.cookie = "probe=visible; path=/"; document.cookie`))
	if !strings.Contains(docCookie, "probe=visible") {
		t.Fatalf("document.cookie %q does not show a script cookie; the check below would prove nothing", docCookie)
	}
	if strings.Contains(docCookie, "_token") || strings.Contains(docCookie, token) {
		t.Fatalf("document.cookie %q exposes the HttpOnly session cookie", docCookie)
	}

	// 4. Sent on the next same-site requests: a fetch and a navigation.
	if got := run(t, ctx, chromedp.Evaluate[string](`fetch("/whoami").then(r => r.text())`, chromedp.EvalAwaitPromise)); got != `{"cookie":true}` {
		t.Fatalf("fetch /whoami: %q, want the cookie to arrive", got)
	}
	navigate(t, ctx, base+"/whoami")
	if got := run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)); got != `{"cookie":true}` {
		t.Fatalf("navigation to /whoami: %q, want the cookie to arrive", got)
	}

	// 5. Hostile targets never leave the origin: the browser lands on the
	// default target.
	for _, target := range []string{"//evil.example/", "/\\evil.example", "/%2F%2Fevil.example", "https://evil.example/", "javascript:alert(1)"} {
		landed := navigate(t, ctx, base+callbackPath("/auth/callback", "session_token", token, "redirect_url", target))
		if landed != base+"/" {
			t.Errorf("redirect_url %q: landed on %q, want %s/", target, landed, base)
		}
	}

	// 6. An allowlisted origin is reached.
	landed = navigate(t, ctx, base+callbackPath("/auth/callback", "session_token", token, "redirect_url", other+"/welcome"))
	if landed != other+"/welcome" || pageText(t, ctx) != "other" {
		t.Errorf("allowlisted target: landed on %q, want %s/welcome", landed, other)
	}

	// 7. Logout removes the cookie and redirects.
	landed = navigate(t, ctx, base+callbackPath("/auth/logout", "redirect_url", "/dashboard"))
	if landed != base+"/dashboard" {
		t.Errorf("logout landed on %q, want %s/dashboard", landed, base)
	}
	if ck := browserCookie(t, ctx, base+"/", "_token"); ck != nil {
		t.Errorf("the session cookie survived logout: %+v", *ck)
	}
	if got := run(t, ctx, chromedp.Evaluate[string](`fetch("/whoami").then(r => r.text())`, chromedp.EvalAwaitPromise)); got != `{"cookie":false}` {
		t.Errorf("after logout, fetch /whoami: %q, want no cookie", got)
	}
}

// newBrowser starts headless Chromium with a fresh profile and flags that
// keep it off the (closed) network; it is stopped when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	// A fresh profile per run. t.TempDir registers its removal now, so it
	// runs after the browser-stopping cleanups registered below.
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancel)
	// Start the browser with a context that has no timeout (a timeout on
	// the first run would bound the browser's whole life).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting chromium: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not start within 60s")
	}
	return ctx
}

// run runs one browser action with a timeout and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// navigate loads u, following redirects as the browser does, and returns
// the URL the browser ended on.
func navigate(t *testing.T, ctx context.Context, u string) string {
	t.Helper()
	run(t, ctx, chromedp.Navigate(u))
	return run(t, ctx, chromedp.Location())
}

// pageText returns the text of the test pages' #page element.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Text(chromedp.CSS("#page")))
}

// browserCookie returns the cookie name the browser would send to u, read
// through the DevTools protocol (which sees HttpOnly cookies), or nil.
func browserCookie(t *testing.T, ctx context.Context, u, name string) *network.Cookie {
	t.Helper()
	res := run(t, ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	})
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
