'use strict'

// caddy-bff's Next.js 'use cache' handler (next.config `cacheHandlers`):
// Next's default in-memory 'use cache' storage, with its tag operations on
// caddy-bff's tag clock, so every instance sees every revalidation.
//
//   - updateTags: recorded in Caddy's tag clock before Next acknowledges.
//   - refreshTags / getExpiration: the expiry of tags as the clock holds
//     it, read from Caddy (the manifest is shared with cache-handler.js).

const { createDefaultCacheHandler } = require('next/dist/server/lib/cache-handlers/default')
const client = require('./client')

const storage = createDefaultCacheHandler(Number(process.env.CADDY_BFF_USE_CACHE_BYTES || 50 * 1024 * 1024))

module.exports = {
  get: (cacheKey, softTags) => storage.get(cacheKey, softTags),
  set: (cacheKey, pendingEntry) => storage.set(cacheKey, pendingEntry),
  async refreshTags() {},
  async getExpiration(tags) {
    if (tags.length > 0) {
      // Unreachable Caddy: report the tags expired now, so nothing cached
      // under them is served without a fresh render.
      try {
        await client.syncTags(tags)
      } catch (err) {
        console.error(`caddy-bff bridge: ${err.message}; treating ${tags.length} tags as expired`)
        return Date.now()
      }
    }
    return client.expirationOf(tags)
  },
  async updateTags(tags, durations) {
    await client.revalidate(tags, durations)
    return storage.updateTags(tags, durations)
  },
}
