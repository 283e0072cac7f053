package tokenverify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// maxIntrospectionBytes bounds the introspection answer read.
const maxIntrospectionBytes = 1 << 20

// Introspect verifies tokens through an OAuth 2.0 token introspection
// endpoint (RFC 7662). A token is accepted when the endpoint answers
// `"active": true` and the claim rules hold; the answer's members become the
// claims. Answers, positive and negative, are cached for `cache_ttl` under
// the SHA-256 of the token, never longer than the token's own `exp`.
type Introspect struct {
	// The introspection endpoint, an absolute http(s) URL. Placeholders such
	// as `{env.INTROSPECTION_URL}` are resolved when the config loads.
	// Required.
	URL string `json:"url,omitempty"`

	// The client ID this proxy authenticates with to the endpoint (HTTP
	// Basic authentication, with `client_secret`). Placeholders are
	// resolved when the config loads. Default: none (no authentication).
	ClientID string `json:"client_id,omitempty"`

	// The client secret, normally a placeholder such as
	// `{env.CLIENT_SECRET}`; one that resolves to nothing is a config
	// error. Requires `client_id`. Default: none.
	ClientSecret string `json:"client_secret,omitempty"`

	// The `token_type_hint` sent to the endpoint. Default: `access_token`.
	TokenTypeHint string `json:"token_type_hint,omitempty"`

	// How long an answer is reused. A revoked token may stay accepted for up
	// to this long. Default: `1m`.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// The most answers kept by the `cache_ttl` cache. Default: 10000.
	MaxCacheEntries int `json:"max_cache_entries,omitempty"`

	// How long one call to the endpoint may take. Default: `5s`.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	ClaimRules

	url          string
	clientID     string
	clientSecret string
	ttl          time.Duration
	client       *http.Client
	cache        *answerCache
	inflight     singleflight.Group
	logger       *zap.Logger
}

func (in *Introspect) provision(ctx caddy.Context) error {
	in.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	in.url = repl.ReplaceKnown(in.URL, "")
	if in.url == "" {
		return errors.New("the endpoint URL is required")
	}
	u, err := url.Parse(in.url)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("the endpoint URL must be an absolute http(s) URL")
	}
	warnIfPlainHTTP(in.logger, "the introspection endpoint", in.url)
	in.clientID = repl.ReplaceKnown(in.ClientID, "")
	if in.ClientSecret != "" {
		var err error
		if in.clientSecret, err = secret.Resolve("client_secret", in.ClientSecret); err != nil {
			return err
		}
	}
	if in.clientSecret != "" && in.clientID == "" {
		return errors.New("client_secret needs client_id")
	}
	if in.TokenTypeHint == "" {
		in.TokenTypeHint = "access_token"
	}
	in.ttl = defaultDuration(in.CacheTTL, time.Minute)
	max := in.MaxCacheEntries
	if max <= 0 {
		max = 10000
	}
	in.cache = newAnswerCache(max)
	in.client = &http.Client{Timeout: defaultDuration(in.Timeout, 5*time.Second)}
	if err := checkLeeway(time.Duration(in.Leeway)); err != nil {
		return err
	}
	return nil
}

func (in *Introspect) verify(ctx context.Context, token string) (map[string]any, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	if a, ok := in.cache.get(key, now); ok {
		if a.err != nil {
			return nil, a.err
		}
		// exp is rechecked on a hit in case the cache TTL outlives it.
		if err := in.checkTimes(a.claims, now); err != nil {
			return nil, err
		}
		return a.claims, nil
	}
	// Concurrent requests with the same uncached token share one call to
	// the endpoint (keyed by the hash, never the token itself). The call
	// must not end because the first of them went away: it is detached from
	// that request's cancellation and bounded by the client timeout instead.
	shared := context.WithoutCancel(ctx)
	v, err, _ := in.inflight.Do(string(key[:]), func() (any, error) {
		return in.ask(shared, token)
	})
	claims, _ := v.(map[string]any)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && !e.Unavailable {
			in.cache.put(key, cachedAnswer{err: err, expires: now.Add(in.ttl)}, now)
		}
		return nil, err
	}
	if err := in.checkTimes(claims, now); err != nil {
		return nil, err
	}
	if err := in.ClaimRules.check(claims); err != nil {
		in.cache.put(key, cachedAnswer{err: err, expires: now.Add(in.ttl)}, now)
		return nil, err
	}
	expires := now.Add(in.ttl)
	if exp, ok := numericDate(claims["exp"]); ok && exp.Before(expires) {
		expires = exp
	}
	in.cache.put(key, cachedAnswer{claims: claims, expires: expires}, now)
	return claims, nil
}

// ask calls the endpoint. Only transport failures and non-200 answers are
// "unavailable"; `active: false` is a refusal.
func (in *Introspect) ask(ctx context.Context, token string) (map[string]any, error) {
	form := url.Values{"token": {token}, "token_type_hint": {in.TokenTypeHint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &Error{Reason: "introspection request failed", Unavailable: true}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.clientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.clientSecret))
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.logger.Warn("token introspection failed", zap.String("url", in.url), zap.Error(err))
		return nil, &Error{Reason: "introspection endpoint unreachable", Unavailable: true}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		in.logger.Warn("token introspection failed", zap.String("url", in.url), zap.Int("status", resp.StatusCode))
		return nil, &Error{Reason: fmt.Sprintf("introspection endpoint answered %d", resp.StatusCode), Unavailable: true}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes))
	if err != nil {
		return nil, &Error{Reason: "introspection answer unreadable", Unavailable: true}
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, &Error{Reason: "introspection answer is not JSON", Unavailable: true}
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, &Error{Reason: "token not active"}
	}
	delete(claims, "active")
	return claims, nil
}

// checkTimes applies exp and nbf, when the endpoint returned them, with
// the configured leeway.
func (in *Introspect) checkTimes(claims map[string]any, now time.Time) error {
	leeway := time.Duration(in.Leeway)
	if exp, ok := numericDate(claims["exp"]); ok && !now.Before(exp.Add(leeway)) {
		return &Error{Reason: "token expired"}
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(leeway).Before(nbf) {
		return &Error{Reason: "token not yet valid"}
	}
	return nil
}

// numericDate reads an RFC 7519 NumericDate (seconds since the epoch).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*float64(time.Second))), true
}
