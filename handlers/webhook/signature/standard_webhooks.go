package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// standardWebhooksVerifier checks the Standard Webhooks scheme: an
// HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the
// base64-decoded secret, listed in webhook-signature as space-separated
// `v1,<base64>` entries. The id is signed, so it is the replay id (retries
// of one message keep it).
type standardWebhooksVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *standardWebhooksVerifier) Verify(r *http.Request, body []byte, now time.Time) (string, error) {
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
