package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Where a token was presented, for logs (never the token itself).
const (
	tokenFromHeader = "header"
	tokenFromBearer = "bearer"
	tokenFromQuery  = "query"
)

// presentedToken returns the token of the first source that has one, in
// order: the configured header, `Authorization: Bearer`, the query
// parameter. Only that token is checked, so a caller gets one guess per
// request whatever it sends.
func (h *RevalidateWebhook) presentedToken(r *http.Request, q url.Values) (token, source string) {
	if h.TokenHeader != "" {
		if v := strings.TrimSpace(r.Header.Get(h.TokenHeader)); v != "" {
			return v, tokenFromHeader
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, cred, ok := strings.Cut(strings.TrimSpace(auth), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if cred = strings.TrimSpace(cred); cred != "" {
				return cred, tokenFromBearer
			}
		}
	}
	if !h.DisableQueryToken {
		if v := q.Get(h.TokenQuery); v != "" {
			return v, tokenFromQuery
		}
	}
	return "", ""
}

// tokenMatches compares a presented token with the secret in constant
// time. Both sides are hashed first: subtle.ConstantTimeCompare returns
// early on a length mismatch, so comparing the raw strings would tell an
// attacker the secret's length; digests are always 32 bytes, and how many
// leading bytes of them match says nothing about the token.
func tokenMatches(secretDigest *[sha256.Size]byte, token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], secretDigest[:]) == 1
}
