// Package secret resolves the secrets of caddy-bff's configuration (webhook
// secrets, JWT keys, client secrets, Redis passwords). Configs name them
// with placeholders such as {env.REVALIDATE_SECRET_TOKEN} so they never
// appear in the adapted JSON; they are resolved at provision, and a secret
// that resolves to nothing is an error, never a silently empty key.
package secret

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// Resolve expands the global placeholders ({env.*}, {file.*}, ...) of value.
// name says which setting it is, for the error, which never contains the
// value itself.
func Resolve(name, value string) (string, error) {
	resolved := caddy.NewReplacer().ReplaceKnown(value, "")
	if resolved == "" {
		return "", fmt.Errorf("%s resolved to an empty value: the %s is empty once its placeholders are resolved (is the environment variable set?)", name, name)
	}
	return resolved, nil
}
