package webhook

import (
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
func (h *Handler) presentedToken(r *http.Request, q url.Values) (token, source string) {
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
	if !h.DisableTokenParam {
		if v := q.Get(h.TokenParam); v != "" {
			return v, tokenFromQuery
		}
	}
	return "", ""
}
