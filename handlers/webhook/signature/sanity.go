package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// sanityVerifier checks `sanity-webhook-signature: t=<unix ms>,v1=<base64url>`,
// an HMAC-SHA256 of "<t>.<body>" in unpadded base64url, as
// @sanity/webhook signs.
type sanityVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *sanityVerifier) Verify(r *http.Request, body []byte, now time.Time) (string, error) {
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
