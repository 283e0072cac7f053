// The app's data source: the test's stand-in CMS, reached at DATA_URL.
export async function getPosts(options) {
  const res = await fetch(`${process.env.DATA_URL}/posts`, options)
  if (!res.ok) throw new Error(`data origin answered ${res.status}`)
  return res.json()
}
