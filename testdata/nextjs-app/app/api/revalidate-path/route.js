import { revalidatePath } from 'next/cache'

export async function POST(request) {
  const secret = request.nextUrl.searchParams.get('secret')
  if (secret !== process.env.REVALIDATE_SECRET) {
    return Response.json({ message: 'Invalid secret' }, { status: 401 })
  }
  const path = request.nextUrl.searchParams.get('path')
  if (!path) {
    return Response.json({ message: 'Missing path' }, { status: 400 })
  }
  revalidatePath(path)
  return Response.json({ revalidated: true, now: Date.now() })
}
