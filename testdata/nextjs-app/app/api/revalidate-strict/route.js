import { revalidateTag } from '../../../caddy-bff/revalidate'

// The same route with caddy-bff's awaitable revalidateTag: it answers only
// once the revalidation is recorded, and fails when it could not be.
export async function GET(request) {
  const secret = request.nextUrl.searchParams.get('secret')
  if (secret !== process.env.REVALIDATE_SECRET) {
    return Response.json({ message: 'Invalid secret' }, { status: 401 })
  }
  const tag = request.nextUrl.searchParams.get('tag')
  if (!tag) {
    return Response.json({ message: 'Missing tag' }, { status: 400 })
  }
  await revalidateTag(tag, { expire: 0 })
  return Response.json({ revalidated: true, now: Date.now() })
}
