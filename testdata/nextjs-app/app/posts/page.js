import { draftMode } from 'next/headers'
import { getPosts } from '../data'
import { publish } from './actions'

// An ISR page: cached for an hour, and revalidated on demand by tag.
export const revalidate = 3600

export default async function Posts() {
  const { isEnabled: draft } = await draftMode()
  const posts = draft
    ? await getPosts({ cache: 'no-store', headers: { 'x-draft': '1' } })
    : await getPosts({ next: { tags: ['posts'] } })
  return (
    <main>
      <p id="version">{posts.version}</p>
      <p id="draft">{draft ? 'draft' : 'published'}</p>
      <p id="rendered">{Date.now()}</p>
      <form action={publish}>
        <button type="submit">publish</button>
      </form>
    </main>
  )
}
