package tokenverify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// keyEntry is one verification key: a raw Go key ([]byte for HMAC,
// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey), with the key ID
// and algorithm its JWK named, if any.
type keyEntry struct {
	kid string
	alg string
	raw any
}

// usableFor reports whether the key may verify a token signed with alg and
// naming kid. A key that names an algorithm only serves that algorithm; a
// token that names a key ID is only tried against keys with that ID (or
// against anonymous static keys, which have none).
func (k keyEntry) usableFor(alg, kid string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	if kid != "" && k.kid != "" && k.kid != kid {
		return false
	}
	return compatible(alg, k.raw)
}

// compatible reports whether raw is the kind of key alg is defined for.
// This check is what stops algorithm confusion: an RSA public key is never
// handed to an HMAC verifier, so an HS256 token "signed" with the public
// key's bytes cannot pass.
func compatible(alg string, raw any) bool {
	switch k := raw.(type) {
	case []byte:
		return alg == "HS256" || alg == "HS384" || alg == "HS512"
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return alg == ecAlgorithm(k.Curve)
	case ed25519.PublicKey:
		return alg == "EdDSA" || alg == "Ed25519"
	}
	return false
}

// defaultAlgorithm is the algorithm a key's type implies when the
// configuration pins none.
func defaultAlgorithm(raw any) string {
	switch k := raw.(type) {
	case []byte:
		return "HS256"
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		return ecAlgorithm(k.Curve)
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

func ecAlgorithm(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// parsePEMKeys reads every PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE block
// of data. Private keys are refused: a verifier never needs one.
func parsePEMKeys(data []byte) ([]keyEntry, error) {
	var out []keyEntry
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			cert, err = x509.ParseCertificate(block.Bytes)
			if err == nil {
				pub = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, errors.New("a private key was given; configure the public key only")
			}
			return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
		}
		if err != nil {
			return nil, err
		}
		if defaultAlgorithm(pub) == "" {
			return nil, fmt.Errorf("unsupported public key type %T", pub)
		}
		out = append(out, keyEntry{raw: pub})
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return out, nil
}
