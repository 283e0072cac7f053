package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-bff/caddy-bff/cache"
)

// badRequest is a request refused for its content, answered with 400 and
// its message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// invalidationRequest is what one call asks for, gathered from the query
// string and the body.
type invalidationRequest struct {
	tags  []string
	paths []string
	// mode is the mode the caller asked for; "" when it asked for none.
	mode cache.Mode
}

// fromQuery reads the repeated or comma-separated `tag` and `path`
// parameters and `mode`.
func (ir *invalidationRequest) fromQuery(q url.Values) error {
	ir.tags = append(ir.tags, splitList(q["tag"])...)
	ir.paths = append(ir.paths, splitList(q["path"])...)
	if modes := q["mode"]; len(modes) > 0 {
		if len(modes) > 1 {
			return badRequestf("the mode query parameter is given more than once")
		}
		ir.mode, _ = cache.ParseMode(modes[0]) // an unknown name is refused by name later
	}
	return nil
}

// splitList splits each value on commas, trims spaces and drops empty
// items, so `tag=a,b&tag=c` names a, b and c. Commas cannot be part of a
// tag: tag headers are comma-separated lists.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// checkCarryable refuses a tag no cache entry could ever carry, so that a
// delivery is never acknowledged for a purge that cannot happen. Entries
// get their tags from response headers split on commas (Cache-Tag,
// X-Next-Cache-Tags), on white space (Surrogate-Key) or on both, each item
// trimmed: no tag can begin or end with white space, nor hold both a comma
// and white space. The cache's own limits (length, control characters)
// apply too.
//
// The tag is named by its position in the request's deduplicated tag list,
// as the cache's own checks name it: request content is not echoed back.
func checkCarryable(i int, tag string) error {
	if err := cache.CheckTag(tag); err != nil {
		return badRequestf("tag %d %v", i, err)
	}
	if strings.TrimSpace(tag) != tag {
		return badRequestf("tag %d begins or ends with white space: no cache entry can carry it (tag headers trim their items)", i)
	}
	if strings.Contains(tag, ",") && strings.ContainsAny(tag, " \t") {
		return badRequestf("tag %d holds both a comma and white space: no cache entry can carry it (tag headers are split on commas or on white space); send its tags separately", i)
	}
	return nil
}

// nativeBody is the webhook's own JSON body.
type nativeBody struct {
	Tags  []string   `json:"tags"`
	Paths []string   `json:"paths"`
	Mode  cache.Mode `json:"mode"`
}

// parseNativeBody parses `{"tags":[...],"paths":[...],"mode":"..."}`
// strictly: an unknown field is most likely a typo ("tag") that would
// otherwise be silently ignored.
func parseNativeBody(body []byte) (nativeBody, error) {
	var nb nativeBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nb); err != nil {
		return nativeBody{}, badRequestf("body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nativeBody{}, badRequestf("body: more than one JSON value")
	}
	return nb, nil
}

// describeJSONError rewords encoding/json errors for the caller: it drops
// the Go type names and keeps what and where.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		want := "an array of strings"
		if typ.Field == "mode" {
			want = "a string"
		}
		field := typ.Field
		if field == "" {
			return "must be a JSON object"
		}
		if i := strings.IndexByte(field, '.'); i >= 0 {
			field = field[:i]
		}
		return fmt.Sprintf("%q must be %s, got a JSON %s", field, want, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonPath is a compiled path into a JSON document: object keys, array
// indexes and `*` (every element of an array, every value of an object),
// separated by dots, optionally after `$` or `$.`. Keys that contain dots
// cannot be named; no CMS payload we know needs that.
type jsonPath struct {
	text string
	segs []string
}

// compileJSONPaths compiles each expression of a config field.
func compileJSONPaths(field string, exprs []string) ([]jsonPath, error) {
	out := make([]jsonPath, 0, len(exprs))
	for _, expr := range exprs {
		p, err := parseJSONPath(expr)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", field, expr, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseJSONPath(expr string) (jsonPath, error) {
	rest := strings.TrimSpace(expr)
	if rest == "" {
		return jsonPath{}, errors.New("empty path")
	}
	if rest == "$" {
		return jsonPath{text: expr}, nil
	}
	rest = strings.TrimPrefix(rest, "$.")
	segs := strings.Split(rest, ".")
	for _, s := range segs {
		if s == "" {
			return jsonPath{}, errors.New("empty segment (two dots in a row, or a leading or trailing dot)")
		}
	}
	return jsonPath{text: expr, segs: segs}, nil
}

// collect returns the strings the path reaches in doc, split as the source
// defines them: a string value is a comma-separated list (Shopify's
// product tags, Stripe metadata values), split with each item trimmed and
// empty items dropped; an array of strings is already a list, each string
// one item as is (DatoCMS cache tags may hold commas); null or a missing
// key is none. Anything else is a 400: the payload is not what the
// configuration expects.
func (p jsonPath) collect(doc any) ([]string, error) {
	nodes := []any{doc}
	for _, seg := range p.segs {
		var next []any
		for _, n := range nodes {
			switch v := n.(type) {
			case map[string]any:
				if seg == "*" {
					keys := make([]string, 0, len(v))
					for k := range v {
						keys = append(keys, k)
					}
					sort.Strings(keys) // deterministic order
					for _, k := range keys {
						next = append(next, v[k])
					}
				} else if child, ok := v[seg]; ok {
					next = append(next, child)
				}
			case []any:
				if seg == "*" {
					next = append(next, v...)
				} else if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(v) {
					next = append(next, v[i])
				}
			}
		}
		nodes = next
	}
	var out []string
	for _, n := range nodes {
		switch v := n.(type) {
		case nil:
		case string:
			out = append(out, splitList([]string{v})...)
		case []any:
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, badRequestf("%s: element %d is a JSON %s, want a string", p.text, i, jsonKind(e))
				}
				out = append(out, s)
			}
		default:
			return nil, badRequestf("%s: found a JSON %s, want a string or an array of strings", p.text, jsonKind(v))
		}
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

// parsePayload reads tags and paths from a CMS payload through the
// configured JSON paths.
func parsePayload(body []byte, tagsFrom, pathsFrom []jsonPath) (tags, paths []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, badRequestf("body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, badRequestf("body: more than one JSON value")
	}
	for _, p := range tagsFrom {
		got, err := p.collect(doc)
		if err != nil {
			return nil, nil, err
		}
		tags = append(tags, got...)
	}
	for _, p := range pathsFrom {
		got, err := p.collect(doc)
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, got...)
	}
	return tags, paths, nil
}

// dedupe removes repeated items, keeping the first occurrence's order.
func dedupe(items []string) []string {
	if len(items) < 2 {
		return items
	}
	seen := make(map[string]struct{}, len(items))
	out := items[:0:0]
	for _, it := range items {
		if _, ok := seen[it]; ok {
			continue
		}
		seen[it] = struct{}{}
		out = append(out, it)
	}
	return out
}
