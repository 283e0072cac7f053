package matchers

import (
	"fmt"
	"regexp"

	"github.com/dlclark/regexp2"
)

// anchoredRegexp is a whole-string regular expression on Go's engine when
// it accepts the expression, else on the backtracking engine (for the
// lookaround that JavaScript regular expressions in Next.js configs use).
type anchoredRegexp struct {
	re  *regexp.Regexp
	re2 *regexp2.Regexp
}

func compileAnchored(expr string) (*anchoredRegexp, error) {
	re, goErr := regexp.Compile(`^(?:` + expr + `)$`)
	if goErr == nil {
		return &anchoredRegexp{re: re}, nil
	}
	re2, err := regexp2.Compile(`^(?:`+expr+`)\z`, regexp2.None)
	if err != nil {
		// Both engines refused it; Go's message names the problem in the
		// expression as written.
		if _, err := regexp.Compile(expr); err != nil {
			goErr = err
		}
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, goErr)
	}
	re2.MatchTimeout = regexpMatchTimeout
	return &anchoredRegexp{re2: re2}, nil
}

func (a *anchoredRegexp) match(s string) (bool, error) {
	if a.re != nil {
		return a.re.MatchString(s), nil
	}
	ok, err := a.re2.MatchString(s)
	if err != nil {
		return false, fmt.Errorf("regular expression %s: match time limit exceeded", a.re2.String())
	}
	return ok, nil
}
