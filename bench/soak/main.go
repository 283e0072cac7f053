// Command soak is the adversarial soak of tag_cache: for a bounded time it
// sends a Caddy with tag_cache (max_size 32MiB) every kind of request a
// hostile client can send (unique URLs with 15 kB query strings, unsafe
// methods on stored URIs, GETs with bodies, invalidations flooding the tag
// clock with unique long tags) and samples the Caddy process's resident
// memory. It prints RSS before, at its peak and after, and the tag clock's
// bytes from the stats, and fails when RSS grows past max_size + 64 MiB over the idle process.
// Loopback only; bench/soak.sh builds Caddy and runs it.
//
//	go run ./bench/soak -caddy /path/to/caddy [-seconds 60] [-workers 16]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const maxSizeMiB = 32

func main() {
	caddyBin := flag.String("caddy", "", "path to a Caddy binary built with caddy-bff")
	seconds := flag.Int("seconds", 60, "how long the load runs")
	workers := flag.Int("workers", 16, "concurrent clients")
	profile := flag.String("heap-profile", "", "write Caddy's heap profile (after the load) to this file")
	flag.Parse()
	if *caddyBin == "" {
		log.Fatal("-caddy is required")
	}

	origin := startOrigin()
	dir, err := os.MkdirTemp("", "caddy-bff-soak-")
	check(err)
	defer os.RemoveAll(dir)
	admin, site := freePort(), freePort()
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	tag_cache {
		max_size %dMiB
	}
	log {
		level ERROR
	}
}

http://127.0.0.1:%d {
	tag_cache
	reverse_proxy %s
}
`, admin, maxSizeMiB, site, origin)
	check(os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o600))
	cmd := exec.Command(*caddyBin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", site)
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", admin)
	waitUp(base + "/warm")

	before := rss(cmd.Process.Pid)
	var peak atomic.Int64
	peak.Store(before)
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
				if v := rss(cmd.Process.Pid); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}
	var counts [5]atomic.Int64
	var errors atomic.Int64
	deadline := time.Now().Add(time.Duration(*seconds) * time.Second)
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			query := strings.Repeat("q", 15000)
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				kind := int(n % 5)
				counts[kind].Add(1)
				target := fmt.Sprintf("%s/u/%d?%s", base, n, query)
				var err error
				switch kind {
				case 0: // a unique URL with a 15 kB query string, stored
					err = send(client, "GET", target, nil)
				case 1: // store it, then an unsafe method records its uri: tag
					if err = send(client, "GET", target, nil); err == nil {
						err = send(client, "POST", target, nil)
					}
				case 2: // a GET with a body
					err = send(client, "GET", target, bytes.NewReader([]byte("body of a GET")))
				case 3: // a tag flood: 1024 unique 200-byte tags per invalidation
					tags := make([]string, 1024)
					for i := range tags {
						tags[i] = fmt.Sprintf("%d-%d-%s", n, i, strings.Repeat("t", 190))
					}
					body, _ := json.Marshal(map[string]any{"tags": tags, "mode": "stale"})
					err = send(client, "POST", adminURL+"/tag_cache/revalidate", bytes.NewReader(body))
				case 4: // a page carrying many tags of its own
					err = send(client, "GET", fmt.Sprintf("%s/tagged/%d", base, n), nil)
				}
				if err != nil {
					errors.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	time.Sleep(2 * time.Second) // let eviction settle
	after := rss(cmd.Process.Pid)

	var stats struct {
		Stores []struct {
			Entries        int   `json:"entries"`
			Bytes          int64 `json:"bytes"`
			TagRecords     int   `json:"tag_records"`
			TagRecordBytes int64 `json:"tag_record_bytes"`
			Flights        int   `json:"flights"`
		} `json:"stores"`
	}
	resp, err := http.Get(adminURL + "/tag_cache/stats")
	check(err)
	check(json.NewDecoder(resp.Body).Decode(&stats))
	resp.Body.Close()
	st := stats.Stores[0]
	heap := heapInuse(adminURL)
	if *profile != "" {
		resp, err := http.Get(adminURL + "/debug/pprof/heap?gc=1")
		check(err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(os.WriteFile(*profile, b, 0o644))
	}
	limit := int64(maxSizeMiB+64) << 20
	fmt.Printf("soak %ds, %d workers: requests unique-GET %d, GET+POST %d, GET-with-body %d, tag floods %d (1024 tags each), tagged pages %d; errors %d\n",
		*seconds, *workers, counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load(), counts[4].Load(), errors.Load())
	fmt.Printf("RSS before (idle Caddy) %.1f MiB, peak %.1f MiB, after %.1f MiB\n",
		mib(before), mib(peak.Load()), mib(after))
	fmt.Printf("Go heap in use at the end: %.1f MiB (GOMEMLIMIT=%q)\n", mib(heap), os.Getenv("GOMEMLIMIT"))
	fmt.Printf("store: %d entries, %.1f MiB of %d MiB; tag clock: %d records, %.1f MiB; flights %d\n",
		st.Entries, mib(st.Bytes), maxSizeMiB, st.TagRecords, mib(st.TagRecordBytes), st.Flights)
	growth := peak.Load() - before
	fmt.Printf("RSS growth over idle Caddy: %.1f MiB (limit max_size + 64 MiB = %d MiB)\n", mib(growth), limit>>20)
	failed := false
	if growth > limit {
		fmt.Println("FAIL: RSS grew past max_size + 64 MiB")
		failed = true
	}
	if st.Flights != 0 {
		fmt.Println("FAIL: flights left behind")
		failed = true
	}
	if failed {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.Exit(1)
	}
}

// startOrigin serves cacheable pages; /tagged/ pages carry 100 tags of 200
// bytes each, unique to the page.
func startOrigin() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "public, max-age=600")
		if strings.HasPrefix(r.URL.Path, "/tagged/") {
			tags := make([]string, 100)
			for i := range tags {
				tags[i] = fmt.Sprintf("%s-%d-%s", r.URL.Path[8:], i, strings.Repeat("g", 190))
			}
			w.Header().Set("Cache-Tag", strings.Join(tags, ","))
		}
		body := make([]byte, 1024+rand.IntN(4096))
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		_, _ = w.Write(body)
	}))
	return ln.Addr().String()
}

func send(c *http.Client, method, url string, body io.Reader) error {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s %s: %d", method, url[:min(len(url), 60)], resp.StatusCode)
	}
	return nil
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib << 10
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitUp(url string) {
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("Caddy did not come up at %s", url)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// heapInuse reads go_memstats_heap_inuse_bytes from Caddy's admin metrics.
func heapInuse(adminURL string) int64 {
	resp, err := http.Get(adminURL + "/metrics")
	check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}
