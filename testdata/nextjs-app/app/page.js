export default function Home() {
  return <p id="home">caddy-bff end-to-end app</p>
}
