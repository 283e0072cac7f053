package tokenverify

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestClaimString(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"text", "text"},
		{float64(1700000000), "1700000000"},
		{1.5, "1.5"},
		{true, "true"},
		{nil, ""},
		{[]any{"a", "b"}, "a,b"},
		{[]any{"a", 1.0}, `["a",1]`},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
	}
	for _, tc := range cases {
		if got := ClaimString(tc.in); got != tc.want {
			t.Errorf("ClaimString(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSetPlaceholders(t *testing.T) {
	repl := caddy.NewReplacer()
	SetPlaceholders(repl, map[string]any{"sub": "u-1", "id": "not-the-sub", "roles": []any{"a", "b"}})
	for key, want := range map[string]string{"http.auth.user.id": "u-1", "http.auth.user.sub": "u-1", "http.auth.user.roles": "a,b"} {
		if got, _ := repl.GetString(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}
