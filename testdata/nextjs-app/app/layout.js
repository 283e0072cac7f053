import Link from 'next/link'

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/posts">posts</Link> <Link href="/timed">timed</Link>
        </nav>
        {children}
      </body>
    </html>
  )
}
