import { connection } from 'next/server'
import { getPosts } from '../data'

// A dynamic page: rendered on every request, never cached.
export default async function Dynamic() {
  await connection()
  const posts = await getPosts({ cache: 'no-store' })
  return (
    <main>
      <p id="version">{posts.version}</p>
      <p id="rendered">{Date.now()}</p>
    </main>
  )
}
