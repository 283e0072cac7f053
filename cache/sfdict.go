package cache

import "strings"

// Targeted cache-control fields (RFC 9213) are Structured Field
// dictionaries (RFC 8941). A field that does not parse as one, or whose
// known directives have the wrong type (max-age="10000"), is ignored as a
// whole, and the cache falls back to the next targeted field or to
// Cache-Control.

// integerDirectives take a non-negative Integer; flagDirectives take no
// value (Boolean true) or, for no-cache and private, an Inner List of
// field names.
var (
	integerDirectives = map[string]bool{"max-age": true, "s-maxage": true, "stale-while-revalidate": true, "stale-if-error": true}
	flagDirectives    = map[string]bool{"no-store": true, "no-cache": true, "private": true, "public": true, "must-revalidate": true, "proxy-revalidate": true, "must-understand": true, "immutable": true, "no-transform": true}
)

// validTargetedField reports whether the field lines form a valid
// dictionary whose known directives have the types RFC 9213 gives them.
func validTargetedField(lines []string) bool {
	p := sfParser{s: strings.Join(lines, ",")}
	p.skipSP()
	if p.done() {
		return false
	}
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		kind := "true"
		if p.peek() == '=' {
			p.i++
			if kind, ok = p.memberValue(); !ok {
				return false
			}
		}
		if !p.params() {
			return false
		}
		switch {
		case integerDirectives[key] && kind != "integer":
			return false
		case flagDirectives[key] && kind != "true" && !(kind == "list" && (key == "no-cache" || key == "private")):
			return false
		}
		p.skipOWS()
		if p.done() {
			return true
		}
		if p.peek() != ',' {
			return false
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return false // a trailing comma
		}
	}
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// key parses lcalpha / "*" followed by lcalpha, digits, "_-.*".
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	p.i++
	for !p.done() {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

// memberValue parses an Item or an Inner List and says which kind of value
// it was: "integer", "decimal", "string", "token", "bytes", "true",
// "false" or "list".
func (p *sfParser) memberValue() (string, bool) {
	if p.peek() != '(' {
		return p.bareItem()
	}
	p.i++
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return "list", true
		}
		if _, ok := p.bareItem(); !ok || !p.params() {
			return "", false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return "", false
		}
	}
}

// params parses *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) bareItem() (string, bool) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		p.i++
		for !p.done() {
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return "", false
				}
				p.i++
			case c == '"':
				return "string", true
			case c < 0x20 || c > 0x7e:
				return "", false
			}
		}
		return "", false
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		p.i++
		for !p.done() && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return "token", true
	case c == ':':
		p.i++
		for !p.done() && p.s[p.i] != ':' {
			c := p.s[p.i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return "", false
			}
			p.i++
		}
		if p.done() {
			return "", false
		}
		p.i++
		return "bytes", true
	case c == '?':
		p.i++
		switch p.peek() {
		case '1':
			p.i++
			return "true", true
		case '0':
			p.i++
			return "false", true
		}
	}
	return "", false
}

// number parses an Integer (at most 15 digits) or a Decimal (at most 12
// integer and 3 fractional digits). A negative integer counts as a
// "decimal" here: no directive takes one.
func (p *sfParser) number() (string, bool) {
	negative := p.peek() == '-'
	if negative {
		p.i++
	}
	start := p.i
	for !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	intDigits := p.i - start
	if intDigits == 0 {
		return "", false
	}
	if p.peek() != '.' {
		if intDigits > 15 {
			return "", false
		}
		if negative {
			return "decimal", true
		}
		return "integer", true
	}
	p.i++
	fracStart := p.i
	for !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if frac := p.i - fracStart; intDigits > 12 || frac == 0 || frac > 3 {
		return "", false
	}
	return "decimal", true
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
