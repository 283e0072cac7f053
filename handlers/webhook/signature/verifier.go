package signature

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
	"strconv"
	"strings"
	"time"
)

// hmacAlgorithms are the hashes the generic hmac preset offers.
var hmacAlgorithms = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha512": sha512.New,
	"sha1":   sha1.New,
}

// Verifier authenticates the requests of one preset.
type Verifier interface {
	// Verify checks r's signature over body at now. On success it returns
	// the delivery's replay id: a value the sender's signature covers, so a
	// replay cannot change it. An error says why the request is refused,
	// in words safe to send back: it never holds the secret or a signature.
	Verify(r *http.Request, body []byte, now time.Time) (replayID string, err error)
}

// authError is an authentication failure, answered with 401 and its message.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

func authErrorf(format string, args ...any) error {
	return &authError{msg: fmt.Sprintf(format, args...)}
}

// NewVerifier builds the preset's verifier around the resolved secret.
func (c *Config) NewVerifier(secret string) (Verifier, error) {
	tol := c.ToleranceOrDefault()
	key := []byte(secret)
	switch c.Preset {
	case Stripe:
		return &stripeVerifier{key: key, tolerance: tol}, nil
	case StandardWebhooks:
		// The spec serialises the key as base64 after an optional whsec_
		// prefix; the HMAC key is the decoded bytes.
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(raw) == 0 {
			return nil, errors.New("a standard_webhooks secret is base64 after an optional whsec_ prefix")
		}
		return &standardWebhooksVerifier{key: raw, tolerance: tol}, nil
	case Shopify:
		return &shopifyVerifier{bodyHMACVerifier{key: key, newHash: sha256.New, header: "X-Shopify-Hmac-Sha256", decode: decodeBase64Any,
			idHeaders: []string{"X-Shopify-Webhook-Id", "Shopify-Webhook-Id", "X-Shopify-Event-Id", "Shopify-Event-Id"}}}, nil
	case GitHub:
		return &bodyHMACVerifier{key: key, newHash: sha256.New, header: "X-Hub-Signature-256", prefix: "sha256=", decode: hex.DecodeString}, nil
	case Sanity:
		return &sanityVerifier{key: key, tolerance: tol}, nil
	case Contentful:
		return &contentfulVerifier{key: key, tolerance: tol}, nil
	case HMAC:
		v := &bodyHMACVerifier{key: key, newHash: hmacAlgorithms[c.algorithm()], header: c.Header, prefix: c.Prefix, decode: hex.DecodeString}
		if c.Encoding == "base64" {
			v.decode = decodeBase64Any
		}
		if c.IDHeader != "" {
			v.idHeaders = []string{c.IDHeader}
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown preset %q", c.Preset)
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

// maxSignatureCandidates bounds the signatures one header may list: senders
// list two while rolling a secret; more is noise or an attack.
const maxSignatureCandidates = 8
