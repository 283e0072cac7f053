// Package tagcache is the `tag_cache` HTTP handler (module
// http.handlers.tag_cache): an RFC 9111 shared cache in front of the rest of
// the route, whose entries carry tags and are invalidated by tag or path
// through the tag_cache app, with a profile for apps served by `next start`.
package tagcache

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// Handler is the `tag_cache` HTTP handler: an RFC 9111 shared cache in
// front of whatever the rest of the route produces (reverse_proxy,
// file_server, respond...). Stored responses carry tags taken from response
// headers and are invalidated by tag or path through the tag_cache app.
type Handler struct {
	// The name of the tag_cache app's store to keep responses in. Default:
	// the app's `default` store.
	Store string `json:"store,omitempty"`
	// The response headers that carry a response's tags, each with how it
	// separates them. Default: `Cache-Tag` (comma-separated),
	// `Surrogate-Key` (space-separated) and `X-Next-Cache-Tags`
	// (comma-separated).
	TagHeaders []TagHeader `json:"tag_headers,omitempty"`
	// Sends the tag headers on to clients. Default: false; they are
	// stripped, as CDNs do, because tags describe the cache's content, not
	// the page.
	KeepTagHeaders bool `json:"keep_tag_headers,omitempty"`
	// When set, every storable response is stored fresh for this long,
	// whatever its freshness headers say (like Next.js
	// `dynamic = 'force-static'`). Responses that are private, no-store or
	// set cookies are still not stored unless `allow_private` or
	// `allow_set_cookie` say so. Default: unset; freshness comes from the
	// response (RFC 9111).
	TTL caddy.Duration `json:"ttl,omitempty"`
	// Stores responses that carry `Set-Cookie`. Default: false, because a
	// cookie meant for one user would be replayed to everyone.
	AllowSetCookie bool `json:"allow_set_cookie,omitempty"`
	// Stores responses marked `Cache-Control: private`. Default: false; a
	// shared cache must not store them.
	AllowPrivate bool `json:"allow_private,omitempty"`
	// The largest response body stored, in bytes; larger bodies stream to
	// the client without being stored. Default: 16 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// The targeted cache-control fields (RFC 9213) obeyed before
	// `Cache-Control`, in order of precedence. Default:
	// `["CDN-Cache-Control", "Surrogate-Control"]`.
	TargetedFields []string `json:"targeted_fields,omitempty"`
	// Ignores every targeted cache-control field: only `Cache-Control`
	// decides (the Caddyfile's `targeted_fields off`). It cannot be
	// combined with `targeted_fields`. Default: false.
	DisableTargetedFields bool `json:"disable_targeted_fields,omitempty"`
	// The name this cache gives itself in the `Cache-Status` response
	// header (RFC 9211); a token, without spaces, commas, semicolons,
	// quotes or `=`. Default: `caddy-bff`.
	CacheName string `json:"cache_name,omitempty"`
	// Adds the cache key to `Cache-Status`. Default: false.
	Debug bool `json:"debug,omitempty"`
	// How long a request waits for a concurrent request's upstream fetch of
	// the same URI before fetching it itself. Default: 10s.
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`
	// More cookies that carry a user's session (for example an app's own
	// `__Secure-next-auth.session-token`). A request carrying one gets RFC
	// 9111's rules for requests with `Authorization`: its response is
	// stored only when marked public, s-maxage or must-revalidate, and is
	// served only to requests that carry a credential too. The cookies and
	// headers that auth_proxy, the authenticated matcher and
	// session_callback read always count. Default: none more.
	CredentialCookies []string `json:"credential_cookies,omitempty"`
	// More request headers that carry a credential, with the same effect
	// as `credential_cookies`. `Authorization` always counts. Default: none
	// more.
	CredentialHeaders []string `json:"credential_headers,omitempty"`
	// Applies the profile for a Next.js app served by `next start`: answers
	// Next marks `x-nextjs-cache: STALE` are not stored; the Age of
	// answers from Next's own cache is derived from when Next generated
	// them; stale-while-revalidate inherited from Next is bounded to one
	// second; Draft Mode and Preview Mode requests bypass the cache; the
	// redirects Next answers `_rsc` requests with are not stored;
	// `/_next/image` requests share entries across Accept values that
	// choose the same image; and pages carry the root layout's implicit
	// tag, so revalidating the layout reaches every page. Default: false.
	Nextjs bool `json:"nextjs,omitempty"`

	store    *cache.Store
	policy   cache.Policy
	tagSplit map[string]TagSeparator
	logger   *zap.Logger
	now      func() time.Time

	credentials  standing.Credentials
	warnGateOnce *sync.Once // one warning per handler about a gate after the cache
}

// TagHeader names a response header that carries tags.
type TagHeader struct {
	// The header field name, such as `Cache-Tag`.
	Name string `json:"name"`
	// How tags are separated in the header: `comma` (as in `Cache-Tag` and
	// `X-Next-Cache-Tags`), `space` (as in `Surrogate-Key`) or `both`.
	// Default: `comma`.
	Separator TagSeparator `json:"separator,omitempty"`
}

// TagSeparator says how a tag header separates its tags.
type TagSeparator string

// Separators.
const (
	SeparateByComma TagSeparator = "comma"
	SeparateBySpace TagSeparator = "space"
	SeparateByBoth  TagSeparator = "both"
)

// DefaultTagHeaders are the tag headers read when none are configured.
var DefaultTagHeaders = []TagHeader{
	{Name: "Cache-Tag", Separator: SeparateByComma},
	{Name: "Surrogate-Key", Separator: SeparateBySpace},
	{Name: "X-Next-Cache-Tags", Separator: SeparateByComma},
}

// Defaults of the handler.
const (
	DefaultMaxItemSize = 16 << 20
	DefaultCacheName   = "caddy-bff"
	DefaultLockTimeout = 10 * time.Second
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tag_cache",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets defaults and finds the store in the tag_cache app.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.setup(ctx.Logger()); err != nil {
		return err
	}
	var err error
	if _, h.store, err = cacheapp.StoreFromContext(ctx, h.Store); err != nil {
		return err
	}
	if h.Nextjs {
		// Next's pages depend on tags only the bridge reports.
		h.store.UsePageIndex()
	}
	return nil
}

// setup applies defaults and builds the policy; everything Provision does
// except finding the store.
func (h *Handler) setup(logger *zap.Logger) error {
	h.logger = logger
	h.now = time.Now
	h.applyDefaults()
	if err := h.Validate(); err != nil {
		return err
	}
	h.tagSplit = make(map[string]TagSeparator, len(h.TagHeaders))
	for _, th := range h.TagHeaders {
		sep := th.Separator
		if sep == "" {
			sep = SeparateByComma
		}
		h.tagSplit[http.CanonicalHeaderKey(th.Name)] = sep
	}
	h.warnGateOnce = new(sync.Once)
	h.credentials = standing.Credentials{Cookies: h.CredentialCookies, Headers: h.CredentialHeaders}
	h.policy = cache.Policy{
		TargetedFields: h.TargetedFields,
		ForceTTL:       time.Duration(h.TTL),
		AllowSetCookie: h.AllowSetCookie,
		AllowPrivate:   h.AllowPrivate,
	}
	return nil
}

// applyDefaults fills in the settings left unset.
func (h *Handler) applyDefaults() {
	if len(h.TagHeaders) == 0 {
		h.TagHeaders = DefaultTagHeaders
	}
	if h.MaxItemSize == 0 {
		h.MaxItemSize = DefaultMaxItemSize
	}
	switch {
	case h.DisableTargetedFields:
		if len(h.TargetedFields) == 0 { // both set: Validate says so
			h.TargetedFields = []string{}
		}
	case h.TargetedFields == nil:
		h.TargetedFields = []string{"CDN-Cache-Control", "Surrogate-Control"}
	}
	if h.CacheName == "" {
		h.CacheName = DefaultCacheName
	}
	if h.LockTimeout == 0 {
		h.LockTimeout = caddy.Duration(DefaultLockTimeout)
	}
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.DisableTargetedFields && len(h.TargetedFields) > 0 {
		return fmt.Errorf("targeted_fields and disable_targeted_fields are mutually exclusive")
	}
	if h.MaxItemSize < 0 {
		return fmt.Errorf("max_item_size must be positive")
	}
	if h.TTL < 0 {
		return fmt.Errorf("ttl must be positive")
	}
	if strings.ContainsAny(h.CacheName, " ,;=\"") {
		return fmt.Errorf("cache_name %q must be a token (no spaces, commas, semicolons, quotes or '=')", h.CacheName)
	}
	for _, th := range h.TagHeaders {
		if th.Name == "" {
			return fmt.Errorf("tag header name must not be empty")
		}
		switch th.Separator {
		case "", SeparateByComma, SeparateBySpace, SeparateByBoth:
		default:
			return fmt.Errorf("tag header %s: separator must be comma, space or both, got %q", th.Name, th.Separator)
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
