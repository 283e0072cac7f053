package matchers

import (
	"fmt"
	"net/http"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// MatchPathPattern matches the request path against Next.js matcher
// patterns (the `config.matcher` syntax of middleware.ts / proxy.ts):
// `/api/:function*`, `/docs/:path+`, `/shop/:id?`, `/post/:id(\d+)`, and the
// negative-lookahead form `/((?!api|_next/static|_next/image|favicon.ico).*)`.
// It matches when any pattern matches.
//
// It decides exactly as Next.js 16 decides whether proxy.ts runs, and a
// test checks it against Next.js's own code: each pattern is compiled as
// `next build` compiles it (so it also covers the page's data route
// `/_next/data/<build id>/<page>.json` and its `.rsc` transport forms, and
// one trailing `/` is optional), and matched, case-sensitively, against the
// request path as Next.js's router sees it (slashes merged, dot segments
// resolved, `%2e` ones included) or against that path percent-decoded.
//
// The gate decides on the path the upstream receives: when that path
// differs from the one the client sent (`/x/%2e%2e/api/y`, `//api`, or dot
// segments hidden behind encoded slashes such as `/a%2F..%2Fapi`, which are
// cleaned), the request is rewritten to it before any handler runs.
//
// Named parameters become placeholders: `{http.path_pattern.function}`;
// unnamed `(regex)` groups are numbered: `{http.path_pattern.0}`.
type MatchPathPattern struct {
	// The Next.js matcher patterns, each starting with `/`; the matcher
	// matches when any of them does. Required.
	Patterns []string `json:"patterns,omitempty"`

	compiled []*Pattern
}

// CaddyModule returns the Caddy module information.
func (MatchPathPattern) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.path_pattern",
		New: func() caddy.Module { return new(MatchPathPattern) },
	}
}

// Provision compiles the patterns.
func (m *MatchPathPattern) Provision(caddy.Context) error {
	m.compiled = m.compiled[:0]
	for _, src := range m.Patterns {
		p, err := CompilePattern(src)
		if err != nil {
			return err
		}
		m.compiled = append(m.compiled, p)
	}
	return nil
}

// Validate requires at least one pattern.
func (m *MatchPathPattern) Validate() error {
	if len(m.Patterns) == 0 {
		return fmt.Errorf("path_pattern: at least one pattern is required")
	}
	return nil
}

// Match returns true if r matches m.
func (m MatchPathPattern) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError returns true if r matches m. An error means a
// backtracking pattern hit its time limit on this path.
func (m MatchPathPattern) MatchWithError(r *http.Request) (bool, error) {
	pathname, decoded, decodedOK, canonical := requestPaths(r)
	if canonical != "" {
		applyCanonicalPath(r, canonical)
	}
	// Next.js runs the middleware when either form matches. The decoded
	// form goes first so that placeholders carry decoded values.
	first, second := pathname, ""
	if decodedOK && decoded != pathname {
		first, second = decoded, pathname
	}
	for _, p := range m.compiled {
		ok, params, err := p.Match(first)
		if err == nil && !ok && second != "" {
			ok, params, err = p.Match(second)
		}
		if err != nil {
			return false, err
		}
		if ok {
			if len(params) > 0 {
				repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
				for name, value := range params {
					repl.Set("http.path_pattern."+name, value)
				}
			}
			return true, nil
		}
	}
	return false, nil
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens:
//
//	path_pattern <pattern...>
//
// Several path_pattern lines in one matcher set are merged (any matches).
// A pattern that does not compile is refused here, with its line.
func (m *MatchPathPattern) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		for _, a := range args {
			if _, err := CompilePattern(a); err != nil {
				return d.Errf("path_pattern: %v", err)
			}
		}
		m.Patterns = append(m.Patterns, args...)
		if d.NextBlock(0) {
			return d.Err("path_pattern: blocks are not supported")
		}
	}
	return nil
}

var stringSliceType = reflect.TypeFor[[]string]()

// CELLibrary exposes the matcher to CEL expressions:
//
//	expression path_pattern('/api/:function*', '/admin/:path*')
func (MatchPathPattern) CELLibrary(ctx caddy.Context) (cel.Library, error) {
	return caddyhttp.CELMatcherImpl(
		"path_pattern",
		"path_pattern_request_list",
		[]*cel.Type{cel.ListType(cel.StringType)},
		func(data ref.Val) (caddyhttp.RequestMatcherWithError, error) {
			list, err := data.ConvertToNative(stringSliceType)
			if err != nil {
				return nil, err
			}
			m := &MatchPathPattern{Patterns: list.([]string)}
			if err := m.Provision(ctx); err != nil {
				return nil, err
			}
			return m, nil
		},
	)
}

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchPathPattern)(nil)
	_ caddy.Validator                   = (*MatchPathPattern)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchPathPattern)(nil)
	_ caddyfile.Unmarshaler             = (*MatchPathPattern)(nil)
	_ caddyhttp.CELLibraryProducer      = (*MatchPathPattern)(nil)
)
