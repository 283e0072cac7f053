package cache

// Invalidation is a request to invalidate tags and paths in one store, as
// the tag_cache app, its admin API and the handlers that call it (the
// revalidate_webhook and nextjs_bridge) pass it along.
type Invalidation struct {
	// Store names the store; "" is the default store.
	Store string `json:"store,omitempty"`
	// Tags to invalidate.
	Tags []string `json:"tags,omitempty"`
	// Paths to invalidate (each entry's implicit path tag).
	Paths []string `json:"paths,omitempty"`
	// Mode is expire (default) or stale.
	Mode Mode `json:"mode,omitempty"`
	// Source says who asked (webhook, admin), for logs and events.
	Source string `json:"-"`
}
