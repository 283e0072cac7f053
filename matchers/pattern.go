// Package matchers holds caddy-bff's request matchers: Next.js-style path
// patterns (`path_pattern`), cookies (`cookie`) and a verified session
// (`authenticated`).
package matchers

import (
	"errors"
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

// Pattern is a compiled Next.js matcher pattern (path-to-regexp syntax as
// Next.js uses it for `config.matcher`). It matches a whole path,
// case-insensitively, with no optional trailing slash (path-to-regexp's
// `strict` mode, which Next.js uses).
type Pattern struct {
	source string
	// Names are the placeholder names of the capture groups, in order:
	// the parameter name, or its index for unnamed `(regex)` groups.
	Names []string
	re    *regexp.Regexp  // RE2 engine, when the pattern allows it
	re2   *regexp2.Regexp // backtracking engine, for lookaround
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.source }

// Backtracking reports whether the pattern needed the backtracking engine
// (lookahead or lookbehind).
func (p *Pattern) Backtracking() bool { return p.re2 != nil }

// Match reports whether path matches the whole pattern and returns the
// parameter values by name (a parameter that did not participate is absent).
// An error means the backtracking engine gave up (a pathological pattern).
func (p *Pattern) Match(path string) (bool, map[string]string, error) {
	if p.re != nil {
		m := p.re.FindStringSubmatchIndex(path)
		if m == nil {
			return false, nil, nil
		}
		var params map[string]string
		for i, name := range p.Names {
			if start := m[2*(i+1)]; start >= 0 {
				if params == nil {
					params = make(map[string]string, len(p.Names))
				}
				params[name] = path[start:m[2*(i+1)+1]]
			}
		}
		return true, params, nil
	}
	m, err := p.re2.FindStringMatch(path)
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
		if g == nil || len(g.Captures) == 0 {
			continue
		}
		if params == nil {
			params = make(map[string]string, len(p.Names))
		}
		params[name] = g.String()
	}
	return true, params, nil
}

// CompilePattern compiles a Next.js matcher pattern such as
// `/api/:function*`, `/blog/:slug`, `/docs/:path+`, `/shop/:id(\d+)` or
// `/((?!api|_next/static|_next/image|favicon.ico).*)`. Patterns must start
// with `/`. Patterns whose regex groups use lookaround run on a
// backtracking engine with a per-match time limit; all others use Go's
// linear-time regexp.
func CompilePattern(source string) (*Pattern, error) {
	if !strings.HasPrefix(source, "/") {
		return nil, fmt.Errorf("pattern %q must start with /", source)
	}
	tokens, err := lexPattern(source)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", source, err)
	}
	parts, err := parsePattern(tokens)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", source, err)
	}
	expr, names := buildRegexp(parts)
	p := &Pattern{source: source, Names: names}
	if re, err := regexp.Compile(`(?i)^` + expr + `$`); err == nil {
		p.re = re
		return p, nil
	}
	// RE2 refused it (lookaround, backreferences): use the backtracking
	// engine. \z, not $, so a trailing newline cannot end the match early.
	re2, err := regexp2.Compile(`^`+expr+`\z`, regexp2.IgnoreCase)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: invalid regular expression: %w", source, err)
	}
	re2.MatchTimeout = regexpMatchTimeout
	p.re2 = re2
	return p, nil
}

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

type patToken struct {
	kind  tokenKind
	pos   int
	value string
}

// lexPattern splits a pattern into path-to-regexp tokens.
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
			out = append(out, patToken{tokEscaped, i, s[i+1 : i+2]})
			i += 2
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
				return nil, fmt.Errorf("missing parameter name at %d", i)
			}
			out = append(out, patToken{tokName, i, s[i+1 : j]})
			i = j
		case c == '(':
			j, err := scanGroup(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, patToken{tokPattern, i, s[i+1 : j]})
			i = j + 1
		default:
			out = append(out, patToken{tokChar, i, string(c)})
			i++
		}
	}
	return append(out, patToken{tokEnd, len(s), ""}), nil
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scanGroup finds the `)` closing the `(` at start. Like path-to-regexp,
// it refuses capturing groups inside (they would shift parameter
// positions) and an empty group.
func scanGroup(s string, start int) (int, error) {
	if start+1 < len(s) && s[start+1] == '?' {
		return 0, fmt.Errorf("pattern cannot start with \"?\" at %d", start+1)
	}
	depth := 1
	for j := start + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case ')':
			depth--
			if depth == 0 {
				if j == start+1 {
					return 0, fmt.Errorf("missing pattern at %d", start)
				}
				return j, nil
			}
		case '(':
			depth++
			if j+1 >= len(s) || s[j+1] != '?' {
				return 0, fmt.Errorf("capturing groups are not allowed at %d; use (?:...)", j)
			}
		case '[':
			// A character class may hold unbalanced parentheses.
			for j++; j < len(s) && s[j] != ']'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
		}
	}
	return 0, fmt.Errorf("unbalanced pattern at %d", start)
}

// patPart is a literal (key == nil) or a parameter.
type patPart struct {
	literal  string
	param    bool
	name     string
	prefix   string
	suffix   string
	pattern  string
	modifier string
}

// defaultParamPattern is what `:name` matches: one path segment.
const defaultParamPattern = `[^/#?]+?`

// parsePattern groups tokens into literals and parameters, following
// path-to-regexp: a `/` or `.` right before a parameter becomes its prefix,
// so `/:id?` makes the slash optional too.
func parsePattern(tokens []patToken) ([]patPart, error) {
	var parts []patPart
	var path strings.Builder
	i, key := 0, 0
	try := func(kind tokenKind) (string, bool) {
		if tokens[i].kind == kind {
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
	flush := func() {
		if path.Len() > 0 {
			parts = append(parts, patPart{literal: path.String()})
			path.Reset()
		}
	}
	for i < len(tokens) {
		char, _ := try(tokChar)
		name, hasName := try(tokName)
		pattern, hasPattern := try(tokPattern)
		if hasName || hasPattern {
			prefix := char
			if prefix != "/" && prefix != "." {
				path.WriteString(prefix)
				prefix = ""
			}
			flush()
			if !hasName {
				name = strconv.Itoa(key)
				key++
			}
			if !hasPattern {
				pattern = defaultParamPattern
			}
			mod, _ := try(tokModifier)
			parts = append(parts, patPart{param: true, name: name, prefix: prefix, pattern: pattern, modifier: mod})
			continue
		}
		if char != "" {
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
				return nil, fmt.Errorf("expected } at %d", tokens[i].pos)
			}
			mod, _ := try(tokModifier)
			p := patPart{prefix: prefix, suffix: suffix, modifier: mod}
			switch {
			case hasName:
				p.param, p.name, p.pattern = true, name, pattern
				if !hasPattern {
					p.pattern = defaultParamPattern
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
		return nil, fmt.Errorf("unexpected %q at %d", t.value, t.pos)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if p.param {
			if seen[p.name] {
				return nil, errors.New("duplicate parameter name " + p.name)
			}
			seen[p.name] = true
		}
	}
	return parts, nil
}

// buildRegexp renders parts as path-to-regexp does in strict mode and
// returns the expression (without anchors) and the group names.
func buildRegexp(parts []patPart) (string, []string) {
	var b strings.Builder
	var names []string
	for _, p := range parts {
		if !p.param {
			if p.literal != "" {
				b.WriteString(regexp.QuoteMeta(p.literal))
				continue
			}
			// A `{...}` group without a parameter: optional literal text.
			fmt.Fprintf(&b, "(?:%s%s)%s", regexp.QuoteMeta(p.prefix), regexp.QuoteMeta(p.suffix), p.modifier)
			continue
		}
		names = append(names, p.name)
		prefix, suffix := regexp.QuoteMeta(p.prefix), regexp.QuoteMeta(p.suffix)
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
			fmt.Fprintf(&b, "((?:%s)%s)", p.pattern, p.modifier)
		default:
			fmt.Fprintf(&b, "(%s)%s", p.pattern, p.modifier)
		}
	}
	return b.String(), names
}
