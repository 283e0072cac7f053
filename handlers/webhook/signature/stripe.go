package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// stripeVerifier checks `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=...]`,
// an HMAC-SHA256 of "<t>.<body>" keyed with the secret as given (whsec_...
// included). Several v1 entries appear while a secret is rolled.
type stripeVerifier struct {
	key       []byte
	tolerance time.Duration
}

func (v *stripeVerifier) Verify(r *http.Request, body []byte, now time.Time) (string, error) {
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
