// The end-to-end app's config: caddy-bff's bridge as Next's cache handlers,
// for the incremental cache (ISR pages, fetch) and for 'use cache'. The
// test copies integrations/nextjs next to this file as caddy-bff/.
module.exports = {
  cacheHandler: require.resolve('./caddy-bff/cache-handler.js'),
  cacheHandlers: { default: require.resolve('./caddy-bff/use-cache-handler.js') },
  images: { formats: ['image/avif', 'image/webp'] },
}
