'use server'

import { updateTag } from 'next/cache'

// A server action: the editor publishes, and reads the result at once.
export async function publish() {
  await fetch(`${process.env.DATA_URL}/publish`, { method: 'POST' })
  updateTag('posts')
}
