// Package app is the `tag_cache` Caddy app: it builds the stores of the
// cache engine (package cache) and keeps them warm across config reloads,
// loads the distributed backend by module ID (namespace tag_cache.backends,
// such as the redis module of package cache/redis), and serves the
// invalidation API that handlers and the `admin.api.tag_cache` admin routes
// use, with its metrics, its events and the check of gates ordered after
// the cache. It also parses the `tag_cache` Caddyfile global option.
package app
