package signature

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"strings"
	"time"
)

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

func (v *bodyHMACVerifier) Verify(r *http.Request, body []byte, _ time.Time) (string, error) {
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

func (v *shopifyVerifier) Verify(r *http.Request, body []byte, now time.Time) (string, error) {
	inner := v.bodyHMACVerifier
	if r.Header.Get(inner.header) == "" && r.Header.Get("Shopify-Hmac-Sha256") != "" {
		inner.header = "Shopify-Hmac-Sha256"
	}
	if r.Header.Get(inner.header) == "" {
		return "", authErrorf("missing X-Shopify-Hmac-Sha256 (or Shopify-Hmac-Sha256) header")
	}
	return inner.Verify(r, body, now)
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
