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
	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// Handler is the `tag_cache` HTTP handler: an RFC 9111 shared cache in
// front of whatever the rest of the route produces (reverse_proxy,
// file_server, respond...). Stored responses carry tags taken from response
// headers and are invalidated by tag or path through the tag_cache app.
type Handler struct {
	// Store names the tag_cache app's store to use. Default: the default store.
	Store string `json:"store,omitempty"`
	// TagHeaders are the response headers tags are read from, with how each
	// separates its tags. Default: Cache-Tag (comma), Surrogate-Key (space),
	// x-next-cache-tags (comma).
	TagHeaders []TagHeader `json:"tag_headers,omitempty"`
	// KeepTagHeaders sends the tag headers on to clients. By default they are
	// stripped, as CDNs do: tags describe the cache's content, not the page.
	KeepTagHeaders bool `json:"keep_tag_headers,omitempty"`
	// TTL, when set, stores responses for this long whatever their freshness
	// headers say, like Next.js `dynamic = 'force-static'`. Responses that are
	// private, no-store or set cookies are still never stored unless
	// AllowPrivate or AllowSetCookie say so.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// AllowSetCookie stores responses that carry Set-Cookie. Off by default:
	// a cookie meant for one user would be replayed to everyone.
	AllowSetCookie bool `json:"allow_set_cookie,omitempty"`
	// AllowPrivate stores responses marked Cache-Control: private. Off by
	// default; a shared cache must not store them.
	AllowPrivate bool `json:"allow_private,omitempty"`
	// MaxItemSize is the largest body stored, in bytes; larger bodies stream
	// to the client unstored. Default: 16 MiB.
	MaxItemSize int64 `json:"max_item_size,omitempty"`
	// TargetedFields are the targeted cache-control fields obeyed before
	// Cache-Control (RFC 9213), in order. Default: ["CDN-Cache-Control",
	// "Surrogate-Control"].
	TargetedFields []string `json:"targeted_fields,omitempty"`
	// CacheName identifies this cache in the Cache-Status header (RFC 9211).
	// Default: "caddy-bff".
	CacheName string `json:"cache_name,omitempty"`
	// Debug adds the cache key to Cache-Status.
	Debug bool `json:"debug,omitempty"`
	// LockTimeout bounds how long a request waits for a concurrent fill of the
	// same key before going upstream itself. Default: 10s.
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`
	// CredentialCookies names more cookies that carry a user's session (for
	// example an app's own `__Secure-next-auth.session-token`). A request
	// carrying one gets RFC 9111's rules for requests with Authorization:
	// its response is stored only when marked public, s-maxage or
	// must-revalidate, and served only to requests with a credential too.
	// The cookies and headers that auth_proxy, the authenticated matcher
	// and session_callback read are always counted. Default: none more.
	CredentialCookies []string `json:"credential_cookies,omitempty"`
	// CredentialHeaders names more request headers that carry a credential,
	// with the same effect as CredentialCookies. Authorization is always
	// one. Default: none more.
	CredentialHeaders []string `json:"credential_headers,omitempty"`
	// Nextjs applies the Next.js profile for an app served by `next start`
	// (see tagcache_nextjs.go and docs/nextjs.md): answers Next marks
	// `x-nextjs-cache: STALE` are never stored, the Age of its cached
	// answers is derived from when it generated them, inherited
	// stale-while-revalidate is bounded to one second, Draft Mode and
	// Preview Mode requests bypass the cache, `_rsc` redirects are not
	// stored, `/_next/image` variants share entries across Accept values,
	// and pages carry the root layout's implicit tag.
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
	// Name is the header field name.
	Name string `json:"name"`
	// Separator is how tags are separated in it: "comma" (Cache-Tag,
	// x-next-cache-tags), "space" (Surrogate-Key) or "both".
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
	appIface, err := ctx.App("tag_cache")
	if err != nil {
		return fmt.Errorf("loading tag_cache app: %v", err)
	}
	app, ok := appIface.(StoreProvider)
	if !ok {
		return fmt.Errorf("tag_cache app is %T, which provides no stores", appIface)
	}
	h.store, err = app.Store(h.Store)
	return err
}

// setup applies defaults and builds the policy; everything Provision does
// except finding the store.
func (h *Handler) setup(logger *zap.Logger) error {
	h.logger = logger
	h.now = time.Now
	if len(h.TagHeaders) == 0 {
		h.TagHeaders = DefaultTagHeaders
	}
	if h.MaxItemSize == 0 {
		h.MaxItemSize = DefaultMaxItemSize
	}
	if h.TargetedFields == nil {
		h.TargetedFields = []string{"CDN-Cache-Control", "Surrogate-Control"}
	}
	if h.CacheName == "" {
		h.CacheName = DefaultCacheName
	}
	if h.LockTimeout == 0 {
		h.LockTimeout = caddy.Duration(DefaultLockTimeout)
	}
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

// StoreProvider is what handlers need of the tag_cache app.
type StoreProvider interface {
	Store(name string) (*cache.Store, error)
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
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
