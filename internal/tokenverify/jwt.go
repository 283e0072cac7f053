package tokenverify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// minSecretLen is the shortest HMAC secret accepted: RFC 7518 section 3.2
// requires a key at least as long as the hash output, 32 bytes for HS256.
const minSecretLen = 32

// JWT verifies signed JSON Web Tokens locally. At least one key source is
// required: Secret (HMAC), PublicKeys / PublicKeyFiles (PEM) or JWKSURL.
type JWT struct {
	// Secret is the HMAC secret for HS256/HS384/HS512 tokens. Give it as a
	// placeholder such as `{env.JWT_SECRET}`: it is resolved at provision
	// time, and an empty result is a provision error. At least 32 bytes.
	Secret string `json:"secret,omitempty"`

	// PublicKeys holds PEM-encoded public keys or certificates (RSA, ECDSA
	// P-256/P-384/P-521 or Ed25519). Placeholders such as
	// `{env.JWT_PUBLIC_KEY}` are resolved at provision time.
	PublicKeys []string `json:"public_keys,omitempty"`

	// PublicKeyFiles lists files holding PEM-encoded public keys or
	// certificates, read at provision time.
	PublicKeyFiles []string `json:"public_key_files,omitempty"`

	// JWKSURL is the URL of a JSON Web Key Set. The set is fetched at
	// provision time (a failure there is logged, not fatal), refreshed in the
	// background when older than JWKSRefreshInterval, and refetched when a
	// token names an unknown `kid`, at most once per JWKSMinRefreshInterval.
	// Symmetric (`oct`) keys in the set are ignored.
	JWKSURL string `json:"jwks_url,omitempty"`

	// JWKSRefreshInterval is the age after which the key set is refreshed.
	// Default: 15m.
	JWKSRefreshInterval caddy.Duration `json:"jwks_refresh_interval,omitempty"`

	// JWKSMinRefreshInterval rate-limits refetches of the key set caused by
	// unknown key IDs, so forged `kid` values cannot hammer the endpoint.
	// Default: 30s.
	JWKSMinRefreshInterval caddy.Duration `json:"jwks_min_refresh_interval,omitempty"`

	// Algorithms pins the accepted signature algorithms (RS256, ES256,
	// EdDSA, HS256, ...). The token's `alg` header must be one of them and
	// match the type of the key that verifies it; `none` is always refused.
	// Default: HS256 when Secret is set, plus the algorithm each PEM key's
	// type implies (RS256 for RSA, ES256/ES384/ES512 by curve, EdDSA for
	// Ed25519). With JWKSURL and no static key, Algorithms is required.
	Algorithms []string `json:"algorithms,omitempty"`

	// CacheTTL is how long a verified token's claims are reused without
	// verifying its signature again, keyed by the SHA-256 of the token; its
	// `exp` is still checked on every use. Refused tokens are never cached.
	// A token signed by a key that is later withdrawn from the JWKS stays
	// accepted for at most this long. Default: 60s; -1 (Caddyfile: `off`)
	// verifies every time.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// MaxCacheEntries bounds the verified-token cache. Default: 10000.
	MaxCacheEntries int `json:"max_cache_entries,omitempty"`

	// AllowMissingExp accepts tokens without an `exp` claim. RFC 8725
	// section 3.10 and RFC 7519 section 4.1.4: a token that never expires
	// is a credential that cannot be withdrawn, so by default such a token
	// is refused. Default: false.
	AllowMissingExp bool `json:"allow_missing_exp,omitempty"`

	// Types lists the accepted values of the `typ` header, compared
	// case-insensitively with "application/" optional (RFC 7515 section
	// 4.1.9). A token without `typ` is accepted; one with another type (a
	// Security Event Token, `secevent+jwt`, or an ID token type a provider
	// marks, say) is refused, as RFC 8725 section 3.11 recommends.
	// Default: JWT and at+jwt (RFC 9068 access tokens).
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

func (j *JWT) provision(ctx caddy.Context) error {
	j.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	j.static = nil

	if j.Secret != "" {
		key, err := secret.Resolve("secret", j.Secret)
		if err != nil {
			return err
		}
		if len(key) < minSecretLen {
			return fmt.Errorf("secret is %d bytes; at least %d are required", len(key), minSecretLen)
		}
		j.static = append(j.static, keyEntry{raw: []byte(key)})
	}
	for i, text := range j.PublicKeys {
		pem := repl.ReplaceKnown(text, "")
		if strings.TrimSpace(pem) == "" {
			return fmt.Errorf("public_keys[%d] resolved to an empty value", i)
		}
		keys, err := parsePEMKeys([]byte(pem))
		if err != nil {
			return fmt.Errorf("public_keys[%d]: %w", i, err)
		}
		j.static = append(j.static, keys...)
	}
	for _, file := range j.PublicKeyFiles {
		data, err := os.ReadFile(repl.ReplaceKnown(file, ""))
		if err != nil {
			return fmt.Errorf("reading public key file: %w", err)
		}
		keys, err := parsePEMKeys(data)
		if err != nil {
			return fmt.Errorf("public key file %s: %w", file, err)
		}
		j.static = append(j.static, keys...)
	}
	if j.JWKSURL != "" {
		url := repl.ReplaceKnown(j.JWKSURL, "")
		if url == "" {
			return errors.New("jwks_url resolved to an empty value")
		}
		j.jwks = newJWKSSource(ctx, url,
			defaultDuration(j.JWKSRefreshInterval, 15*time.Minute),
			defaultDuration(j.JWKSMinRefreshInterval, 30*time.Second),
			j.logger)
	}
	if len(j.static) == 0 && j.jwks == nil {
		return errors.New("no key: set secret, public_keys, public_key_files or jwks_url")
	}

	names := j.Algorithms
	if len(names) == 0 {
		if len(j.static) == 0 {
			return errors.New("algorithms is required with jwks_url (e.g. RS256)")
		}
		for _, k := range j.static {
			if a := defaultAlgorithm(k.raw); a != "" && !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
	}
	j.allowed = make(map[string]jwa.SignatureAlgorithm, len(names))
	for _, name := range names {
		alg, err := lookupAlgorithm(name)
		if err != nil {
			return err
		}
		// An algorithm no configured key can verify is a configuration
		// mistake (HS256 with only RSA keys, say): refuse it loudly instead
		// of silently failing every token. JWKS keys are only known at run
		// time, so public-key algorithms are accepted with a JWKS URL.
		usable := j.jwks != nil && !alg.IsSymmetric()
		for _, k := range j.static {
			usable = usable || compatible(name, k.raw)
		}
		if !usable {
			return fmt.Errorf("algorithm %s has no configured key of a matching type", name)
		}
		j.allowed[name] = alg
	}
	j.leeway = time.Duration(j.Leeway)
	if err := checkLeeway(j.leeway); err != nil {
		return err
	}
	for _, typ := range j.Types {
		if strings.TrimSpace(typ) == "" {
			return errors.New("types must not hold an empty value")
		}
	}
	j.cache = nil
	if j.CacheTTL >= 0 {
		j.ttl = defaultDuration(j.CacheTTL, time.Minute)
		max := j.MaxCacheEntries
		if max <= 0 {
			max = 10000
		}
		j.cache = newAnswerCache(max)
	}
	return nil
}

// lookupAlgorithm maps a configured algorithm name to the JOSE algorithm,
// refusing `none` and names the library does not know.
func lookupAlgorithm(name string) (jwa.SignatureAlgorithm, error) {
	if strings.EqualFold(name, "none") {
		return jwa.SignatureAlgorithm{}, errors.New("algorithm none is never accepted")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(name)
	if !ok || alg == jwa.NoSignature() {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("unknown signature algorithm %q", name)
	}
	return alg, nil
}

func defaultDuration(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
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

// checkLeeway refuses a negative leeway or one beyond MaxLeeway.
func checkLeeway(d time.Duration) error {
	switch {
	case d < 0:
		return errors.New("leeway must not be negative")
	case d > MaxLeeway:
		return fmt.Errorf("leeway %s is more than %s: clocks that far apart need fixing, not tolerating", d, MaxLeeway)
	}
	return nil
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
