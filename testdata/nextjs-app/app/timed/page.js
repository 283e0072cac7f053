// Time-based ISR: regenerated at most every 2 seconds.
export const revalidate = 2

export default function Timed() {
  return (
    <main>
      <p id="rendered">{Date.now()}</p>
    </main>
  )
}
