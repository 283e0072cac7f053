// Package nextjsbridge is the `nextjs_bridge` HTTP handler (module
// http.handlers.nextjs_bridge): the private endpoint the Next.js cache
// handler of integrations/nextjs talks to, so Next.js and Caddy share one
// tag clock.
package nextjsbridge

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	"github.com/caddy-bff/caddy-bff/internal/methods"
	"github.com/caddy-bff/caddy-bff/internal/secret"
)

// Handler is the `nextjs_bridge` HTTP handler: the endpoint the
// Next.js cache handler shipped in integrations/nextjs talks to, so that
// Next.js and Caddy share one tag clock. It is terminal and answers three
// POST calls, chosen by the last element of the request path:
//
//	.../revalidate  {"tags":[...],"mode":"expire"|"stale"|"max"}
//	    Next revalidated tags (revalidateTag, updateTag, revalidatePath):
//	    record them before Next acknowledges. 200 once recorded where every
//	    instance sees it, 503 otherwise.
//	.../tags        {"tags":[...]}
//	    When were these tags last invalidated? The bridge brings Next's own
//	    tags manifest up to date before Next judges an entry, so N Next
//	    instances share the clock. 503 while this instance cannot vouch for
//	    its clock (the Redis feed is lost).
//	.../pages       {"path":"/posts","tags":[...],"generated":<ms>}
//	    Next stored or read a page: index the tags it depends on (next start
//	    never sends them) and remember when it was generated.
//
// Callers authenticate with `Authorization: Bearer <secret>`, compared in
// constant time. Mount it on a listener only the app can reach (a private
// address, or behind a remote_ip matcher), never on the public site
// without one, and never through Caddy's admin API.
type Handler struct {
	// The bearer token callers must present in `Authorization: Bearer
	// <secret>`: the value the Next.js cache handler is given in its
	// `CADDY_BFF_BRIDGE_SECRET` environment variable. Required. Global
	// placeholders such as `{env.CADDY_BFF_BRIDGE_SECRET}` are resolved
	// once, when the config is loaded.
	Secret string `json:"secret,omitempty"`
	// The name of the tag_cache app's store whose tag clock Next.js shares.
	// Default: the app's `default` store.
	Store string `json:"store,omitempty"`
	// The largest request body accepted, in bytes; a larger one is refused
	// with 413. Default: 256 KiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	secretDigest secret.Digest
	app          Invalidator
	store        *cache.Store
	methods      methods.Set
	logger       *zap.Logger
}

// Invalidator is what the bridge needs of the tag_cache app: record an
// invalidation where every instance sees it.
type Invalidator interface {
	Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error)
}

// DefaultBridgeBodySize bounds a bridge call's body by default.
const DefaultBridgeBodySize = 256 << 10

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.nextjs_bridge",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the secret and finds the store.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, store, err := cacheapp.StoreFromContext(ctx, h.Store)
	if err != nil {
		return err
	}
	return h.setup(app, store)
}

// setup is everything Provision does once the app and store are found.
func (h *Handler) setup(app Invalidator, store *cache.Store) error {
	// The pages Next reports are what tag invalidations expand to.
	store.UsePageIndex()
	if h.MaxBodySize == 0 {
		h.MaxBodySize = DefaultBridgeBodySize
	}
	if err := h.Validate(); err != nil {
		return err
	}
	resolved, err := secret.Resolve("secret", h.Secret)
	if err != nil {
		return err
	}
	h.secretDigest = secret.NewDigest(resolved)
	h.app, h.store = app, store
	h.methods = methods.NewSet(http.MethodPost)
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Secret == "" {
		return errors.New("secret is required: the bridge authenticates with it")
	}
	if h.MaxBodySize < 0 {
		return errors.New("max_body_size must be positive")
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
