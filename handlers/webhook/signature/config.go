// Package signature holds the webhook signature presets of the
// revalidate_webhook handler: the configuration of its `signature` block
// and one verifier per signing scheme (Stripe, Standard Webhooks, Shopify,
// GitHub, Sanity, Contentful and a generic HMAC), each checking a request's
// signature over its raw body as the sender computes it.
package signature

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Config is the `signature` block of revalidate_webhook: the request is
// authenticated by an HMAC over its raw body (and, depending on the preset,
// a timestamp, an id or the request line) computed with the handler's
// secret, as the CMS or platform signs its webhooks.
type Config struct {
	// The signing scheme: `stripe` (Stripe-Signature `t=<unix>,v1=<hex>`,
	// also used by many other platforms), `standard_webhooks` (webhook-id,
	// webhook-timestamp and webhook-signature, with a `whsec_` base64
	// secret), `shopify` (X-Shopify-Hmac-Sha256), `github`
	// (X-Hub-Signature-256), `sanity` (sanity-webhook-signature),
	// `contentful` (x-contentful-signature request signing) or `hmac` (a
	// generic HMAC of the body in a header of your choice). Required.
	Preset string `json:"preset,omitempty"`

	// How far a signed timestamp may be from this server's clock, either
	// way. Presets without a signed timestamp (`shopify`, `github`, `hmac`)
	// ignore it. Default: `5m`, except for `sanity`: `30m`, because Sanity
	// retries a failed delivery for up to 30 minutes and a retry may carry
	// the first attempt's signature and timestamp.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// How long an acknowledged delivery is remembered, so that a copy of it
	// is refused with 409. It cannot be shorter than twice `tolerance`.
	// Default: `24h` for presets without a signed timestamp (`shopify`,
	// `github`, `hmac`), whose signature never expires; twice `tolerance`
	// for the others, which refuse older timestamps anyway.
	ReplayRetention caddy.Duration `json:"replay_retention,omitempty"`

	// Lets the query string choose tags, paths and mode for presets without
	// a signed timestamp (`shopify`, `github`, `hmac`). Their signature
	// covers the body only, so whoever captured one delivery could replay
	// it, once it is forgotten, with `?tag=<anything>&path=/`; by default
	// such a query is refused with 400. Presets with a signed timestamp
	// always accept the query (a copy is refused within the tolerance and is
	// too old after it). Default: false.
	AllowUnsignedQuery bool `json:"allow_unsigned_query,omitempty"`

	// The most deliveries remembered for replay protection. Beyond it the
	// least useful are forgotten early, so memory stays bounded whatever
	// the traffic. Default: 100000.
	MaxReplayEntries int `json:"max_replay_entries,omitempty"`

	// The request header holding the signature (`hmac` preset only;
	// required there).
	Header string `json:"header,omitempty"`

	// The HMAC hash: `sha256`, `sha512` or `sha1` (`hmac` preset only).
	// Default: `sha256`.
	Algorithm string `json:"algorithm,omitempty"`

	// How the signature is written: `hex` or `base64` (standard or URL
	// alphabet, padded or not) (`hmac` preset only). Default: `hex`.
	Encoding string `json:"encoding,omitempty"`

	// Text before the encoded signature in `header`, such as `sha256=`
	// (`hmac` preset only). Default: none.
	Prefix string `json:"prefix,omitempty"`

	// A request header carrying the sender's delivery id (`hmac` preset
	// only). The id is added to the replay id, so two deliveries with
	// identical bodies are both accepted while a retry (same id) is refused
	// as a copy; without it, a sender that signs the same body twice within
	// `replay_retention` gets 409 the second time. The header is not signed:
	// a captured delivery can be replayed under a new id, which purges the
	// same tags again and nothing else. Default: none (the replay id is the
	// signature alone).
	IDHeader string `json:"id_header,omitempty"`
}

// The presets.
const (
	Stripe           = "stripe"
	StandardWebhooks = "standard_webhooks"
	Shopify          = "shopify"
	GitHub           = "github"
	Sanity           = "sanity"
	Contentful       = "contentful"
	HMAC             = "hmac"
)

// Presets lists the presets, for messages and docs.
var Presets = []string{Stripe, StandardWebhooks, Shopify, GitHub, Sanity, Contentful, HMAC}

// Defaults of the block.
const (
	DefaultTolerance        = 5 * time.Minute
	DefaultSanityTolerance  = 30 * time.Minute
	DefaultReplayRetention  = 24 * time.Hour
	DefaultMaxReplayEntries = 100_000
)

// ToleranceOrDefault is how far a signed timestamp may be from now.
func (c *Config) ToleranceOrDefault() time.Duration {
	switch {
	case c.Tolerance != 0:
		return time.Duration(c.Tolerance)
	case c.Preset == Sanity:
		return DefaultSanityTolerance
	}
	return DefaultTolerance
}

// Timestamped reports whether the preset signs a timestamp.
func (c *Config) Timestamped() bool {
	return c.Preset != HMAC && c.Preset != Shopify && c.Preset != GitHub
}

// ReplayRetentionOrDefault is how long a delivery is remembered. A signed
// timestamp is accepted from the tolerance before now to the tolerance
// after, so such a delivery must be remembered across that whole span at
// least.
func (c *Config) ReplayRetentionOrDefault() time.Duration {
	if c.ReplayRetention > 0 {
		return time.Duration(c.ReplayRetention)
	}
	if c.Timestamped() {
		return 2 * c.ToleranceOrDefault()
	}
	return DefaultReplayRetention
}

// MaxReplayEntriesOrDefault is how many deliveries are remembered.
func (c *Config) MaxReplayEntriesOrDefault() int {
	if c.MaxReplayEntries > 0 {
		return c.MaxReplayEntries
	}
	return DefaultMaxReplayEntries
}

// Validate checks the block.
func (c *Config) Validate() error {
	if !slices.Contains(Presets, c.Preset) {
		return fmt.Errorf("preset must be one of %s, got %q", strings.Join(Presets, ", "), c.Preset)
	}
	if c.Tolerance < 0 {
		return errors.New("tolerance must be positive")
	}
	if c.MaxReplayEntries < 0 {
		return errors.New("max_replay_entries must be positive")
	}
	if c.ReplayRetention < 0 {
		return errors.New("replay_retention must be positive")
	}
	if c.ReplayRetention > 0 && c.Timestamped() && time.Duration(c.ReplayRetention) < 2*c.ToleranceOrDefault() {
		return fmt.Errorf("replay_retention %s is shorter than twice the tolerance (%s): a copy of a delivery would be accepted while its timestamp still is", time.Duration(c.ReplayRetention), 2*c.ToleranceOrDefault())
	}
	if c.AllowUnsignedQuery && c.Timestamped() {
		return fmt.Errorf("allow_unsigned_query only applies to presets without a signed timestamp (shopify, github, hmac), not %s", c.Preset)
	}
	if c.Preset != HMAC {
		if c.Header != "" || c.Algorithm != "" || c.Encoding != "" || c.Prefix != "" || c.IDHeader != "" {
			return fmt.Errorf("header, algorithm, encoding, prefix and id_header belong to the hmac preset, not %s", c.Preset)
		}
		return nil
	}
	return c.validateHMAC()
}

// validateHMAC checks the options of the generic hmac preset.
func (c *Config) validateHMAC() error {
	if c.Header == "" {
		return errors.New("the hmac preset needs the header that carries the signature")
	}
	if _, ok := hmacAlgorithms[c.algorithm()]; !ok {
		return fmt.Errorf("algorithm must be sha256, sha512 or sha1, got %q", c.Algorithm)
	}
	switch c.Encoding {
	case "", "hex", "base64":
	default:
		return fmt.Errorf("encoding must be hex or base64, got %q", c.Encoding)
	}
	return nil
}

func (c *Config) algorithm() string {
	if c.Algorithm == "" {
		return "sha256"
	}
	return c.Algorithm
}
