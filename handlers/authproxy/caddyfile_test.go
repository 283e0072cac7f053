package authproxy

import (
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalOnFail(t *testing.T) {
	const jwt = "jwt {\n secret {env.S}\n}\n"
	var a Handler
	d := caddyfile.NewTestDispenser("auth_proxy {\n" + jwt + "on_fail redirect /login 302 {\n allowed_origins https://a.example\n default /login\n}\nrealm r\n}")
	if err := a.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	r := a.Redirect
	if r == nil || r.To != "/login" || r.Status != 302 || !slices.Equal(r.AllowedOrigins, []string{"https://a.example"}) || r.Default != "/login" || a.Realm != "r" {
		t.Fatalf("redirect %+v, realm %q", r, a.Realm)
	}

	a = Handler{}
	d = caddyfile.NewTestDispenser("auth_proxy {\n" + jwt + "on_fail redirect /login\non_fail json\n}")
	if err := a.UnmarshalCaddyfile(d); err != nil || a.Redirect != nil {
		t.Fatalf("on_fail json after redirect: %v, redirect %+v", err, a.Redirect)
	}

	for input, want := range map[string]string{
		"on_fail json extra":               "wrong argument count",
		"on_fail json {\n x\n}":            "wrong argument count",
		"on_fail page":                     `expected json or redirect, got "page"`,
		"on_fail redirect":                 "needs a target",
		"on_fail redirect /l {\n to /x\n}": `unrecognized on_fail redirect option "to"`,
	} {
		a = Handler{}
		err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("auth_proxy {\n" + jwt + input + "\n}"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", input, err, want)
		}
	}
}
