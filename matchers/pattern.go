package matchers

//lint:file-ignore ST1005 pattern errors repeat path-to-regexp's messages, the wording Next.js users see for the same mistake

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// regexpMatchTimeout bounds one backtracking match. Patterns come from the
// configuration, but paths come from clients: a pattern with nested
// quantifiers must not let a crafted path pin a CPU.
const regexpMatchTimeout = 50 * time.Millisecond

// Pattern is a compiled Next.js middleware matcher pattern. It is compiled
// the way `next build` compiles `config.matcher` of proxy.ts / middleware.ts
// (Next.js 16): the source is wrapped in the optional data-route prefix
// `/:nextData(_next/data/[^/]{1,})?` and the optional transport suffix
// (`.json`, `.rsc`, `.segments/….segment.rsc`), then turned into a regular
// expression by path-to-regexp 6 with its defaults (non-strict: one
// optional trailing `/`, `#` or `?`). Like Next.js's runtime, which builds
// `new RegExp(regexp)` without flags, it matches case-sensitively with
// JavaScript regular-expression semantics.
type Pattern struct {
	source string
	// Regexp is the JavaScript regular expression Next.js would write into
	// its middleware manifest for this pattern.
	Regexp string
	// Names are the placeholder names of the capture groups, in order:
	// the parameter name, or its index for unnamed `(regex)` groups.
	Names []string
	re    *regexp.Regexp  // RE2 engine, when the pattern allows it
	re2   *regexp2.Regexp // backtracking engine, for lookaround
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.source }

// Backtracking reports whether the pattern needed the backtracking engine
// (lookahead, lookbehind or backreferences).
func (p *Pattern) Backtracking() bool { return p.re2 != nil }

// Match reports whether s matches the pattern's regular expression and
// returns the parameter values by name (a parameter that did not
// participate is absent). An error means the backtracking engine gave up
// (a pathological pattern).
func (p *Pattern) Match(s string) (bool, map[string]string, error) {
	if p.re != nil {
		m := p.re.FindStringSubmatchIndex(s)
		if m == nil {
			return false, nil, nil
		}
		var params map[string]string
		for i, name := range p.Names {
			if start := m[2*(i+1)]; start >= 0 && name != "" {
				if params == nil {
					params = make(map[string]string, len(p.Names))
				}
				params[name] = s[start:m[2*(i+1)+1]]
			}
		}
		return true, params, nil
	}
	m, err := p.re2.FindStringMatch(s)
	if err != nil {
		// regexp2's error quotes the input; the path is client data.
		return false, nil, fmt.Errorf("path pattern %s: match time limit exceeded", p.source)
	}
	if m == nil {
		return false, nil, nil
	}
	var params map[string]string
	for i, name := range p.Names {
		g := m.GroupByNumber(i + 1)
		if name == "" || g == nil || len(g.Captures) == 0 {
			continue
		}
		if params == nil {
			params = make(map[string]string, len(p.Names))
		}
		params[name] = g.String()
	}
	return true, params, nil
}

// Next.js's wrapping of a middleware matcher source
// (next/dist/build/analysis/get-page-static-info.js, getMiddlewareMatchers,
// without basePath and i18n).
const (
	nextDataPrefix      = `/:nextData(_next/data/[^/]{1,})?`
	nextTransportSuffix = `\.rsc|\.segments/.+\.segment\.rsc`
	nextDataSuffix      = `{(\.json|` + nextTransportSuffix + `)}?`
	nextRootSuffix      = `(/?index|/?index\.json|/?index(?:` + nextTransportSuffix + `))?`
	// maxPatternLength is Next.js's limit on a matcher source.
	maxPatternLength = 4096
)

// CompilePattern compiles a Next.js matcher pattern such as
// `/api/:function*`, `/blog/:slug`, `/docs/:path+`, `/shop/:id(\d+)` or
// `/((?!api|_next/static|_next/image|favicon.ico).*)`. Patterns must start
// with `/`; what path-to-regexp refuses is refused here with its reason.
// Patterns whose regex groups need lookaround or backreferences run on a
// backtracking engine with a per-match time limit; all others use Go's
// linear-time regexp.
func CompilePattern(source string) (*Pattern, error) {
	if !strings.HasPrefix(source, "/") {
		return nil, fmt.Errorf("pattern %q must start with /", source)
	}
	if len(source) > maxPatternLength {
		return nil, fmt.Errorf("pattern is %d bytes long, at most %d", len(source), maxPatternLength)
	}
	// The source itself must be valid on its own, as Next.js checks it.
	if _, err := parsePattern(source); err != nil {
		return nil, fmt.Errorf("pattern %q: %w", source, err)
	}
	wrapped := nextDataPrefix + source + nextDataSuffix
	if source == "/" {
		wrapped = nextDataPrefix + source + nextRootSuffix
	}
	tokens, err := parsePattern(wrapped)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", source, err)
	}
	jsExpr, err := tokensToRegexp(tokens)
	if err != nil {
		// Next.js retries with a `/` prefix on repeated parameters that
		// have none (lib/route-pattern-normalizer.js).
		for i := range tokens {
			if tokens[i].param && (tokens[i].modifier == "*" || tokens[i].modifier == "+") && tokens[i].prefix == "" && tokens[i].suffix == "" {
				tokens[i].prefix = "/"
			}
		}
		if jsExpr, err = tokensToRegexp(tokens); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", source, err)
		}
	}
	jsExpr = regexpSource(jsExpr)
	p := &Pattern{source: source, Regexp: jsExpr}
	seen := map[string]bool{}
	var groups []int
	for i, t := range tokens {
		if t.param && t.pattern != "" {
			groups = append(groups, i)
		}
	}
	for gi, i := range groups {
		name := tokens[i].name
		// The data-route prefix and the transport suffix are Next.js's, not
		// the user's: their groups publish no placeholder.
		if gi == 0 || gi == len(groups)-1 {
			name = ""
		} else if seen[name] {
			return nil, fmt.Errorf("pattern %q: duplicate parameter name %s", source, name)
		}
		seen[name] = true
		p.Names = append(p.Names, name)
	}
	goExpr, goErr := translateJSRegexp(jsExpr, false)
	if goErr == nil {
		if re, err := regexp.Compile(goExpr); err == nil {
			p.re = re
			return p, nil
		}
	}
	// RE2 refused it (lookaround, backreferences): use the backtracking
	// engine in its ECMAScript mode.
	btExpr, err := translateJSRegexp(jsExpr, true)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", source, err)
	}
	re2, err := regexp2.Compile(btExpr, regexp2.ECMAScript)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: invalid regular expression: %w", source, err)
	}
	re2.MatchTimeout = regexpMatchTimeout
	p.re2 = re2
	return p, nil
}

// A path-to-regexp 6 token kind.
type tokenKind int

const (
	tokChar tokenKind = iota
	tokEscaped
	tokName
	tokPattern
	tokModifier
	tokOpen
	tokClose
	tokEnd
)

var tokenKindNames = [...]string{"CHAR", "ESCAPED_CHAR", "NAME", "PATTERN", "MODIFIER", "OPEN", "CLOSE", "END"}

type patToken struct {
	kind  tokenKind
	pos   int
	value string
}

// lexPattern is path-to-regexp 6's lexer, as Next.js bundles it
// (next/dist/compiled/path-to-regexp), with its error messages.
func lexPattern(s string) ([]patToken, error) {
	var out []patToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '*' || c == '+' || c == '?':
			out = append(out, patToken{tokModifier, i, string(c)})
			i++
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("dangling escape at %d", i)
			}
			_, size := decodeRune(s[i+1:])
			out = append(out, patToken{tokEscaped, i, s[i+1 : i+1+size]})
			i += 1 + size
		case c == '{':
			out = append(out, patToken{tokOpen, i, "{"})
			i++
		case c == '}':
			out = append(out, patToken{tokClose, i, "}"})
			i++
		case c == ':':
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("Missing parameter name at %d", i)
			}
			out = append(out, patToken{tokName, i, s[i+1 : j]})
			i = j
		case c == '(':
			j := i + 1
			if j < len(s) && s[j] == '?' {
				return nil, fmt.Errorf("Pattern cannot start with \"?\" at %d", j)
			}
			depth := 1
			var pat strings.Builder
			for j < len(s) {
				if s[j] == '\\' {
					pat.WriteByte('\\')
					if j+1 < len(s) {
						pat.WriteByte(s[j+1])
					}
					j += 2
					continue
				}
				if s[j] == ')' {
					depth--
					if depth == 0 {
						j++
						break
					}
				} else if s[j] == '(' {
					depth++
					if j+1 >= len(s) || s[j+1] != '?' {
						return nil, fmt.Errorf("Capturing groups are not allowed at %d; use (?:...)", j)
					}
				}
				pat.WriteByte(s[j])
				j++
			}
			if depth != 0 {
				return nil, fmt.Errorf("Unbalanced pattern at %d", i)
			}
			if pat.Len() == 0 {
				return nil, fmt.Errorf("Missing pattern at %d", i)
			}
			out = append(out, patToken{tokPattern, i, pat.String()})
			i = j
		default:
			_, size := decodeRune(s[i:])
			out = append(out, patToken{tokChar, i, s[i : i+size]})
			i += size
		}
	}
	return append(out, patToken{tokEnd, len(s), ""}), nil
}

// decodeRune returns the length of the first character of s (one byte for
// invalid UTF-8), so multi-byte characters stay whole.
func decodeRune(s string) (rune, int) {
	for i, r := range s {
		if i > 0 {
			return r, i
		}
		_ = r
	}
	return 0, len(s)
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// patPart is a path-to-regexp token: a literal (param false) or a key.
type patPart struct {
	literal  string
	param    bool
	name     string
	prefix   string
	suffix   string
	pattern  string
	modifier string
}

// pathDelimiters are path-to-regexp's default delimiters.
const pathDelimiters = "/#?"

// parsePattern is path-to-regexp 6's parse with its defaults (prefixes
// "./", delimiter "/#?").
func parsePattern(source string) ([]patPart, error) {
	tokens, err := lexPattern(source)
	if err != nil {
		return nil, err
	}
	var parts []patPart
	var path strings.Builder
	i, key := 0, 0
	try := func(kind tokenKind) (string, bool) {
		if i < len(tokens) && tokens[i].kind == kind {
			i++
			return tokens[i-1].value, true
		}
		return "", false
	}
	text := func() string {
		var b strings.Builder
		for {
			if v, ok := try(tokChar); ok {
				b.WriteString(v)
			} else if v, ok := try(tokEscaped); ok {
				b.WriteString(v)
			} else {
				return b.String()
			}
		}
	}
	safePattern := func(prefix string) (string, error) {
		prev := prefix
		var last *patPart
		if len(parts) > 0 {
			last = &parts[len(parts)-1]
		}
		if prev == "" && last != nil && !last.param {
			prev = last.literal
		}
		if last != nil && prev == "" {
			return "", fmt.Errorf("Must have text between two parameters, missing text after %q", last.name)
		}
		if prev == "" || strings.ContainsAny(prev, pathDelimiters) {
			return "[^" + escapeString(pathDelimiters) + "]+?", nil
		}
		return "(?:(?!" + escapeString(prev) + ")[^" + escapeString(pathDelimiters) + "])+?", nil
	}
	flush := func() {
		if path.Len() > 0 {
			parts = append(parts, patPart{literal: path.String()})
			path.Reset()
		}
	}
	for i < len(tokens) {
		char, hasChar := try(tokChar)
		name, hasName := try(tokName)
		pattern, hasPattern := try(tokPattern)
		if hasName || hasPattern {
			prefix := char
			if !strings.Contains("./", prefix) || !hasChar {
				path.WriteString(prefix)
				prefix = ""
			}
			flush()
			if !hasName {
				name = strconv.Itoa(key)
				key++
			}
			if !hasPattern {
				var err error
				if pattern, err = safePattern(prefix); err != nil {
					return nil, err
				}
			}
			mod, _ := try(tokModifier)
			parts = append(parts, patPart{param: true, name: name, prefix: prefix, pattern: pattern, modifier: mod})
			continue
		}
		if hasChar {
			path.WriteString(char)
			continue
		}
		if v, ok := try(tokEscaped); ok {
			path.WriteString(v)
			continue
		}
		flush()
		if _, ok := try(tokOpen); ok {
			prefix := text()
			name, hasName := try(tokName)
			pattern, hasPattern := try(tokPattern)
			suffix := text()
			if _, ok := try(tokClose); !ok {
				t := tokens[i]
				return nil, fmt.Errorf("Unexpected %s at %d, expected CLOSE", tokenKindNames[t.kind], t.pos)
			}
			mod, _ := try(tokModifier)
			p := patPart{prefix: prefix, suffix: suffix, modifier: mod}
			switch {
			case hasName:
				p.param, p.name, p.pattern = true, name, pattern
				if !hasPattern {
					var err error
					if p.pattern, err = safePattern(prefix); err != nil {
						return nil, err
					}
				}
			case hasPattern:
				p.param, p.name, p.pattern = true, strconv.Itoa(key), pattern
				key++
			}
			parts = append(parts, p)
			continue
		}
		if _, ok := try(tokEnd); ok {
			break
		}
		t := tokens[i]
		return nil, fmt.Errorf("Unexpected %s at %d, expected END", tokenKindNames[t.kind], t.pos)
	}
	return parts, nil
}

// escapeString is path-to-regexp's escapeString.
func escapeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`.+*?=^!:${}()[]|/\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tokensToRegexp is path-to-regexp 6's tokensToRegexp with its defaults
// (strict false, start true, end true): it returns the JavaScript source.
func tokensToRegexp(parts []patPart) (string, error) {
	delim := "[" + escapeString(pathDelimiters) + "]"
	var b strings.Builder
	b.WriteString("^")
	for _, p := range parts {
		if !p.param {
			b.WriteString(escapeString(p.literal))
			continue
		}
		prefix, suffix := escapeString(p.prefix), escapeString(p.suffix)
		if p.pattern == "" {
			fmt.Fprintf(&b, "(?:%s%s)%s", prefix, suffix, p.modifier)
			continue
		}
		repeat := p.modifier == "*" || p.modifier == "+"
		switch {
		case (prefix != "" || suffix != "") && repeat:
			opt := ""
			if p.modifier == "*" {
				opt = "?"
			}
			fmt.Fprintf(&b, "(?:%s((?:%s)(?:%s%s(?:%s))*)%s)%s", prefix, p.pattern, suffix, prefix, p.pattern, suffix, opt)
		case prefix != "" || suffix != "":
			fmt.Fprintf(&b, "(?:%s(%s)%s)%s", prefix, p.pattern, suffix, p.modifier)
		case repeat:
			return "", fmt.Errorf("Can not repeat %q without a prefix and suffix", p.name)
		default:
			fmt.Fprintf(&b, "(%s)%s", p.pattern, p.modifier)
		}
	}
	b.WriteString(delim + "?$")
	return b.String(), nil
}

// regexpSource is what JavaScript's RegExp.prototype.source returns for
// expr, the text Next.js stores: a `/` outside a character class is
// escaped.
func regexpSource(expr string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr):
			b.WriteByte(c)
			i++
			b.WriteByte(expr[i])
			continue
		case c == '[':
			inClass = true
		case c == ']':
			inClass = false
		case c == '/' && !inClass:
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
