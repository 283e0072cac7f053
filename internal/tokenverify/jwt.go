package tokenverify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/zap"
)

// JWT verifies signed JSON Web Tokens locally. At least one key source is
// required: `secret`, `public_keys_pem`, `public_key_files` or `jwks_url`.
type JWT struct {
	// The HMAC secret that verifies HS256, HS384 and HS512 tokens, at least
	// 32 bytes long. Give it as a placeholder such as `{env.JWT_SECRET}`: it
	// is resolved when the config loads, and one that resolves to nothing is
	// a config error. Default: none.
	Secret string `json:"secret,omitempty"`

	// Public keys or certificates as PEM text (RSA, ECDSA P-256, P-384 or
	// P-521, or Ed25519). Placeholders such as `{env.JWT_PUBLIC_KEY}` are
	// resolved when the config loads. Default: none.
	PublicKeysPEM []string `json:"public_keys_pem,omitempty"`

	// Files holding public keys or certificates in PEM form, read when the
	// config loads. Default: none.
	PublicKeyFiles []string `json:"public_key_files,omitempty"`

	// The URL of a JSON Web Key Set. The set is fetched when the config loads
	// (a failure there is logged, not fatal), refreshed in the background
	// once older than `jwks_refresh_interval`, and fetched again when a
	// token names an unknown `kid`, at most once per
	// `jwks_min_refresh_interval`. Symmetric (`oct`) keys in the set are
	// ignored. Default: none.
	JWKSURL string `json:"jwks_url,omitempty"`

	// The age after which the key set from `jwks_url` is refreshed.
	// Default: `15m`.
	JWKSRefreshInterval caddy.Duration `json:"jwks_refresh_interval,omitempty"`

	// The shortest time between two fetches of the key set caused by
	// unknown key IDs, so forged `kid` values cannot hammer the endpoint.
	// Default: `30s`.
	JWKSMinRefreshInterval caddy.Duration `json:"jwks_min_refresh_interval,omitempty"`

	// The accepted signature algorithms (RS256, ES256, EdDSA, HS256, ...).
	// A token's `alg` header must be one of them and match the type of the
	// key that verifies it; `none` is always refused. Required with
	// `jwks_url` and no static key. Default: HS256 with `secret`, plus the
	// algorithm each PEM key's type implies (RS256 for RSA, ES256, ES384 or
	// ES512 by curve, EdDSA for Ed25519).
	Algorithms []string `json:"algorithms,omitempty"`

	// How long a verified token's claims are reused without checking its
	// signature again, keyed by the SHA-256 of the token; its `exp` is still
	// checked on every use, and refused tokens are never cached. A token
	// signed by a key later withdrawn from the key set stays accepted for at
	// most this long. A negative value (`off` in the Caddyfile) verifies
	// every token in full. Default: `1m`.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// The most verified tokens kept by the `cache_ttl` cache.
	// Default: 10000.
	MaxCacheEntries int `json:"max_cache_entries,omitempty"`

	// Accepts tokens without an `exp` claim. Such a token never expires, a
	// credential that cannot be withdrawn (RFC 8725 section 3.10, RFC 7519
	// section 4.1.4), so by default it is refused. Default: false.
	AllowMissingExp bool `json:"allow_missing_exp,omitempty"`

	// The accepted values of the `typ` header, compared case-insensitively
	// with "application/" optional (RFC 7515 section 4.1.9). A token without
	// `typ` is accepted; one of another type (a Security Event Token,
	// `secevent+jwt`, or a provider's ID token type, say) is refused, as
	// RFC 8725 section 3.11 recommends. Default: `JWT` and `at+jwt` (RFC
	// 9068 access tokens).
	Types []string `json:"types,omitempty"`

	ClaimRules

	cache   *answerCache
	ttl     time.Duration
	allowed map[string]jwa.SignatureAlgorithm
	static  []keyEntry
	jwks    *jwksSource
	leeway  time.Duration
	logger  *zap.Logger
}

// verify parses and verifies token, then checks its time and claim rules.
func (j *JWT) verify(ctx context.Context, token string) (map[string]any, error) {
	if j.cache == nil {
		return j.verifyUncached(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	if a, ok := j.cache.get(key, now); ok {
		if exp, ok := numericDate(a.claims["exp"]); ok && !now.Before(exp.Add(j.leeway)) {
			return nil, &Error{Reason: "token expired"}
		}
		return a.claims, nil
	}
	claims, err := j.verifyUncached(ctx, token)
	if err != nil {
		return nil, err
	}
	expires := now.Add(j.ttl)
	if exp, ok := numericDate(claims["exp"]); ok && exp.Add(j.leeway).Before(expires) {
		expires = exp.Add(j.leeway)
	}
	j.cache.put(key, cachedAnswer{claims: claims, expires: expires}, now)
	return claims, nil
}

func (j *JWT) verifyUncached(ctx context.Context, token string) (map[string]any, error) {
	if err := checkCompactJWS(token, j.Types); err != nil {
		return nil, err
	}
	kp := &keyProvider{j: j}
	tok, err := jwt.ParseString(token,
		jwt.WithContext(ctx),
		jwt.WithKeyProvider(kp),
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(j.leeway),
	)
	if err != nil {
		return nil, j.classify(err, kp)
	}
	buf, err := json.Marshal(tok)
	if err != nil {
		return nil, &Error{Reason: "malformed claims"}
	}
	var claims map[string]any
	if err := json.Unmarshal(buf, &claims); err != nil {
		return nil, &Error{Reason: "malformed claims"}
	}
	if _, ok := claims["exp"]; !ok && !j.AllowMissingExp {
		return nil, &Error{Reason: "token has no exp"}
	}
	if err := j.ClaimRules.check(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// classify turns a library error into a fixed reason, keeping the first
// reason the key provider recorded (algorithm refused, no key, JWKS down).
func (j *JWT) classify(err error, kp *keyProvider) error {
	switch {
	case kp.err != nil:
		return kp.err
	case errors.Is(err, jwt.TokenExpiredError()):
		return &Error{Reason: "token expired"}
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return &Error{Reason: "token not yet valid"}
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return &Error{Reason: "token issued in the future"}
	case kp.called:
		return &Error{Reason: "signature invalid"}
	default:
		return &Error{Reason: "malformed token"}
	}
}

// keyProvider hands jwx the keys allowed to verify one signature: only keys
// whose type matches the token's `alg`, and only for algorithms the
// configuration pins. It lives for one verification so it can record why
// no key was offered.
type keyProvider struct {
	j      *JWT
	called bool
	err    *Error
}

var _ jws.KeyProvider = (*keyProvider)(nil)

func (kp *keyProvider) FetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	kp.called = true
	hdr := sig.ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok {
		return kp.fail(&Error{Reason: "algorithm missing"})
	}
	name := alg.String()
	pinned, ok := kp.j.allowed[name]
	if !ok {
		return kp.fail(&Error{Reason: "algorithm not allowed"})
	}
	kid, _ := hdr.KeyID()
	offered := 0
	for _, k := range kp.j.static {
		if k.usableFor(name, kid) {
			sink.Key(pinned, k.raw)
			offered++
		}
	}
	if kp.j.jwks != nil && !pinned.IsSymmetric() {
		keys, err := kp.j.jwks.keysFor(ctx, name, kid)
		if err != nil {
			return kp.fail(err.(*Error))
		}
		for _, raw := range keys {
			sink.Key(pinned, raw)
			offered++
		}
	}
	if offered == 0 {
		return kp.fail(&Error{Reason: "no key for the token's algorithm and key id"})
	}
	return nil
}

func (kp *keyProvider) fail(e *Error) error {
	if kp.err == nil {
		kp.err = e
	}
	return e
}
