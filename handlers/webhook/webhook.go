// Package webhook is the `revalidate_webhook` HTTP handler (module
// http.handlers.revalidate_webhook): the endpoint a CMS calls to invalidate
// tags and paths in the tag_cache app, authenticated by a shared token or a
// vendor's signature, acknowledged only once the invalidation is recorded.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	"github.com/caddy-bff/caddy-bff/handlers/webhook/signature"
	"github.com/caddy-bff/caddy-bff/internal/methods"
	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// Handler is the `revalidate_webhook` HTTP handler: the endpoint a
// CMS calls to invalidate tags and paths in the tag_cache app. It serves GET
// and POST like the Next.js route handler it replaces:
//
//	GET <path>?token=<secret>&tag=<tag>   -> 401 / 400 / 200 {"success":...}
//
// It is a terminal handler (it never calls the next handler) unless
// `forward` is set: it then fronts the app's own revalidate route, passing
// each authenticated, valid call to the next handler in the route
// (reverse_proxy to the app) and recording the invalidation only once the
// app answered 2xx (502 otherwise, with nothing recorded), so that Caddy
// never refetches the app's old page after its purge.
//
// Callers authenticate either with the shared secret as a token (query
// parameter, `Authorization: Bearer` or a configured header) or, when a
// signature preset is configured, with a signature over the raw body as the
// CMS computes it (Stripe-style, Standard Webhooks, Shopify, GitHub, Sanity,
// Contentful or a generic HMAC). It answers 200 only once the invalidation is
// recorded, and 503 with Retry-After when the cache cannot record it.
type Handler struct {
	// The shared secret: the token callers present, or the key signatures
	// are verified with. Give it as a placeholder such as
	// `{env.REVALIDATE_SECRET_TOKEN}`: it is resolved when the config
	// loads, and one that resolves to nothing is a config error. Required.
	Secret string `json:"secret,omitempty"`

	// The query parameter that carries the token, as in the Next.js route
	// handler. Default: `token`.
	TokenParam string `json:"token_param,omitempty"`

	// Refuses tokens in the query string, which end up in access logs and
	// browser histories; callers then use `Authorization: Bearer` or
	// `token_header`. In the Caddyfile: `token_param off`. Default: false.
	DisableTokenParam bool `json:"disable_token_param,omitempty"`

	// A request header that carries the token as is, such as
	// `X-Revalidate-Token`. `Authorization: Bearer <token>` is always
	// accepted. Default: none.
	TokenHeader string `json:"token_header,omitempty"`

	// Authenticates requests by a signature over the raw body, as a CMS or
	// platform signs its webhooks, instead of a token: the token sources
	// are then ignored. Default: none (token authentication).
	Signature *signature.Config `json:"signature,omitempty"`

	// The tag_cache store to invalidate. Default: the default store.
	Store string `json:"store,omitempty"`

	// How covered entries are invalidated: `expire` (the next request waits
	// for a fresh response, like Next.js `revalidateTag(tag, {expire: 0})`)
	// or `stale` (entries are served stale once while they refresh in the
	// background, like `revalidateTag(tag, 'max')`). Default: `expire`.
	Mode cache.Mode `json:"mode,omitempty"`

	// Lets a request choose the mode with the `mode` query parameter or the
	// body's "mode" field. Without it, a request that asks for a mode other
	// than `mode` is refused with 400. Default: false.
	AllowModeOverride bool `json:"allow_mode_override,omitempty"`

	// The largest request body accepted, in bytes; a larger one is refused
	// with 413. Default: 1048576 (1 MiB).
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	// How many tags plus paths one request may name, after duplicates are
	// removed. Default and upper bound: 1024.
	MaxItems int `json:"max_items,omitempty"`

	// JSON paths into the request body whose values are tags, for CMS
	// payloads that are not the native
	// `{"tags":[...],"paths":[...],"mode":"..."}` object (DatoCMS:
	// `entity.attributes.tags`). A path is dot-separated object keys, array
	// indexes and `*` for every element, optionally after `$.`. With
	// `tags_from` or `paths_from`, the body is read only through them.
	// Default: none (the native object).
	TagsFrom []string `json:"tags_from,omitempty"`

	// JSON paths into the request body whose values are URL paths to
	// invalidate; same syntax as `tags_from`. Default: none.
	PathsFrom []string `json:"paths_from,omitempty"`

	// Reads the body only to verify its signature: tags and paths come from
	// the query string alone. Useful for a signed payload that carries
	// nothing to invalidate (a GitHub push, say) with tags fixed in the
	// webhook URL. Default: false.
	IgnoreBody bool `json:"ignore_body,omitempty"`

	// Makes the webhook front the app's own revalidate route: once a call
	// is authenticated and its tags, paths and mode are valid, it is passed
	// to the next handler in the route (reverse_proxy to the app) with its
	// method, URL and exact body, and the invalidation is recorded in the
	// cache only after the app answered 2xx. The answer to the caller adds
	// the app's status and body under "upstream"; the app's headers are
	// never passed on. Default: false (the webhook answers on its own).
	Forward bool `json:"forward,omitempty"`

	secretDigest secret.Digest
	methods      methods.Set
	invalidator  Invalidator
	verifier     signature.Verifier
	replay       replayMemory
	replayKey    string
	shared       DeliveryMemory
	tagsPaths    []jsonPath
	pathsPaths   []jsonPath
	logger       *zap.Logger
	now          func() time.Time
}

// Invalidator is what the webhook needs of the tag_cache app: record an
// invalidation, returning only once it is recorded. An
// *cache.InvalidRequestError means the request itself is wrong; any other
// error means the invalidation was not recorded and may be retried.
type Invalidator interface {
	Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error)
}

// Defaults of the webhook.
const (
	DefaultWebhookTokenParam  = "token"
	DefaultWebhookMaxBodySize = 1 << 20
	// webhookRetryAfter is what a 503 tells the CMS to wait before retrying:
	// long enough for a Redis failover, short enough that editors do not
	// notice.
	webhookRetryAfter = "5"
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.revalidate_webhook",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the secret, finds the tag_cache app and prepares the
// signature verifier and replay guard.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	// Naming a store that does not exist is a configuration mistake: catch
	// it at load time rather than with a 400 on the first CMS call.
	app, _, err := cacheapp.StoreFromContext(ctx, h.Store)
	if err != nil {
		return err
	}
	// In distributed mode the replay memory lives in Redis, so a copy of a
	// delivery sent to another instance is refused too.
	if h.Signature != nil {
		mem, err := app.DeliveryMemory(h.Store)
		if err != nil {
			return err
		}
		if mem != nil {
			h.shared = mem
		}
	}
	return h.setup(app)
}

// setup is Provision without the Caddy context, so unit tests can give the
// handler any Invalidator.
func (h *Handler) setup(inv Invalidator) error {
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.invalidator = inv
	if h.TokenParam == "" {
		h.TokenParam = DefaultWebhookTokenParam
	}
	if h.Mode == "" {
		h.Mode = cache.ModeExpire
	}
	if h.MaxBodySize == 0 {
		h.MaxBodySize = DefaultWebhookMaxBodySize
	}
	if h.MaxItems == 0 {
		h.MaxItems = cache.MaxInvalidationItems
	}
	if err := h.Validate(); err != nil {
		return err
	}
	// The secret is resolved here, not at adapt time, so it never appears
	// in the adapted JSON config.
	resolved, err := secret.Resolve("secret", h.Secret)
	if err != nil {
		return err
	}
	h.secretDigest = secret.NewDigest(resolved)
	h.methods = methods.NewSet(http.MethodGet, http.MethodPost)

	if h.tagsPaths, err = compileJSONPaths("tags_from", h.TagsFrom); err != nil {
		return err
	}
	if h.pathsPaths, err = compileJSONPaths("paths_from", h.PathsFrom); err != nil {
		return err
	}
	if h.Signature != nil {
		h.verifier, err = h.Signature.NewVerifier(resolved)
		if err != nil {
			return fmt.Errorf("signature: %v", err)
		}
		if h.shared != nil {
			h.replay = &sharedReplay{mem: h.shared, namespace: replayNamespace(h.Signature, resolved), window: h.Signature.ReplayRetentionOrDefault()}
		} else {
			h.replay, h.replayKey, err = loadReplayGuard(h.Signature, resolved)
			if err != nil {
				return fmt.Errorf("signature: %v", err)
			}
		}
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if strings.TrimSpace(h.Secret) == "" {
		return errors.New("secret is required")
	}
	if h.Mode != "" && !h.Mode.Valid() {
		return fmt.Errorf("mode must be %s, got %q", cache.ModeNames, h.Mode)
	}
	if h.MaxBodySize < 0 {
		return fmt.Errorf("max_body_size must be positive, got %d", h.MaxBodySize)
	}
	if h.MaxItems < 0 || h.MaxItems > cache.MaxInvalidationItems {
		return fmt.Errorf("max_items must be between 1 and %d, got %d", cache.MaxInvalidationItems, h.MaxItems)
	}
	if h.IgnoreBody && (len(h.TagsFrom) > 0 || len(h.PathsFrom) > 0) {
		return errors.New("ignore_body and tags_from/paths_from exclude each other")
	}
	// Forward needs nothing else of the config: it works with every way of
	// authenticating and of reading tags. The one way it cannot work, no
	// handler after this one in the route, is invisible here: Caddy builds
	// a route's handler chain after provisioning its handlers and tells
	// none of them what follows it. So it is caught on every call instead:
	// a next handler that writes nothing (the end of Caddy's chain) is a
	// 502 saying to put reverse_proxy after the webhook, never an empty
	// 200 taken for the app's answer.
	if h.Signature != nil {
		if h.TokenHeader != "" {
			return errors.New("token_header has no effect when a signature is configured; remove one of them")
		}
		if err := h.Signature.Validate(); err != nil {
			return fmt.Errorf("signature: %v", err)
		}
	}
	return nil
}

// Cleanup releases this config's hold on the replay guard; a reload that
// keeps the same secret and preset keeps the guard and its memory.
func (h *Handler) Cleanup() error {
	if h.replayKey != "" {
		_, _ = replayPool.Delete(h.replayKey)
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ Invalidator                 = (*cacheapp.App)(nil)
)
