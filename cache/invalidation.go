package cache

// Invalidation is a request to invalidate tags and paths in one store, as
// the tag_cache app, its admin API and the handlers that call it (the
// revalidate_webhook and nextjs_bridge) pass it along.
type Invalidation struct {
	// Store names the store to invalidate in. Default: "", the default
	// store.
	Store string `json:"store,omitempty"`
	// Tags are the tags to invalidate. Default: none; tags and paths
	// together name at least one item.
	Tags []string `json:"tags,omitempty"`
	// Paths are the URL paths to invalidate, through the implicit path tag
	// every entry carries. Default: none.
	Paths []string `json:"paths,omitempty"`
	// Mode is how the covered entries are treated: "expire" (unusable at
	// once) or "stale" (served while refreshed; Next.js's "max" means the
	// same). Default: "expire".
	Mode Mode `json:"mode,omitempty"`
	// Source says who asked (webhook, admin, nextjs_bridge), for logs and
	// events. It is never read from JSON.
	Source string `json:"-"`
}
