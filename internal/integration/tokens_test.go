package integration

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"testing"
	"time"
)

// tokenSpec describes a JWT for mintToken. The zero value is an HS256
// token signed with authSecret whose payload is {"exp": an hour from now}.
type tokenSpec struct {
	sub, iss string         // "sub" and "iss", left out when empty
	exp      time.Duration  // "exp" is now+exp; zero means an hour
	claims   map[string]any // further claims, written over the ones above

	alg      string          // the header's "alg"; default HS256, or RS256 with key
	kid      string          // the header's "kid", left out when empty
	secret   string          // the HMAC-SHA256 key; default authSecret
	key      *rsa.PrivateKey // signs RSASSA-PKCS1-v1_5 with SHA-256 instead
	unsigned bool            // leaves the signature empty, whatever alg says
}

// mintToken returns spec as a compact JWT, encoded and signed here by hand
// so that the tests share no code with the verifiers they check. The
// signature follows key or secret, not alg: an alg other than the default
// makes a forgery.
func mintToken(t testing.TB, spec tokenSpec) string {
	t.Helper()
	alg := spec.alg
	if alg == "" {
		alg = "HS256"
		if spec.key != nil {
			alg = "RS256"
		}
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if spec.kid != "" {
		header["kid"] = spec.kid
	}
	exp := spec.exp
	if exp == 0 {
		exp = time.Hour
	}
	claims := map[string]any{"exp": time.Now().Add(exp).Unix()}
	if spec.sub != "" {
		claims["sub"] = spec.sub
	}
	if spec.iss != "" {
		claims["iss"] = spec.iss
	}
	maps.Copy(claims, spec.claims)

	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	if spec.unsigned {
		return signingInput + "."
	}
	var sig []byte
	if spec.key != nil {
		digest := sha256.Sum256([]byte(signingInput))
		if sig, err = rsa.SignPKCS1v15(nil, spec.key, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	} else {
		secret := spec.secret
		if secret == "" {
			secret = authSecret
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(signingInput))
		sig = mac.Sum(nil)
	}
	return signingInput + "." + enc.EncodeToString(sig)
}
