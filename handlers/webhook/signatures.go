package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// WebhookSignature configures signature verification: the request is
// authenticated by an HMAC over its raw body (and, depending on the preset,
// a timestamp, an id or the request line) computed with the handler's
// secret, as the CMS or platform signs its webhooks.
type WebhookSignature struct {
	// Preset names the signing scheme: "stripe" (Stripe-Signature
	// `t=<unix>,v1=<hex>`, also used by many other platforms),
	// "standard_webhooks" (webhook-id, webhook-timestamp, webhook-signature,
	// with a `whsec_` base64 secret), "shopify" (X-Shopify-Hmac-Sha256),
	// "github" (X-Hub-Signature-256), "sanity" (sanity-webhook-signature),
	// "contentful" (x-contentful-signature request signing) or "hmac" (a
	// generic HMAC of the body in a header of your choice).
	Preset string `json:"preset,omitempty"`
	// Tolerance is how far a signed timestamp may be from this server's
	// clock, either way. Presets without a signed timestamp (shopify,
	// github, hmac) ignore it. Default: 5m, except for sanity: 30m, because
	// Sanity retries a failed delivery for up to 30 minutes (its former
	// schedule; today two retries 30 seconds apart) and a retry may carry
	// the first attempt's signature and timestamp.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	// ReplayRetention is how long an acknowledged delivery is remembered, so
	// that a copy of it is refused with 409. Default: 24h for presets
	// without a signed timestamp (shopify, github, hmac), whose signature
	// never expires; twice the tolerance for the others, which refuse older
	// timestamps anyway. It cannot be shorter than twice the tolerance.
	ReplayRetention caddy.Duration `json:"replay_retention,omitempty"`
	// AllowUnsignedQuery lets the query string choose tags, paths and mode
	// for presets without a signed timestamp (shopify, github, hmac). Their
	// signature covers the body only, so whoever captured one delivery
	// could replay it, once its delivery is forgotten, with
	// `?tag=<anything>&path=/`; by default such a query is refused with
	// 400. Presets with a signed timestamp always accept the query (a copy
	// is refused within the tolerance and is too old after it).
	// Default: false.
	AllowUnsignedQuery bool `json:"allow_unsigned_query,omitempty"`
	// ReplayCacheSize bounds how many deliveries are remembered for replay
	// protection. Beyond it the least useful are forgotten early, so memory
	// stays bounded whatever the traffic. Default: 100000.
	ReplayCacheSize int `json:"replay_cache_size,omitempty"`
	// Header is the request header holding the signature (hmac preset only).
	Header string `json:"header,omitempty"`
	// Algorithm is the HMAC hash: "sha256" (default), "sha512" or "sha1"
	// (hmac preset only).
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is how the signature is written: "hex" (default) or "base64"
	// (standard or URL alphabet, padded or not) (hmac preset only).
	Encoding string `json:"encoding,omitempty"`
	// Prefix is text before the encoded signature in the header, such as
	// "sha256=" (hmac preset only).
	Prefix string `json:"prefix,omitempty"`
	// IDHeader names a request header carrying the sender's delivery id
	// (hmac preset only). The id is added to the replay id, so two
	// deliveries with identical bodies are both accepted while a retry
	// (same id) is refused as a copy; without it, a sender that signs the
	// same body twice within replay_retention gets 409 the second time.
	// The header is not signed: a captured delivery can be replayed under a
	// new id, which purges the same tags again and nothing else.
	// Default: none (the replay id is the signature alone).
	IDHeader string `json:"id_header,omitempty"`
}

// Signature presets.
const (
	PresetStripe           = "stripe"
	PresetStandardWebhooks = "standard_webhooks"
	PresetShopify          = "shopify"
	PresetGitHub           = "github"
	PresetSanity           = "sanity"
	PresetContentful       = "contentful"
	PresetHMAC             = "hmac"
)

// SignaturePresets lists the presets, for messages and docs.
var SignaturePresets = []string{
	PresetStripe, PresetStandardWebhooks, PresetShopify, PresetGitHub,
	PresetSanity, PresetContentful, PresetHMAC,
}

// Signature defaults.
const (
	DefaultSignatureTolerance = 5 * time.Minute
	DefaultSanityTolerance    = 30 * time.Minute
	DefaultReplayRetention    = 24 * time.Hour
	DefaultReplayCacheSize    = 100_000
)

func (s *WebhookSignature) tolerance() time.Duration {
	switch {
	case s.Tolerance != 0:
		return time.Duration(s.Tolerance)
	case s.Preset == PresetSanity:
		return DefaultSanityTolerance
	}
	return DefaultSignatureTolerance
}

// timestamped reports whether the preset signs a timestamp.
func (s *WebhookSignature) timestamped() bool {
	return s.Preset != PresetHMAC && s.Preset != PresetShopify && s.Preset != PresetGitHub
}

// replayRetention is how long a delivery is remembered. A signed timestamp
// is accepted from tolerance before now to tolerance after, so such a
// delivery must be remembered across that whole span at least.
func (s *WebhookSignature) replayRetention() time.Duration {
	if s.ReplayRetention > 0 {
		return time.Duration(s.ReplayRetention)
	}
	if s.timestamped() {
		return 2 * s.tolerance()
	}
	return DefaultReplayRetention
}

func (s *WebhookSignature) validate() error {
	if !slices.Contains(SignaturePresets, s.Preset) {
		return fmt.Errorf("preset must be one of %s, got %q", strings.Join(SignaturePresets, ", "), s.Preset)
	}
	if s.Tolerance < 0 {
		return errors.New("tolerance must be positive")
	}
	if s.ReplayCacheSize < 0 {
		return errors.New("replay_cache_size must be positive")
	}
	if s.ReplayRetention < 0 {
		return errors.New("replay_retention must be positive")
	}
	if s.ReplayRetention > 0 && s.timestamped() && time.Duration(s.ReplayRetention) < 2*s.tolerance() {
		return fmt.Errorf("replay_retention %s is shorter than twice the tolerance (%s): a copy of a delivery would be accepted while its timestamp still is", time.Duration(s.ReplayRetention), 2*s.tolerance())
	}
	if s.AllowUnsignedQuery && s.timestamped() {
		return fmt.Errorf("allow_unsigned_query only applies to presets without a signed timestamp (shopify, github, hmac), not %s", s.Preset)
	}
	if s.Preset != PresetHMAC {
		if s.Header != "" || s.Algorithm != "" || s.Encoding != "" || s.Prefix != "" || s.IDHeader != "" {
			return fmt.Errorf("header, algorithm, encoding, prefix and id_header belong to the hmac preset, not %s", s.Preset)
		}
		return nil
	}
	if s.Header == "" {
		return errors.New("the hmac preset needs the header that carries the signature")
	}
	if _, ok := hmacAlgorithms[s.algorithm()]; !ok {
		return fmt.Errorf("algorithm must be sha256, sha512 or sha1, got %q", s.Algorithm)
	}
	switch s.Encoding {
	case "", "hex", "base64":
	default:
		return fmt.Errorf("encoding must be hex or base64, got %q", s.Encoding)
	}
	return nil
}

func (s *WebhookSignature) algorithm() string {
	if s.Algorithm == "" {
		return "sha256"
	}
	return s.Algorithm
}

var hmacAlgorithms = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha512": sha512.New,
	"sha1":   sha1.New,
}

// signatureVerifier authenticates one request of a preset.
type signatureVerifier interface {
	// verify checks r's signature over body at now. On success it returns
	// the delivery's replay id: a value the sender's signature covers, so a
	// replay cannot change it.
	verify(r *http.Request, body []byte, now time.Time) (replayID string, err error)
	// timestamped reports whether the preset signs a timestamp.
	timestamped() bool
}

// authError is an authentication failure, answered with 401 and its message.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

func authErrorf(format string, args ...any) error {
	return &authError{msg: fmt.Sprintf(format, args...)}
}

// verifier builds the preset's verifier around the resolved secret.
func (s *WebhookSignature) verifier(secret string) (signatureVerifier, error) {
	tol := s.tolerance()
	key := []byte(secret)
	switch s.Preset {
	case PresetStripe:
		return &stripeVerifier{key: key, tolerance: tol}, nil
	case PresetStandardWebhooks:
		// The spec serialises the key as base64 after an optional whsec_
		// prefix; the HMAC key is the decoded bytes.
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(raw) == 0 {
			return nil, errors.New("a standard_webhooks secret is base64 after an optional whsec_ prefix")
		}
		return &standardWebhooksVerifier{key: raw, tolerance: tol}, nil
	case PresetShopify:
		return &shopifyVerifier{bodyHMACVerifier{key: key, newHash: sha256.New, header: "X-Shopify-Hmac-Sha256", decode: decodeBase64Any,
			idHeaders: []string{"X-Shopify-Webhook-Id", "Shopify-Webhook-Id", "X-Shopify-Event-Id", "Shopify-Event-Id"}}}, nil
	case PresetGitHub:
		return &bodyHMACVerifier{key: key, newHash: sha256.New, header: "X-Hub-Signature-256", prefix: "sha256=", decode: hex.DecodeString}, nil
	case PresetSanity:
		return &sanityVerifier{key: key, tolerance: tol}, nil
	case PresetContentful:
		return &contentfulVerifier{key: key, tolerance: tol}, nil
	case PresetHMAC:
		v := &bodyHMACVerifier{key: key, newHash: hmacAlgorithms[s.algorithm()], header: s.Header, prefix: s.Prefix, decode: hex.DecodeString}
		if s.Encoding == "base64" {
			v.decode = decodeBase64Any
		}
		if s.IDHeader != "" {
			v.idHeaders = []string{s.IDHeader}
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown preset %q", s.Preset)
}

// mac computes the HMAC of the concatenated parts.
func mac(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// matchAny reports which of the candidate signatures equals want, comparing
// each in constant time (hmac.Equal).
func matchAny(want []byte, candidates [][]byte) ([]byte, bool) {
	for _, c := range candidates {
		if hmac.Equal(want, c) {
			return c, true
		}
	}
	return nil, false
}

// checkTimestamp refuses a signed time further than tol from now.
func checkTimestamp(t, now time.Time, tol time.Duration) error {
	switch {
	case t.Before(now.Add(-tol)):
		return authErrorf("signature timestamp is older than the %s tolerance", tol)
	case t.After(now.Add(tol)):
		return authErrorf("signature timestamp is more than %s in the future", tol)
	}
	return nil
}

// parseUnsigned parses a decimal timestamp: digits only, no sign, no
// spaces, at most 19 digits, so no overflow and no surprise formats.
func parseUnsigned(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// stripeVerifier checks `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=...]`,
// an HMAC-SHA256 of "<t>.<body>" keyed with the secret as given (whsec_...
// included). Several v1 entries appear while a secret is rolled.
type stripeVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *stripeVerifier) timestamped() bool { return true }

func (v *stripeVerifier) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	header := r.Header.Get("Stripe-Signature")
	if header == "" {
		return "", authErrorf("missing Stripe-Signature header")
	}
	ts, sigs, err := parseStripeSignature(header)
	if err != nil {
		return "", err
	}
	if err := checkTimestamp(time.Unix(ts, 0), now, v.tolerance); err != nil {
		return "", err
	}
	want := mac(sha256.New, v.key, []byte(strconv.FormatInt(ts, 10)), []byte("."), body)
	matched, ok := matchAny(want, sigs)
	if !ok {
		return "", authErrorf("no v1 signature matches")
	}
	return string(matched), nil
}

// parseStripeSignature parses `t=<seconds>,v1=<hex>,...`: exactly one t,
// at least one v1; other schemes (v0) are ignored as Stripe's libraries do.
// A v1 that is not hex is kept out of the candidates: it cannot match.
func parseStripeSignature(header string) (ts int64, sigs [][]byte, err error) {
	seenT := false
	for item := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return 0, nil, authErrorf("malformed Stripe-Signature header")
		}
		switch k {
		case "t":
			if seenT {
				return 0, nil, authErrorf("Stripe-Signature header has more than one timestamp")
			}
			n, ok := parseUnsigned(val)
			if !ok {
				return 0, nil, authErrorf("Stripe-Signature timestamp is not a number")
			}
			ts, seenT = n, true
		case "v1":
			if len(sigs) >= maxSignatureCandidates {
				return 0, nil, authErrorf("Stripe-Signature header has too many signatures")
			}
			if b, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if !seenT {
		return 0, nil, authErrorf("Stripe-Signature header has no timestamp")
	}
	if len(sigs) == 0 {
		return 0, nil, authErrorf("Stripe-Signature header has no v1 signature")
	}
	return ts, sigs, nil
}

// maxSignatureCandidates bounds the signatures one header may list: senders
// list two while rolling a secret; more is noise or an attack.
const maxSignatureCandidates = 8

// standardWebhooksVerifier checks the Standard Webhooks scheme: an
// HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the
// base64-decoded secret, listed in webhook-signature as space-separated
// `v1,<base64>` entries. The id is signed, so it is the replay id (retries
// of one message keep it).
type standardWebhooksVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *standardWebhooksVerifier) timestamped() bool { return true }

func (v *standardWebhooksVerifier) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	// Svix and the senders built on it (Clerk, Resend, ...) send the same
	// scheme under svix-* names. One set is read whole, never mixed.
	prefix := "Webhook-"
	if r.Header.Get("Webhook-Id") == "" && r.Header.Get("Webhook-Signature") == "" && r.Header.Get("Svix-Id") != "" {
		prefix = "Svix-"
	}
	id := r.Header.Get(prefix + "Id")
	tsText := r.Header.Get(prefix + "Timestamp")
	header := r.Header.Get(prefix + "Signature")
	if id == "" || tsText == "" || header == "" {
		return "", authErrorf("missing webhook-id, webhook-timestamp or webhook-signature header (or their svix-id, svix-timestamp, svix-signature spellings)")
	}
	ts, ok := parseUnsigned(tsText)
	if !ok {
		return "", authErrorf("webhook-timestamp is not a number")
	}
	if err := checkTimestamp(time.Unix(ts, 0), now, v.tolerance); err != nil {
		return "", err
	}
	sigs, err := parseStandardSignatures(header)
	if err != nil {
		return "", err
	}
	want := mac(sha256.New, v.key, []byte(id), []byte("."), []byte(tsText), []byte("."), body)
	if _, ok := matchAny(want, sigs); !ok {
		return "", authErrorf("no v1 signature matches")
	}
	return id, nil
}

// parseStandardSignatures parses webhook-signature: space-separated
// `<version>,<base64>` entries. Only v1 (HMAC-SHA256) is understood; other
// versions (v1a, asymmetric) are skipped, as the spec allows.
func parseStandardSignatures(header string) ([][]byte, error) {
	var sigs [][]byte
	for entry := range strings.FieldsSeq(header) {
		version, val, ok := strings.Cut(entry, ",")
		if !ok {
			return nil, authErrorf("malformed webhook-signature entry")
		}
		if version != "v1" {
			continue
		}
		if len(sigs) >= maxSignatureCandidates {
			return nil, authErrorf("webhook-signature lists too many signatures")
		}
		if b, err := base64.StdEncoding.DecodeString(val); err == nil {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return nil, authErrorf("webhook-signature has no v1 signature")
	}
	return sigs, nil
}

// bodyHMACVerifier checks an HMAC of the raw body alone, in one header
// (Shopify, GitHub, generic). Nothing time-bound is signed, so the replay
// id is the signature itself.
type bodyHMACVerifier struct {
	key     []byte
	newHash func() hash.Hash
	header  string
	prefix  string
	decode  func(string) ([]byte, error)
	// idHeaders name the headers that may carry the sender's (unsigned)
	// delivery id, added to the replay id; the first present counts.
	idHeaders []string
}

func (v *bodyHMACVerifier) timestamped() bool { return false }

func (v *bodyHMACVerifier) verify(r *http.Request, body []byte, _ time.Time) (string, error) {
	got, err := parsePrefixedSignature(r.Header.Get(v.header), v.header, v.prefix, v.decode)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(mac(v.newHash, v.key, body), got) {
		return "", authErrorf("%s does not match", v.header)
	}
	for _, name := range v.idHeaders {
		if id := r.Header.Get(name); id != "" {
			if len(id) > maxDeliveryIDLength {
				return "", authErrorf("%s is longer than %d bytes", name, maxDeliveryIDLength)
			}
			return string(got) + "\x00" + id, nil
		}
	}
	return string(got), nil
}

// shopifyVerifier checks Shopify's HMAC-SHA256 of the body, base64, in
// X-Shopify-Hmac-Sha256 (webhooks) or Shopify-Hmac-Sha256 (Events
// deliveries), as @shopify/shopify-api accepts both. The replay id is the
// signature plus the delivery id (X-Shopify-Webhook-Id, Shopify-Event-Id,
// with or without X-), which Shopify keeps across retries: two genuine
// deliveries with the same body are then two deliveries, and a retry of an
// acknowledged one is a copy.
type shopifyVerifier struct{ bodyHMACVerifier }

func (v *shopifyVerifier) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	inner := v.bodyHMACVerifier
	if r.Header.Get(inner.header) == "" && r.Header.Get("Shopify-Hmac-Sha256") != "" {
		inner.header = "Shopify-Hmac-Sha256"
	}
	if r.Header.Get(inner.header) == "" {
		return "", authErrorf("missing X-Shopify-Hmac-Sha256 (or Shopify-Hmac-Sha256) header")
	}
	return inner.verify(r, body, now)
}

// maxDeliveryIDLength bounds a delivery id header: Shopify's are UUIDs.
const maxDeliveryIDLength = 256

// parsePrefixedSignature reads `<prefix><encoded signature>` from a header.
func parsePrefixedSignature(value, header, prefix string, decode func(string) ([]byte, error)) ([]byte, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, authErrorf("missing %s header", header)
	}
	encoded, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return nil, authErrorf("%s does not start with %q", header, prefix)
	}
	got, err := decode(encoded)
	if err != nil || len(got) == 0 {
		return nil, authErrorf("%s is not a well-formed signature", header)
	}
	return got, nil
}

// decodeBase64Any accepts the standard and URL alphabets, padded or not:
// senders differ and the alphabet carries no security meaning.
func decodeBase64Any(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// sanityVerifier checks `sanity-webhook-signature: t=<unix ms>,v1=<base64url>`,
// an HMAC-SHA256 of "<t>.<body>" in unpadded base64url, as
// @sanity/webhook signs.
type sanityVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *sanityVerifier) timestamped() bool { return true }

func (v *sanityVerifier) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	header := r.Header.Get("Sanity-Webhook-Signature")
	if header == "" {
		return "", authErrorf("missing sanity-webhook-signature header")
	}
	tsText, sig, err := parseSanitySignature(header)
	if err != nil {
		return "", err
	}
	ms, _ := parseUnsigned(tsText)
	if err := checkTimestamp(time.UnixMilli(ms), now, v.tolerance); err != nil {
		return "", err
	}
	if !hmac.Equal(mac(sha256.New, v.key, []byte(tsText), []byte("."), body), sig) {
		return "", authErrorf("sanity-webhook-signature does not match")
	}
	return string(sig), nil
}

// parseSanitySignature parses `t=<digits>,v1=<base64url>` (a comma and/or
// spaces between them, as @sanity/webhook accepts). The timestamp text is
// returned as sent because it is signed as sent.
func parseSanitySignature(header string) (ts string, sig []byte, err error) {
	rest, ok := strings.CutPrefix(header, "t=")
	if !ok {
		return "", nil, authErrorf("malformed sanity-webhook-signature header")
	}
	end := strings.IndexAny(rest, ", ")
	if end <= 0 {
		return "", nil, authErrorf("malformed sanity-webhook-signature header")
	}
	ts, rest = rest[:end], strings.TrimLeft(rest[end:], ", ")
	if _, ok := parseUnsigned(ts); !ok {
		return "", nil, authErrorf("sanity-webhook-signature timestamp is not a number")
	}
	encoded, ok := strings.CutPrefix(rest, "v1=")
	if !ok || encoded == "" || strings.ContainsAny(encoded, ", ") {
		return "", nil, authErrorf("malformed sanity-webhook-signature header")
	}
	sig, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return "", nil, authErrorf("sanity-webhook-signature is not base64url")
	}
	return ts, sig, nil
}

// contentfulVerifier checks Contentful's request signing: x-contentful-
// signature is the hex HMAC-SHA256 of the canonical request
// "<METHOD>\n<path>\n<headers>\n<body>", where <headers> are the headers
// named in x-contentful-signed-headers, lower-cased, trimmed, sorted by name
// and written `name:value` joined by ";". x-contentful-timestamp (unix ms)
// must itself be signed, or an old signature could be replayed with a fresh
// timestamp.
type contentfulVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *contentfulVerifier) timestamped() bool { return true }

const (
	contentfulSignature     = "x-contentful-signature"
	contentfulSignedHeaders = "x-contentful-signed-headers"
	contentfulTimestamp     = "x-contentful-timestamp"
)

func (v *contentfulVerifier) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	sigText := r.Header.Get(contentfulSignature)
	tsText := strings.TrimSpace(r.Header.Get(contentfulTimestamp))
	signedList := r.Header.Get(contentfulSignedHeaders)
	if sigText == "" || tsText == "" || signedList == "" {
		return "", authErrorf("missing x-contentful-signature, x-contentful-timestamp or x-contentful-signed-headers header")
	}
	sig, err := hex.DecodeString(strings.TrimSpace(sigText))
	if err != nil || len(sig) == 0 {
		return "", authErrorf("x-contentful-signature is not hex")
	}
	ms, ok := parseUnsigned(tsText)
	if !ok {
		return "", authErrorf("x-contentful-timestamp is not a number")
	}
	if err := checkTimestamp(time.UnixMilli(ms), now, v.tolerance); err != nil {
		return "", err
	}
	names, err := parseContentfulSignedHeaders(signedList)
	if err != nil {
		return "", err
	}
	var headers strings.Builder
	for i, name := range names {
		var value string
		if name == "host" {
			value = r.Host // Go moves Host out of r.Header.
		} else if vals, ok := r.Header[http.CanonicalHeaderKey(name)]; ok && len(vals) > 0 {
			value = vals[0]
		} else {
			return "", authErrorf("signed header %q is missing from the request", name)
		}
		if i > 0 {
			headers.WriteByte(';')
		}
		headers.WriteString(name)
		headers.WriteByte(':')
		headers.WriteString(strings.TrimSpace(value))
	}
	want := mac(sha256.New, v.key,
		[]byte(r.Method), []byte("\n"),
		[]byte(contentfulCanonicalPath(r)), []byte("\n"),
		[]byte(headers.String()), []byte("\n"),
		body)
	if !hmac.Equal(want, sig) {
		return "", authErrorf("x-contentful-signature does not match")
	}
	return string(sig), nil
}

// parseContentfulSignedHeaders returns the signed header names, lower-cased,
// trimmed, deduplicated and sorted as the signer orders them. The list must
// cover the timestamp and itself.
func parseContentfulSignedHeaders(list string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if len(names) >= 64 {
			return nil, authErrorf("x-contentful-signed-headers lists too many headers")
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if !slices.Contains(names, contentfulTimestamp) || !slices.Contains(names, contentfulSignedHeaders) {
		return nil, authErrorf("x-contentful-signed-headers must cover x-contentful-timestamp and itself")
	}
	slices.Sort(names)
	return names, nil
}

// contentfulCanonicalPath renders the request target the way Contentful's
// signer normalises it: the query, when present, is escaped as one
// component, then the whole target is URI-encoded.
func contentfulCanonicalPath(r *http.Request) string {
	target := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + jsEscape(r.URL.RawQuery, componentUnreserved)
	}
	return jsEscape(target, uriUnreserved)
}

// The characters JavaScript's encodeURIComponent and encodeURI leave as they
// are (besides ASCII letters and digits).
const (
	componentUnreserved = "-_.!~*'()"
	uriUnreserved       = "-_.!~*'();/?:@&=+$,#"
)

// jsEscape percent-encodes every byte of s outside letters, digits and keep,
// as JavaScript's encodeURI family does for UTF-8 text.
func jsEscape(s, keep string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
