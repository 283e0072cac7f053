// Package httpsyntax checks the small pieces of HTTP syntax that
// configuration names: tokens (cookie names, Cache-Status names) and the
// header names and values caddy-bff sets or reads.
package httpsyntax

import "strings"

// IsToken reports whether s is a non-empty RFC 9110 token, the grammar of
// cookie names and field names.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// IsHeaderName reports whether s is a header name caddy-bff accepts in
// configuration: letters, digits, '-' and '_', the names every proxy and
// application framework passes on unchanged.
func IsHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// IsHeaderValue reports whether s holds no control characters other than
// horizontal tab, so it cannot split or end a header line.
func IsHeaderValue(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}
