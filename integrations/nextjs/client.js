'use strict'

// The caddy-bff client shared by the two cache handlers of this directory.
// It talks to Caddy's `nextjs_bridge` handler over HTTP with a bearer
// secret, and keeps Next's own tags manifest (the in-process record of
// revalidated tags that Next checks every cached entry against) in step
// with Caddy's tag clock, so every Next instance and every Caddy instance
// share one clock.
//
// Configuration, from the environment of `next start`:
//   CADDY_BFF_BRIDGE_URL     the bridge's base URL, for example
//                            http://127.0.0.1:9080/_caddy-bff/next (required)
//   CADDY_BFF_BRIDGE_SECRET  the bearer secret Caddy's nextjs_bridge expects
//                            (required)
//   CADDY_BFF_BRIDGE_TIMEOUT_MS  per call, default 2000
//   CADDY_BFF_BASE_PATH      the app's basePath, if it has one, so the page
//                            paths reported match the URLs Caddy sees
//
// No dependencies beyond Node's own http module and the `next` package the
// app already has. It does not use fetch: Next patches the global fetch and
// would count a bridge call made during a render as the page's own data
// fetch (a no-store one, which makes a static page dynamic).

const http = require('node:http')
const https = require('node:https')
const { tagsManifest } = require('next/dist/server/lib/incremental-cache/tags-manifest.external')

const NEXT_CACHE_TAGS_HEADER = 'x-next-cache-tags'

function config() {
  const url = (process.env.CADDY_BFF_BRIDGE_URL || '').replace(/\/+$/, '')
  const secret = process.env.CADDY_BFF_BRIDGE_SECRET || ''
  if (!url || !secret) {
    throw new Error('caddy-bff bridge: CADDY_BFF_BRIDGE_URL and CADDY_BFF_BRIDGE_SECRET must be set')
  }
  return {
    url,
    secret,
    timeout: Number(process.env.CADDY_BFF_BRIDGE_TIMEOUT_MS || 2000),
    basePath: (process.env.CADDY_BFF_BASE_PATH || '').replace(/\/+$/, ''),
  }
}

// During `next build` there is no Caddy to talk to: prerendered pages are
// reported when the running app first reads them.
const building = process.env.NEXT_PHASE === 'phase-production-build'

let cached
function settings() {
  if (!cached) cached = config()
  return cached
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
}

// call POSTs body to the bridge call name and returns the parsed answer; any
// failure (network, timeout, non-2xx) rejects with Caddy's message.
function call(name, body) {
  if (building) return Promise.resolve({ tags: {}, forgotten: 0 })
  const { url, secret, timeout } = settings()
  const target = new URL(`${url}/${name}`)
  const payload = Buffer.from(JSON.stringify(body))
  const transport = target.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method: 'POST',
        agent: agents[target.protocol],
        headers: {
          authorization: `Bearer ${secret}`,
          'content-type': 'application/json',
          'content-length': payload.length,
        },
        timeout,
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let answer
          try {
            answer = JSON.parse(text)
          } catch {
            answer = { error: text.slice(0, 200) }
          }
          if (res.statusCode < 200 || res.statusCode > 299) {
            reject(new Error(`caddy-bff bridge ${name}: ${res.statusCode} ${answer.error || ''}`.trim()))
            return
          }
          resolve(answer)
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`caddy-bff bridge ${name}: no answer within ${timeout} ms`)))
    req.on('error', (err) => reject(new Error(`caddy-bff bridge ${name}: ${err.message}`)))
    req.end(payload)
  })
}

// modeOf maps Next's revalidation durations to caddy-bff's modes: no
// durations (updateTag, revalidatePath) and { expire: 0 } expire at once;
// a profile such as 'max' marks stale, served once while regenerating.
function modeOf(durations) {
  if (!durations || durations.expire === undefined || durations.expire <= 0) return 'expire'
  return 'stale'
}

// In-flight revalidations, so the same call from the incremental cache and
// from a 'use cache' handler (Next calls both for one revalidateTag) reaches
// Caddy once.
const inflight = new Map()

// revalidate records tags in Caddy's tag clock and resolves only once Caddy
// answered 200: recorded where every instance sees it. It throws otherwise,
// so Next does not acknowledge a revalidation that was not recorded.
function revalidate(tags, durations) {
  tags = typeof tags === 'string' ? [tags] : [...tags]
  if (tags.length === 0) return Promise.resolve()
  const mode = modeOf(durations)
  const key = JSON.stringify([tags, mode])
  let p = inflight.get(key)
  if (!p) {
    p = call('revalidate', { tags, mode }).finally(() => inflight.delete(key))
    inflight.set(key, p)
  }
  return p
}

// syncTags brings Next's tags manifest up to date for tags from Caddy's
// clock. An entry generated before the clock's forgotten mark may have
// missed an invalidation Caddy no longer holds: its tags are marked stale
// from that mark, so Next serves it once more and regenerates it.
async function syncTags(tags, lastModified) {
  if (tags.length === 0) return
  const answer = await call('tags', { tags })
  for (const tag of tags) {
    const remote = answer.tags[tag] || {}
    const local = tagsManifest.get(tag) || {}
    const next = { ...local }
    if (remote.expired && !(local.expired >= remote.expired)) next.expired = remote.expired
    if (remote.stale && !(local.stale >= remote.stale)) next.stale = remote.stale
    if (answer.forgotten && typeof lastModified === 'number' && lastModified < answer.forgotten) {
      next.stale = Math.max(next.stale || 0, answer.forgotten)
    }
    if (next.expired !== local.expired || next.stale !== local.stale) {
      tagsManifest.set(tag, next)
    }
  }
}

// expirationOf returns, like Next's default 'use cache' handler, the most
// recent expiry of tags as the manifest now holds it.
function expirationOf(tags) {
  let latest = 0
  for (const tag of tags) {
    const entry = tagsManifest.get(tag)
    if (entry && entry.expired) latest = Math.max(latest, entry.expired)
  }
  return latest
}

// Pages already reported at their generation time, so a page read a
// thousand times is reported once (bounded: forgotten wholesale when full).
const reported = new Map()
const MAX_REPORTED = 10000

// reportPage tells Caddy that the page at path depends on tags and was
// generated at the given time (unix ms). It resolves once Caddy recorded it.
async function reportPage(path, tags, generated) {
  if (!path || tags.length === 0) return
  const { basePath } = settings()
  const urlPath = basePath + (path === '/' && basePath ? '' : path)
  const key = `${urlPath}\n${generated}`
  if (reported.has(key)) return
  await call('pages', { path: urlPath || '/', tags, generated: Math.round(generated) })
  if (reported.size >= MAX_REPORTED) reported.clear()
  reported.set(key, true)
}

// pagePathOf returns the URL path of a page from Next's storage key
// (`/route-cache/APP_PAGE/<hash>/$/posts`, or `/posts` for build output).
function pagePathOf(key) {
  const marker = key.indexOf('/$/')
  let path = marker === -1 ? key : key.slice(marker + 2)
  if (path === '/index') path = '/'
  else if (path.endsWith('/index')) path = path.slice(0, -'/index'.length)
  return path.startsWith('/') ? path : `/${path}`
}

// tagsOfHeaders reads x-next-cache-tags from a stored page's headers.
function tagsOfHeaders(headers) {
  const value = headers && headers[NEXT_CACHE_TAGS_HEADER]
  if (typeof value !== 'string' || value === '') return []
  return value.split(',').filter(Boolean)
}

module.exports = {
  revalidate,
  syncTags,
  expirationOf,
  reportPage,
  pagePathOf,
  tagsOfHeaders,
  modeOf,
}
