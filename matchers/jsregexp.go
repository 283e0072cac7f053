package matchers

import (
	"fmt"
	"strings"
)

// JavaScript's line terminators (what `.` does not match) and white space
// (what `\s` matches), written for a character class.
const (
	jsLineTerminatorsGo = `\n\r\x{2028}\x{2029}`
	jsLineTerminatorsBT = `\n\r\u2028\u2029`
	jsSpaceGo           = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`
	jsSpaceBT           = `\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`
)

// translateJSRegexp rewrites a JavaScript regular expression (no flags, not
// in unicode mode, as Next.js's runtime builds it) for Go's regexp
// (backtracking false) or for regexp2 in ECMAScript mode (backtracking
// true), so that both match what JavaScript matches: `.` excludes every
// JavaScript line terminator, `\s` is JavaScript's white space, `$` is the
// end of input, `\uXXXX` is a code point. `\d`, `\w` and `\b` are ASCII in
// all three. What cannot be rendered faithfully is refused.
func translateJSRegexp(expr string, backtracking bool) (string, error) {
	lineTerm, space := jsLineTerminatorsGo, jsSpaceGo
	if backtracking {
		lineTerm, space = jsLineTerminatorsBT, jsSpaceBT
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\':
			if i+1 >= len(expr) {
				return "", fmt.Errorf("regular expression ends with \\")
			}
			i++
			e := expr[i]
			switch e {
			case 's':
				if inClass {
					b.WriteString(space)
				} else {
					b.WriteString("[" + space + "]")
				}
			case 'S':
				if inClass {
					return "", fmt.Errorf(`\S inside a character class is not supported`)
				}
				b.WriteString("[^" + space + "]")
			case 'u':
				if i+4 < len(expr) && isHex(expr[i+1:i+5]) {
					if backtracking {
						b.WriteString(`\u` + expr[i+1:i+5])
					} else {
						b.WriteString(`\x{` + expr[i+1:i+5] + `}`)
					}
					i += 4
				} else {
					return "", fmt.Errorf(`\u must be followed by four hex digits`)
				}
			case 'c', 'k':
				return "", fmt.Errorf(`\%c is not supported`, e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			if strings.HasPrefix(expr[i:], "[^]") {
				b.WriteString(`[\s\S]`)
				i += 2
				continue
			}
			if strings.HasPrefix(expr[i:], "[]") {
				b.WriteString(`[^\s\S]`)
				i++
				continue
			}
			inClass = true
			b.WriteByte(c)
			if i+1 < len(expr) && expr[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			// A leading ] is a literal in Go and .NET but closes an empty
			// class in JavaScript; path-to-regexp never writes one.
			if i+1 < len(expr) && expr[i+1] == ']' {
				return "", fmt.Errorf("a character class starting with ] is not supported")
			}
		case c == '.':
			b.WriteString("[^" + lineTerm + "]")
		case c == '$':
			// Go's $ without (?m) and regexp2's \z are both the end of
			// input; regexp2's $ would also match before a final newline.
			b.WriteString(`\z`)
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", fmt.Errorf("unterminated character class")
	}
	return b.String(), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
