package tokenverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxLeeway bounds the clock skew tolerated on `exp`, `nbf` and `iat`
// (RFC 8725 section 3.10 asks for the smallest practical window; RFC 7519
// section 4.1.4 speaks of "a few minutes").
const MaxLeeway = 5 * time.Minute

// defaultTypes are the `typ` values accepted when Types is not set: the JWT
// media type (RFC 7519 section 5.1) and the access-token type of RFC 9068,
// each with or without its "application/" prefix (RFC 7515 section 4.1.9).
var defaultTypes = []string{"JWT", "at+jwt"}

// checkCompactJWS applies, before any cryptography, the rules of RFC 7515,
// RFC 7519 and RFC 8725 that the JOSE library does not enforce for a JWT:
//
//   - JWTs use the JWS Compact Serialization (RFC 7519 section 7.2 step 1;
//     RFC 7515 section 7.1): three base64url parts without padding or
//     white space (RFC 7515 section 2); the JSON Serialization is refused;
//   - the JOSE Header is a JSON object without duplicate names (RFC 7515
//     section 4: a parser must reject them or keep the last; rejecting
//     means the library and these checks cannot disagree), with a string
//     `alg` (section 4.1.1);
//   - `crit` (section 4.1.11): this verifier understands no extension, so
//     any `crit` is refused ("If any of the listed extension Header
//     Parameters are not understood and supported by the recipient, then
//     the JWS is invalid"); an empty list is invalid in itself;
//   - `b64` (RFC 7797, unencoded payloads) is refused: it changes what the
//     signature covers and this verifier does not implement it;
//   - `typ` (RFC 7515 section 4.1.9, RFC 8725 section 3.11) must be one of
//     the accepted types, compared case-insensitively with "application/"
//     optional, when present: a token of another kind (a Security Event
//     Token, `secevent+jwt`, say) is not a session;
//   - `cty` (RFC 7519 section 5.2) is refused: "JWT" announces a nested JWT,
//     which this verifier does not unwrap, and any other value says the
//     payload is not a claims set;
//   - the payload is a JSON object (RFC 7519 section 7.2 step 10) without
//     duplicate claim names (section 4).
//
// `jku`, `jwk`, `x5u`, `x5c`, `x5t`, `x5t#S256` and `kid` may be present:
// keys are only ever taken from the configuration (RFC 8725 section 3.2
// and 3.10), never from the token, and `kid` only selects among them.
// Other names not understood are ignored, as section 4 requires.
func checkCompactJWS(token string, types []string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		if strings.HasPrefix(strings.TrimSpace(token), "{") {
			return &Error{Reason: "not a compact JWS (JWS JSON Serialization is not a JWT)"}
		}
		return &Error{Reason: "malformed token"}
	}
	var decoded [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || (i < 2 && len(b) == 0) {
			return &Error{Reason: "malformed token"}
		}
		decoded[i] = b
	}
	header, err := strictObject(decoded[0])
	if err != nil {
		return &Error{Reason: "malformed header: " + err.Error()}
	}
	alg, ok := header["alg"].(string)
	switch {
	case !ok || alg == "":
		return &Error{Reason: "algorithm missing"}
	case strings.EqualFold(alg, "none"):
		// RFC 8725 section 3.1: never accepted, whatever the configuration.
		return &Error{Reason: "algorithm not allowed"}
	case len(decoded[2]) == 0:
		return &Error{Reason: "token is not signed"}
	}
	if _, ok := header["crit"]; ok {
		return &Error{Reason: "crit lists header parameters this verifier does not understand"}
	}
	if _, ok := header["b64"]; ok {
		return &Error{Reason: "unencoded payloads (b64) are not supported"}
	}
	if _, ok := header["cty"]; ok {
		return &Error{Reason: "cty is not supported (nested tokens are not accepted)"}
	}
	if typ, ok := header["typ"]; ok {
		s, isString := typ.(string)
		if !isString || !typeAccepted(s, types) {
			return &Error{Reason: "token type not accepted"}
		}
	}
	payload, err := strictObject(decoded[1])
	if err != nil {
		return &Error{Reason: "malformed claims: " + err.Error()}
	}
	return checkRegisteredClaims(payload)
}

// checkRegisteredClaims checks the types RFC 7519 section 4.1 gives the
// registered claims: `exp`, `nbf` and `iat` are NumericDates (JSON
// numbers, never strings), `iss`, `sub` and `jti` strings, `aud` a string
// or an array of strings.
func checkRegisteredClaims(c map[string]any) error {
	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := c[name]; ok {
			if _, isNumber := v.(json.Number); !isNumber {
				return &Error{Reason: "malformed claims: " + name + " is not a NumericDate"}
			}
		}
	}
	for _, name := range []string{"iss", "sub", "jti"} {
		if v, ok := c[name]; ok {
			if _, isString := v.(string); !isString {
				return &Error{Reason: "malformed claims: " + name + " is not a string"}
			}
		}
	}
	if v, ok := c["aud"]; ok {
		switch a := v.(type) {
		case string:
		case []any:
			for _, item := range a {
				if _, isString := item.(string); !isString {
					return &Error{Reason: "malformed claims: aud is not a string or an array of strings"}
				}
			}
		default:
			return &Error{Reason: "malformed claims: aud is not a string or an array of strings"}
		}
	}
	return nil
}

// typeAccepted compares a `typ` with the accepted types as RFC 7515
// section 4.1.9 asks: case-insensitively, "application/" optional.
func typeAccepted(typ string, accepted []string) bool {
	if len(accepted) == 0 {
		accepted = defaultTypes
	}
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		if !strings.Contains(strings.TrimPrefix(s, "application/"), "/") {
			s = strings.TrimPrefix(s, "application/")
		}
		return s
	}
	t := norm(typ)
	for _, a := range accepted {
		if norm(a) == t {
			return true
		}
	}
	return false
}

// strictObject decodes a JSON object, refusing duplicate member names at its
// top level and anything after it.
func strictObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON")
		}
		name, _ := tok.(string)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON")
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return out, nil
}
