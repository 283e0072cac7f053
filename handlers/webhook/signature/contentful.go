package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"
)

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

const (
	contentfulSignature     = "x-contentful-signature"
	contentfulSignedHeaders = "x-contentful-signed-headers"
	contentfulTimestamp     = "x-contentful-timestamp"
)

func (v *contentfulVerifier) Verify(r *http.Request, body []byte, now time.Time) (string, error) {
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
