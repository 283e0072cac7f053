package caddybff

// The examples and adapt tests use caddy-ratelimit's rate_limit directive,
// which ./cmd/caddy compiles in beside this module.
import _ "github.com/mholt/caddy-ratelimit"
