// Package nextjsbridge is the `nextjs_bridge` HTTP handler (module
// http.handlers.nextjs_bridge): the private endpoint the Next.js cache
// handler of integrations/nextjs talks to, so Next.js and Caddy share one
// tag clock.
package nextjsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
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
	// Secret is the bearer token the bridge presents (its
	// CADDY_BFF_BRIDGE_SECRET). It is required; placeholders such as
	// `{env.CADDY_BFF_BRIDGE_SECRET}` are resolved once at provision.
	Secret string `json:"secret,omitempty"`
	// Store names the tag_cache app's store the bridge shares its clock
	// with. Default: the default store.
	Store string `json:"store,omitempty"`
	// MaxBodySize bounds a request body, in bytes; a larger one is refused
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
	appIface, err := ctx.App("tag_cache")
	if err != nil {
		return fmt.Errorf("loading tag_cache app: %v", err)
	}
	app, ok := appIface.(*cacheapp.App)
	if !ok {
		return fmt.Errorf("tag_cache app is %T", appIface)
	}
	store, err := app.Store(h.Store)
	if err != nil {
		return err
	}
	return h.setup(app, store)
}

// setup is everything Provision does once the app and store are found.
func (h *Handler) setup(app Invalidator, store *cache.Store) error {
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

// bridgeRevalidation is the body of a revalidate call.
type bridgeRevalidation struct {
	Tags []string   `json:"tags"`
	Mode cache.Mode `json:"mode,omitempty"`
}

// bridgeTagQuery is the body of a tags call.
type bridgeTagQuery struct {
	Tags []string `json:"tags"`
}

// bridgeTagAnswer answers a tags call.
type bridgeTagAnswer struct {
	Success bool                      `json:"success"`
	Tags    map[string]cache.TagTimes `json:"tags"`
	// Forgotten: an entry generated before this moment (unix ms) may have
	// missed an invalidation the clock no longer holds.
	Forgotten int64 `json:"forgotten"`
	Now       int64 `json:"now"`
}

// ServeHTTP answers one bridge call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	if handled, err := h.methods.Handle(w, r); handled {
		return err
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="caddy-bff nextjs_bridge"`)
		return jsonreply.Failf(w, r, http.StatusUnauthorized, "missing or invalid bearer token")
	}
	call := path.Base(r.URL.Path)
	switch call {
	case "revalidate", "tags", "pages":
	default:
		return jsonreply.Failf(w, r, http.StatusNotFound, "unknown bridge call "+fmt.Sprintf("%q", call)+"; the calls are revalidate, tags and pages")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return jsonreply.Failf(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", h.MaxBodySize))
		}
		return jsonreply.Failf(w, r, http.StatusBadRequest, "reading body: "+err.Error())
	}
	switch call {
	case "revalidate":
		return h.revalidate(w, r, body)
	case "tags":
		return h.tags(w, r, body)
	default:
		return h.pages(w, r, body)
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && token != "" && h.secretDigest.Matches(token)
}

// decodeStrict decodes a JSON object, refusing unknown fields so a typo in
// a hand-written client fails loudly.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func (h *Handler) revalidate(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req bridgeRevalidation
	if err := decodeStrict(body, &req); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid revalidate body: "+err.Error())
	}
	clock, err := h.app.Invalidate(r.Context(), cache.Invalidation{Store: h.Store, Tags: req.Tags, Mode: req.Mode, Source: "nextjs_bridge"})
	if err != nil {
		return h.failRecord(w, r, err)
	}
	return jsonreply.Write(w, http.StatusOK, map[string]any{"success": true, "clock": clock, "now": time.Now().UnixMilli()})
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req bridgeTagQuery
	if err := decodeStrict(body, &req); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid tags body: "+err.Error())
	}
	if err := checkTags(req.Tags, cache.MaxInvalidationItems); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, err.Error())
	}
	times, forgotten, trusted := h.store.TagTimes(req.Tags)
	if !trusted {
		w.Header().Set("Retry-After", "1")
		return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "this instance cannot vouch for its tag clock (its invalidation feed is lost); treat entries as expired")
	}
	return jsonreply.Write(w, http.StatusOK, bridgeTagAnswer{Success: true, Tags: times, Forgotten: forgotten, Now: time.Now().UnixMilli()})
}

func (h *Handler) pages(w http.ResponseWriter, r *http.Request, body []byte) error {
	var rep cache.PageReport
	if err := decodeStrict(body, &rep); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid pages body: "+err.Error())
	}
	if err := cache.ValidateInvalidation(nil, []string{rep.Path}, cache.ModeExpire); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "path: "+err.Error())
	}
	if err := checkTags(rep.Tags, cache.MaxTagsPerEntry); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, err.Error())
	}
	if rep.Generated <= 0 {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "generated must be a positive unix time in milliseconds")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.store.LearnPage(ctx, rep); err != nil {
		h.logger.Error("page report not recorded", zap.String("path", rep.Path), zap.Error(err))
		w.Header().Set("Retry-After", "1")
		return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "the page's tags could not be recorded; the bridge must not let Next serve it as cached")
	}
	return jsonreply.Write(w, http.StatusOK, map[string]any{"success": true})
}

// failRecord answers an invalidation the cache refused or could not record.
func (h *Handler) failRecord(w http.ResponseWriter, r *http.Request, err error) error {
	var invalid *cache.InvalidRequestError
	if errors.As(err, &invalid) {
		return jsonreply.Failf(w, r, http.StatusBadRequest, invalid.Msg)
	}
	h.logger.Error("bridge revalidation not recorded", zap.Error(err))
	w.Header().Set("Retry-After", "1")
	return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "the invalidation could not be recorded; Next must not acknowledge it")
}

// checkTags validates a list of tags from a request.
func checkTags(tags []string, most int) error {
	if len(tags) == 0 {
		return errors.New("at least one tag is required")
	}
	if len(tags) > most {
		return fmt.Errorf("too many tags: %d, at most %d", len(tags), most)
	}
	for i, tag := range tags {
		if err := cache.CheckTag(tag); err != nil {
			return fmt.Errorf("tag %d: %v", i, err)
		}
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
