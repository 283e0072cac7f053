'use strict'

// caddy-bff's Next.js incremental cache handler (next.config `cacheHandler`):
// Next's own file-system cache, whose tag decisions follow caddy-bff's tag
// clock instead of one process's memory.
//
//   - revalidateTag (revalidateTag, updateTag, revalidatePath's implicit
//     _N_T_ tags): recorded in Caddy's tag clock first; Next acknowledges
//     only once Caddy has (a failure throws, and the route handler or
//     server action fails instead of claiming success).
//   - get: before Next judges a cached page or fetch, the manifest of its
//     tags is brought up to date from Caddy, so a revalidation on any Next
//     instance, or through Caddy's webhook, applies here at once. If Caddy
//     cannot answer, the entry is not served (a miss: Next renders).
//   - set and get of a page: Caddy learns the tags the page depends on
//     (next start never sends x-next-cache-tags) and when it was generated,
//     so its tag_cache purges the page when a tag is invalidated and knows
//     the page's age.
//
// Next's entries stay where Next keeps them (.next/cache and memory).

const FileSystemCache = require('next/dist/server/lib/incremental-cache/file-system-cache').default
const client = require('./client')

const PAGE_KINDS = new Set(['APP_PAGE', 'APP_ROUTE', 'PAGES'])

function pageTags(value) {
  return value && PAGE_KINDS.has(value.kind) ? client.tagsOfHeaders(value.headers) : []
}

class CaddyBffCacheHandler extends FileSystemCache {
  async get(key, ctx) {
    const data = await super.get(key, ctx)
    if (!data || !data.value) return data
    const fetchTags = data.value.kind === 'FETCH' ? [...((ctx && ctx.tags) || []), ...((ctx && ctx.softTags) || [])] : []
    const tags = data.value.kind === 'FETCH' ? fetchTags : pageTags(data.value)
    try {
      await client.syncTags(tags, data.lastModified)
      if (PAGE_KINDS.has(data.value.kind) && tags.length > 0 && data.lastModified > 0) {
        await client.reportPage(client.pagePathOf(key), tags, data.lastModified)
      }
    } catch (err) {
      console.error(`caddy-bff bridge: ${err.message}; not serving ${key} from the cache`)
      return null
    }
    return data
  }

  async set(key, data, ctx) {
    const tags = pageTags(data)
    if (tags.length > 0) {
      // Before Next stores (and starts serving) the page, so Caddy never
      // stores an answer of it without knowing its tags.
      await client.reportPage(client.pagePathOf(key), tags, Date.now())
    }
    return super.set(key, data, ctx)
  }

  async revalidateTag(tags, durations) {
    await client.revalidate(tags, durations)
    return super.revalidateTag(tags, durations)
  }
}

module.exports = CaddyBffCacheHandler
