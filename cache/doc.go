// Package cache is the tag cache engine: stores of HTTP responses in memory
// under a byte budget, the tag clock that invalidates them in O(1) per tag,
// the RFC 9111 reuse policy, request coalescing and the page index of the
// Next.js bridge. It knows nothing of Caddy: the tag_cache app (package
// cache/app) builds and keeps the stores, and distributed backends such as
// Redis (package cache/redis) plug in through the Backend interface and its
// optional capabilities.
package cache
