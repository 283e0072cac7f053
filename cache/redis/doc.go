// Package redis is the Redis (or Valkey) backend of the tag cache: the
// `tag_cache.backends.redis` module, which the tag_cache app loads by ID to
// run in distributed mode. It records every store's invalidations in Redis
// (a single server, a Sentinel deployment or a Cluster), follows them
// through a Redis stream into the local tag clock, and can share entries,
// the page index and the webhook's replay memory between instances.
package redis
