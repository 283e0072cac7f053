// Package secret resolves the secrets of caddy-bff's configuration (webhook
// secrets, JWT keys, client secrets, Redis passwords). Configs name them
// with placeholders such as {env.REVALIDATE_SECRET_TOKEN} so they never
// appear in the adapted JSON; they are resolved at provision, and a secret
// that resolves to nothing is an error, never a silently empty key.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
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

// Digest is a secret kept only as its SHA-256 digest, for comparing tokens
// callers present with it.
type Digest [sha256.Size]byte

// NewDigest returns the digest of a resolved secret.
func NewDigest(resolved string) Digest { return sha256.Sum256([]byte(resolved)) }

// Matches compares a presented token with the secret in constant time.
// Both sides are hashed first: subtle.ConstantTimeCompare returns early on
// a length mismatch, so comparing the raw strings would tell an attacker
// the secret's length; digests are always 32 bytes, and how many leading
// bytes of them match says nothing about the token.
func (d *Digest) Matches(token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], d[:]) == 1
}
