'use strict'

// Awaitable revalidation for route handlers. Under `next start`, Next runs
// the revalidations a route handler asks for (revalidateTag,
// revalidatePath) after it has sent the response, so the caller is told
// "revalidated" before anything is recorded, and a failure only reaches the
// logs. These versions record at caddy-bff first and throw when Caddy did
// not record, so the route handler answers 500 instead of claiming success;
// then they ask Next as usual. (Server actions need none of this: Next
// waits for their revalidations before it answers.)
//
//   const { revalidateTag } = require('./caddy-bff/revalidate')
//   export async function POST(request) {
//     ...
//     await revalidateTag('posts', 'max')
//     return Response.json({ revalidated: true })
//   }

const nextCache = require('next/cache')
const client = require('./client')

// durationsOf maps a Next profile to the durations Next passes its cache
// handlers: none for an immediate expiry, a named profile ('max') or an
// object with a positive expire for stale-while-revalidate.
function durationsOf(profile) {
  if (profile === undefined) return undefined
  if (typeof profile === 'object') return profile
  return { expire: Number.MAX_SAFE_INTEGER }
}

async function revalidateTag(tag, profile) {
  await client.revalidate([tag], durationsOf(profile))
  nextCache.revalidateTag(tag, profile)
}

async function revalidatePath(path, type) {
  let tag = `_N_T_${path}`
  if (type) tag += `${tag.endsWith('/') ? '' : '/'}${type}`
  await client.revalidate([tag], undefined)
  nextCache.revalidatePath(path, type)
}

module.exports = { revalidateTag, revalidatePath }
