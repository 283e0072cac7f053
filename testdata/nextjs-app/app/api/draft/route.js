import { draftMode } from 'next/headers'
import { redirect } from 'next/navigation'

// Enables Draft Mode (the __prerender_bypass cookie) and goes to the page.
export async function GET(request) {
  const secret = request.nextUrl.searchParams.get('secret')
  if (secret !== process.env.REVALIDATE_SECRET) {
    return Response.json({ message: 'Invalid secret' }, { status: 401 })
  }
  ;(await draftMode()).enable()
  redirect('/posts')
}
