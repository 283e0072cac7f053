import { revalidateTag } from 'next/cache'

// The on-demand revalidation route handler, as the Next.js docs write it:
// the token first, then the tag, then revalidateTag.
export async function GET(request) {
  const secret = request.nextUrl.searchParams.get('secret')
  if (secret !== process.env.REVALIDATE_SECRET) {
    return Response.json({ message: 'Invalid secret' }, { status: 401 })
  }
  const tag = request.nextUrl.searchParams.get('tag')
  if (!tag) {
    return Response.json({ message: 'Missing tag' }, { status: 400 })
  }
  const expire = request.nextUrl.searchParams.get('expire')
  revalidateTag(tag, expire === '0' ? { expire: 0 } : 'max')
  return Response.json({ revalidated: true, now: Date.now() })
}

export const POST = GET
