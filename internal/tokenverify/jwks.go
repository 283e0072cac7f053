package tokenverify

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/contain"
)

// maxJWKSBytes bounds the key set body read from the network.
const maxJWKSBytes = 1 << 20

// warnIfPlainHTTP logs a warning for an http:// endpoint that is not on
// the loopback interface: keys or token answers fetched in clear text can be
// replaced on the way.
func warnIfPlainHTTP(logger *zap.Logger, what, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	logger.Warn(what+" is fetched over plain HTTP; use https unless the network path is trusted", zap.String("url", raw))
}

// jwksSource keeps the keys of a JWKS URL. Reads are lock-free apart from a
// read lock; fetches are serialized and rate-limited.
type jwksSource struct {
	url        string
	client     *http.Client
	maxAge     time.Duration
	minRefresh time.Duration
	logger     *zap.Logger
	ctx        context.Context // ends with the config: stops background refreshes

	mu        sync.RWMutex
	keys      []keyEntry
	fetchedAt time.Time

	fetchMu     sync.Mutex // held while fetching
	lastAttempt time.Time  // guarded by fetchMu
}

func newJWKSSource(ctx caddy.Context, url string, maxAge, minRefresh time.Duration, logger *zap.Logger) *jwksSource {
	warnIfPlainHTTP(logger, "JWKS", url)
	s := &jwksSource{
		url:        url,
		client:     &http.Client{Timeout: 10 * time.Second},
		maxAge:     maxAge,
		minRefresh: minRefresh,
		logger:     logger,
		ctx:        ctx,
	}
	// A first fetch now makes the first requests fast; when the identity
	// provider is down at start-up the config still loads, and the keys are
	// fetched on the first token that needs them.
	s.refresh(ctx)
	return s
}

// keysFor returns the keys that may verify a token with alg and kid. When
// none matches (a rotated-in key, typically) the set is refetched, at most
// once per minRefresh, and searched again.
func (s *jwksSource) keysFor(ctx context.Context, alg, kid string) ([]any, error) {
	s.mu.RLock()
	keys, fetchedAt := s.keys, s.fetchedAt
	s.mu.RUnlock()

	if !fetchedAt.IsZero() && time.Since(fetchedAt) > s.maxAge && s.fetchMu.TryLock() {
		go func() {
			defer s.fetchMu.Unlock()
			contain.Run(s.logger, "JWKS refresh", func() { s.fetchLocked(s.ctx) })
		}()
	}
	found := match(keys, alg, kid)
	if len(found) > 0 {
		return found, nil
	}
	ok := s.refresh(ctx)
	s.mu.RLock()
	keys, fetchedAt = s.keys, s.fetchedAt
	s.mu.RUnlock()
	if found = match(keys, alg, kid); len(found) > 0 {
		return found, nil
	}
	if !ok && fetchedAt.IsZero() {
		return nil, &Error{Reason: "key set unavailable", Unavailable: true}
	}
	return nil, &Error{Reason: "no key for the token's algorithm and key id"}
}

func match(keys []keyEntry, alg, kid string) []any {
	var out []any
	for _, k := range keys {
		if kid != "" && k.kid != kid {
			continue
		}
		if k.usableFor(alg, kid) {
			out = append(out, k.raw)
		}
	}
	return out
}

// refresh fetches the set unless a fetch was attempted less than minRefresh
// ago. It reports whether the last attempt succeeded.
func (s *jwksSource) refresh(ctx context.Context) bool {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if !s.lastAttempt.IsZero() && time.Since(s.lastAttempt) < s.minRefresh {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return !s.fetchedAt.IsZero() && !s.fetchedAt.Before(s.lastAttempt)
	}
	return s.fetchLocked(ctx)
}

// fetchLocked fetches and installs the set; s.fetchMu must be held.
func (s *jwksSource) fetchLocked(ctx context.Context) bool {
	s.lastAttempt = time.Now()
	keys, err := s.fetch(ctx)
	if err != nil {
		s.logger.Warn("fetching JWKS failed", zap.String("url", s.url), zap.Error(err))
		return false
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = keys, time.Now()
	s.mu.Unlock()
	s.logger.Debug("JWKS fetched", zap.String("url", s.url), zap.Int("keys", len(keys)))
	return true
}

func (s *jwksSource) fetch(ctx context.Context) ([]keyEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parsing key set: %w", err)
	}
	var keys []keyEntry
	for i := 0; i < set.Len(); i++ {
		key, _ := set.Key(i)
		if use, ok := key.KeyUsage(); ok && use != "sig" {
			continue
		}
		raw, err := jwk.PublicRawKeyOf(key)
		if err != nil {
			continue
		}
		if _, symmetric := raw.([]byte); symmetric || defaultAlgorithm(raw) == "" {
			// A secret published at a URL is no secret: never use it.
			continue
		}
		e := keyEntry{raw: raw}
		e.kid, _ = key.KeyID()
		if a, ok := key.Algorithm(); ok {
			e.alg = a.String()
		}
		keys = append(keys, e)
	}
	return keys, nil
}
