package tokenverify

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// minSecretLen is the shortest HMAC secret accepted: RFC 7518 section 3.2
// requires a key at least as long as the hash output, 32 bytes for HS256.
const minSecretLen = 32

// provision gathers the keys, pins the algorithms, checks the time and type
// rules and sets up the verified-token cache, one step each.
func (j *JWT) provision(ctx caddy.Context) error {
	j.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	j.static = nil
	j.jwks = nil
	if err := j.addSecretKey(); err != nil {
		return err
	}
	if err := j.addPEMKeys(repl); err != nil {
		return err
	}
	if err := j.addKeyFiles(repl); err != nil {
		return err
	}
	if err := j.startJWKS(ctx, repl); err != nil {
		return err
	}
	if len(j.static) == 0 && j.jwks == nil {
		return errors.New("no key: set secret, public_keys_pem, public_key_files or jwks_url")
	}
	if err := j.pinAlgorithms(); err != nil {
		return err
	}
	if err := j.checkLeewayAndTypes(); err != nil {
		return err
	}
	j.setUpCache()
	return nil
}

// addSecretKey resolves `secret` and adds it as an HMAC key.
func (j *JWT) addSecretKey() error {
	if j.Secret == "" {
		return nil
	}
	key, err := secret.Resolve("secret", j.Secret)
	if err != nil {
		return err
	}
	if len(key) < minSecretLen {
		return fmt.Errorf("secret is %d bytes; at least %d are required", len(key), minSecretLen)
	}
	j.static = append(j.static, keyEntry{raw: []byte(key)})
	return nil
}

// addPEMKeys resolves the placeholders of `public_keys_pem` and adds the
// keys they hold.
func (j *JWT) addPEMKeys(repl *caddy.Replacer) error {
	for i, text := range j.PublicKeysPEM {
		pem := repl.ReplaceKnown(text, "")
		if strings.TrimSpace(pem) == "" {
			return fmt.Errorf("public_keys_pem[%d] resolved to an empty value", i)
		}
		keys, err := parsePEMKeys([]byte(pem))
		if err != nil {
			return fmt.Errorf("public_keys_pem[%d]: %w", i, err)
		}
		j.static = append(j.static, keys...)
	}
	return nil
}

// addKeyFiles reads the files of `public_key_files` and adds the keys they
// hold.
func (j *JWT) addKeyFiles(repl *caddy.Replacer) error {
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
	return nil
}

// startJWKS sets up the key set of `jwks_url`, which fetches it once now
// and keeps it fresh afterwards.
func (j *JWT) startJWKS(ctx caddy.Context, repl *caddy.Replacer) error {
	if j.JWKSURL == "" {
		return nil
	}
	url := repl.ReplaceKnown(j.JWKSURL, "")
	if url == "" {
		return errors.New("jwks_url resolved to an empty value")
	}
	j.jwks = newJWKSSource(ctx, url,
		defaultDuration(j.JWKSRefreshInterval, 15*time.Minute),
		defaultDuration(j.JWKSMinRefreshInterval, 30*time.Second),
		j.logger)
	return nil
}

// pinAlgorithms fixes the accepted algorithms: `algorithms`, or those the
// static keys imply, each of which some configured key must be able to
// verify.
func (j *JWT) pinAlgorithms() error {
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
	return nil
}

// checkLeewayAndTypes checks `leeway` and `types`.
func (j *JWT) checkLeewayAndTypes() error {
	j.leeway = time.Duration(j.Leeway)
	if err := checkLeeway(j.leeway); err != nil {
		return err
	}
	for _, typ := range j.Types {
		if strings.TrimSpace(typ) == "" {
			return errors.New("types must not hold an empty value")
		}
	}
	return nil
}

// setUpCache creates the verified-token cache, unless `cache_ttl` is
// negative.
func (j *JWT) setUpCache() {
	j.cache = nil
	if j.CacheTTL < 0 {
		return
	}
	j.ttl = defaultDuration(j.CacheTTL, time.Minute)
	size := j.MaxCacheEntries
	if size <= 0 {
		size = 10000
	}
	j.cache = newAnswerCache(size)
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
