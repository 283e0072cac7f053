// The end-to-end app's config: caddy-bff's bridge as Next's cache handler,
// for the incremental cache (ISR pages, fetch) and for 'use cache'.
const bridge = require.resolve('./caddy-bff-cache-handler.js')

module.exports = {
  cacheHandler: bridge,
  cacheHandlers: { default: bridge },
  images: { formats: ['image/avif', 'image/webp'] },
}
