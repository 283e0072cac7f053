package tokenverify

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// hsRaw assembles a compact JWS from header and payload JSON exactly as
// written (so a test controls every header parameter, duplicates
// included) and signs it with HMAC-SHA256.
func hsRaw(header, payload string, key []byte) string {
	input := b64(header) + "." + b64(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// rsRaw is hsRaw for RS256 with an RSA private key.
func rsRaw(t *testing.T, header, payload string, key *rsa.PrivateKey) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestJWTRFCRules is one table over the JWS and JWT rules of RFC 7515
// (section 4.1 header parameters), RFC 7519 and RFC 8725: each row names
// the rule it checks and a token that breaks (or keeps) it.
func TestJWTRFCRules(t *testing.T) {
	k := newTestKeys(t)
	now := time.Now().Unix()
	claims := func(extra string) string {
		return `{"sub":"user-42","iat":` + strconv.FormatInt(now-60, 10) + `,"exp":` + strconv.FormatInt(now+3600, 10) + extra + `}`
	}
	good := claims("")
	key := []byte(testSecret)
	hs := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret}})
	noExpOK := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, AllowMissingExp: true}})
	custom := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, Types: []string{"application/vnd.acme.session+jwt"}}})
	rs := provisioned(t, &Verifier{JWT: &JWT{PublicKeysPEM: []string{k.rsaPEM}}})

	// An attacker's key, offered inside the token (jwk) or by URL (jku,
	// x5u): a server that followed either would accept the attacker's
	// signature.
	var fetched atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(attacker.Close)
	pub := k.otherRS.PublicKey
	jwkJSON := `{"kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(pub.N.Bytes()) + `","e":"` + base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()) + `"}`

	jsonSerialized, _ := json.Marshal(map[string]string{
		"protected": b64(`{"alg":"HS256"}`), "payload": b64(good),
		"signature": strings.Split(hsRaw(`{"alg":"HS256"}`, good, key), ".")[2],
	})
	padded := hsRaw(`{"alg":"HS256"}`, good, key)
	padded = strings.Replace(padded, ".", "=.", 1)

	cases := []struct {
		rule   string
		v      *Verifier
		token  string
		reason string // empty: accepted
	}{
		{"RFC 7515 4.1.1 alg: a valid HS256 token", hs, hsRaw(`{"alg":"HS256","typ":"JWT"}`, good, key), ""},
		{"RFC 7515 4.1.1 alg is required", hs, hsRaw(`{"typ":"JWT"}`, good, key), "algorithm missing"},
		{"RFC 7515 4.1.1 alg must be a string", hs, hsRaw(`{"alg":["HS256"]}`, good, key), "algorithm missing"},
		{"RFC 8725 3.1 alg none is never accepted", hs, b64(`{"alg":"none"}`) + "." + b64(good) + ".", "algorithm not allowed"},
		{"RFC 8725 3.1 alg NONE (any case)", hs, b64(`{"alg":"NONE"}`) + "." + b64(good) + ".", "algorithm not allowed"},
		{"RFC 8725 3.1 only pinned algorithms (HS384 not pinned)", hs, hsRaw(`{"alg":"HS384"}`, good, key), "algorithm not allowed"},
		{"RFC 8725 3.2 no key confusion: HS256 keyed with the RSA public key", rs, hsRaw(`{"alg":"HS256"}`, good, []byte(k.rsaPEM)), "algorithm not allowed"},
		{"RFC 7515 4.1.3 jwk: an embedded key is not trusted", rs, rsRaw(t, `{"alg":"RS256","jwk":`+jwkJSON+`}`, good, k.otherRS), "signature invalid"},
		{"RFC 7515 4.1.2 jku: a key set URL in the token is not fetched", rs, rsRaw(t, `{"alg":"RS256","jku":"`+attacker.URL+`"}`, good, k.otherRS), "signature invalid"},
		{"RFC 7515 4.1.5 x5u: a certificate URL in the token is not fetched", rs, rsRaw(t, `{"alg":"RS256","x5u":"`+attacker.URL+`"}`, good, k.otherRS), "signature invalid"},
		{"RFC 7515 4.1.4 kid only selects among configured keys", rs, rsRaw(t, `{"alg":"RS256","kid":"attacker"}`, good, k.otherRS), "signature invalid"},
		{"RFC 7515 4.1.4 kid with the configured key is accepted", rs, rsRaw(t, `{"alg":"RS256","kid":"any"}`, good, k.rsa), ""},
		{"RFC 7515 4.1.9 typ JWT (case-insensitive)", hs, hsRaw(`{"alg":"HS256","typ":"jwt"}`, good, key), ""},
		{"RFC 7515 4.1.9 typ application/jwt", hs, hsRaw(`{"alg":"HS256","typ":"application/JWT"}`, good, key), ""},
		{"RFC 9068 typ at+jwt", hs, hsRaw(`{"alg":"HS256","typ":"at+jwt"}`, good, key), ""},
		{"RFC 8725 3.11 typ of another kind of token (RFC 8417 secevent+jwt)", hs, hsRaw(`{"alg":"HS256","typ":"secevent+jwt"}`, good, key), "token type not accepted"},
		{"RFC 8725 3.11 typ must be a string", hs, hsRaw(`{"alg":"HS256","typ":1}`, good, key), "token type not accepted"},
		{"RFC 8725 3.11 configured types replace the defaults", custom, hsRaw(`{"alg":"HS256","typ":"JWT"}`, good, key), "token type not accepted"},
		{"RFC 8725 3.11 a configured type is accepted", custom, hsRaw(`{"alg":"HS256","typ":"vnd.acme.session+jwt"}`, good, key), ""},
		{"RFC 7519 5.2 cty JWT: nested tokens are not unwrapped", hs, hsRaw(`{"alg":"HS256","cty":"JWT"}`, good, key), "cty is not supported"},
		{"RFC 7515 4.1.10 cty other than JWT: not a claims set", hs, hsRaw(`{"alg":"HS256","cty":"text/plain"}`, good, key), "cty is not supported"},
		{"RFC 7515 4.1.11 crit with an extension not understood", hs, hsRaw(`{"alg":"HS256","crit":["exp"],"exp":1}`, good, key), "crit"},
		{"RFC 7515 4.1.11 crit must not be empty", hs, hsRaw(`{"alg":"HS256","crit":[]}`, good, key), "crit"},
		{"RFC 7515 4.1.11 crit naming a registered parameter", hs, hsRaw(`{"alg":"HS256","crit":["alg"]}`, good, key), "crit"},
		{"RFC 7797 b64 (unencoded payload) is not supported", hs, hsRaw(`{"alg":"HS256","b64":false,"crit":["b64"]}`, good, key), "crit"},
		{"RFC 7797 b64 without crit", hs, hsRaw(`{"alg":"HS256","b64":false}`, good, key), "unencoded payloads"},
		{"RFC 7515 4 parameters not understood and not critical are ignored", hs, hsRaw(`{"alg":"HS256","x-acme":"1"}`, good, key), ""},
		{"RFC 7515 4 duplicate header parameter names", hs, hsRaw(`{"alg":"none","alg":"HS256"}`, good, key), "duplicate member"},
		{"RFC 7519 4 duplicate claim names", hs, hsRaw(`{"alg":"HS256"}`, claims(`,"sub":"admin"`), key), "duplicate member"},
		{"RFC 7519 7.2 the payload must be a JSON object", hs, hsRaw(`{"alg":"HS256"}`, `["sub"]`, key), "malformed claims"},
		{"RFC 7519 7.2 the header must be a JSON object", hs, hsRaw(`"HS256"`, good, key), "malformed header"},
		{"RFC 7519 7.2 JWS JSON Serialization is not a JWT", hs, string(jsonSerialized), "not a compact JWS"},
		{"RFC 7515 2 base64url without padding", hs, padded, "malformed token"},
		{"RFC 7515 2 no white space inside", hs, strings.Replace(hsRaw(`{"alg":"HS256"}`, good, key), ".", ". ", 1), "malformed token"},
		{"RFC 7515 5.2 a signature is required", hs, b64(`{"alg":"HS256"}`) + "." + b64(good) + ".", "token is not signed"},
		{"RFC 7519 4.1.4 exp is required by default", hs, hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42"}`, key), "token has no exp"},
		{"RFC 7519 4.1.4 exp may be waived by configuration", noExpOK, hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42"}`, key), ""},
		{"RFC 7519 4.1.4 exp in the past", hs, hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42","exp":`+strconv.FormatInt(now-10, 10)+`}`, key), "token expired"},
		{"RFC 7519 2 exp must be a NumericDate", hs, hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42","exp":"`+strconv.FormatInt(now+3600, 10)+`"}`, key), "exp is not a NumericDate"},
		{"RFC 7519 4.1.2 sub must be a string", hs, hsRaw(`{"alg":"HS256"}`, `{"sub":42,"exp":`+strconv.FormatInt(now+3600, 10)+`}`, key), "sub is not a string"},
		{"RFC 7519 4.1.3 aud must be a string or strings", hs, hsRaw(`{"alg":"HS256"}`, claims(`,"aud":[1]`), key), "aud is not"},
		{"RFC 7519 4.1.5 nbf in the future", hs, hsRaw(`{"alg":"HS256"}`, claims(`,"nbf":`+strconv.FormatInt(now+600, 10)), key), "token not yet valid"},
		{"RFC 7519 4.1.6 iat in the future", hs, hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42","iat":`+strconv.FormatInt(now+600, 10)+`,"exp":`+strconv.FormatInt(now+3600, 10)+`}`, key), "token issued in the future"},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			got, err := tc.v.Verify(context.Background(), tc.token)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused (%v), want accepted", err)
				}
				if got["sub"] != "user-42" {
					t.Fatalf("claims %v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want refused: %s", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("refused with %q, want %q", err, tc.reason)
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("a URL from a token header was fetched %d times", n)
	}

	// Leeway is bounded (RFC 8725 3.10, RFC 7519 4.1.4 "a few minutes").
	for _, v := range []*Verifier{
		{JWT: &JWT{Secret: testSecret, ClaimRules: ClaimRules{Leeway: caddy.Duration(MaxLeeway + time.Second)}}},
		{JWT: &JWT{Secret: testSecret, ClaimRules: ClaimRules{Leeway: caddy.Duration(-time.Second)}}},
		{Introspect: &Introspect{URL: attacker.URL, ClaimRules: ClaimRules{Leeway: caddy.Duration(time.Hour)}}},
	} {
		if err := v.Provision(caddyCtx(t)); err == nil || !strings.Contains(err.Error(), "leeway") {
			t.Fatalf("an unbounded leeway was accepted (%v)", err)
		}
	}
	withLeeway := provisioned(t, &Verifier{JWT: &JWT{Secret: testSecret, ClaimRules: ClaimRules{Leeway: caddy.Duration(MaxLeeway)}}})
	if _, err := withLeeway.Verify(context.Background(), hsRaw(`{"alg":"HS256"}`, `{"sub":"user-42","exp":`+strconv.FormatInt(now-60, 10)+`}`, key)); err != nil {
		t.Fatalf("expired a minute ago with a %s leeway: %v", MaxLeeway, err)
	}
}
