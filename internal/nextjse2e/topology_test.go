package nextjse2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestNextJSTwoInstancesShareOneTagClock: two `next start` instances, each
// behind its own Caddy, the two Caddies sharing Redis. revalidateTag in a
// route handler of Next instance 1 must make Caddy instance 2 and Next
// instance 2 serve the new data: 200 rounds, alternately asking Caddy 2 and
// Next 2 first, with the propagation time from Next 1's acknowledgment to
// the first fresh answer.
func TestNextJSTwoInstancesShareOneTagClock(t *testing.T) {
	data := startDataOrigin(t)
	app := testharness.BuildNextApp(t, data.URL)
	redis := testharness.StartRedis(t)
	s1 := startStack(t, app, data, redis.URL())
	s2 := startStack(t, app.Copy(t), data, redis.URL())
	html := variant{name: "html", method: http.MethodGet, carries: true}
	c := &checks{}
	warm(t, s1, c, "/posts", []variant{html})
	warm(t, s2, c, "/posts", []variant{html})

	// until requests base until it shows want, returning how many requests
	// and how long from ack that took.
	until := func(base string, want int64, ack time.Time) (int, time.Duration) {
		w := strconv.FormatInt(want, 10)
		for n := 1; n <= 500; n++ {
			a := fetch(t, base, "/posts", html)
			c.check(t, "round", html, a)
			if a.version == w {
				return n, time.Since(ack)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("%s never showed version %d", base, want)
		return 0, 0
	}

	const rounds = 200
	var caddy2, next2, clock2 []time.Duration
	lastExpired := expiredAt(t, s2.bridgeURL)
	caddyFirst, nextFirst := 0, 0
	var caddyRequests, nextRequests []int
	for i := 0; i < rounds; i++ {
		want := data.publish()
		status, body, _ := call(t, http.MethodGet, s1.next.URL+"/api/revalidate?secret="+revalidateSecret+"&tag=posts&expire=0", nil, "")
		if status != http.StatusOK {
			t.Fatalf("round %d: Next 1's revalidate route: %d %s", i, status, body)
		}
		ack := time.Now()
		// The clock itself: how long until Caddy 2 holds the invalidation
		// (what its bridge answers Next 2), polled beside the page requests.
		clockDone := make(chan time.Duration, 1)
		go func() { clockDone <- waitForClock(t, s2.bridgeURL, lastExpired, ack) }()
		measureCaddy := func() {
			n, d := until(s2.caddyURL, want, ack)
			caddy2 = append(caddy2, d)
			caddyRequests = append(caddyRequests, n)
			if n == 1 {
				caddyFirst++
			}
		}
		measureNext := func() {
			n, d := until(s2.next.URL, want, ack)
			next2 = append(next2, d)
			nextRequests = append(nextRequests, n)
			if n == 1 {
				nextFirst++
			}
		}
		if i%2 == 0 {
			measureCaddy()
			measureNext()
		} else {
			measureNext()
			measureCaddy()
		}
		d := <-clockDone
		if d < 0 {
			t.Fatalf("round %d: Caddy 2's clock never showed the invalidation", i)
		}
		clock2 = append(clock2, d)
		lastExpired = expiredAt(t, s2.bridgeURL)
	}
	c2, n2, k2 := sortDurations(caddy2), sortDurations(next2), sortDurations(clock2)
	t.Logf("revalidateTag on Next 1 -> Caddy 2's tag clock has it: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		ms(percentile(k2, 0.5)), ms(percentile(k2, 0.99)), ms(k2[len(k2)-1]))
	t.Logf("revalidateTag on Next 1 -> fresh at Caddy 2: p50 %.1f ms, p99 %.1f ms, max %.1f ms; first request fresh in %d/%d rounds",
		ms(percentile(c2, 0.5)), ms(percentile(c2, 0.99)), ms(c2[len(c2)-1]), caddyFirst, rounds)
	t.Logf("revalidateTag on Next 1 -> fresh at Next 2:  p50 %.1f ms, p99 %.1f ms, max %.1f ms; first request fresh in %d/%d rounds",
		ms(percentile(n2, 0.5)), ms(percentile(n2, 0.99)), ms(n2[len(n2)-1]), nextFirst, rounds)
	t.Logf("requests until fresh: Caddy 2 max %d, Next 2 max %d; RSC/HTML mix-up checks %d, mix-ups %d",
		maxInt(caddyRequests), maxInt(nextRequests), c.total, len(c.bad))

	// Next 2 asks Caddy 2's clock on every read: it must be fresh on the
	// first request in every round its own. Caddy 2 hears of the
	// invalidation through the Redis feed, a few milliseconds after Next 1's
	// acknowledgment: an early request may still get the old page, but
	// the entry Next 2 filled it with can never outlive the invalidation.
	if nextFirst < rounds/2 {
		t.Errorf("Next 2 showed the new data on the first request in only %d of %d rounds", nextFirst, rounds)
	}
	// The target is 50 ms at p99 on loopback for the clock; the
	// assertion leaves room for a loaded CI machine running other packages.
	if p99 := percentile(k2, 0.99); p99 > 250*time.Millisecond {
		t.Errorf("p99 propagation of the invalidation to Caddy 2 is %s", p99)
	}
}

// expiredAt asks a Caddy's bridge when it last saw the tag posts expire.
func expiredAt(t testing.TB, bridgeURL string) int64 {
	status, body, _ := call(t, http.MethodPost, bridgeURL+"/tags", map[string]string{"Authorization": "Bearer " + bridgeSecret, "Content-Type": "application/json"}, `{"tags":["posts"]}`)
	if status != http.StatusOK {
		t.Errorf("bridge tags call: %d %s", status, body)
		return 0
	}
	var answer struct {
		Tags map[string]struct {
			Expired int64 `json:"expired"`
		} `json:"tags"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Errorf("bridge tags answer %q: %v", body, err)
	}
	return answer.Tags["posts"].Expired
}

// waitForClock polls a Caddy's bridge until posts expired after before,
// returning how long after ack that was (negative if it never was).
func waitForClock(t testing.TB, bridgeURL string, before int64, ack time.Time) time.Duration {
	for i := 0; i < 2000; i++ {
		if expiredAt(t, bridgeURL) > before {
			return time.Since(ack)
		}
		time.Sleep(time.Millisecond)
	}
	return -1
}

func maxInt(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
