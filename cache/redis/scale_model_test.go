package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestFeedScaleModel is the scale model of distributed mode: many
// instances, each a real backend following the feed with XREAD BLOCK
// as in production, and a steady stream of invalidations recorded by a few
// of them through the real script. It reports propagation (from the start
// of Record at the writer until a follower has applied it) p50/p99, Redis
// CPU (INFO cpu deltas), network output, per-command cost (INFO
// commandstats) and memory per 1,000 tag records. It is not part of the
// default test run: set CADDYBFF_SCALE_MODEL=1 (bash bench/scale.sh).
//
//	SCALE_POINTS   <followers>x<invalidations/s>[:<full>], comma-separated
//	               (default 50x5000:5,100x5000:5,50x2500:50,50x5000:50); <full> of the followers
//	               are whole instances (backend and tag clock), the others follow the
//	               feed with the same go-redis XREAD BLOCK loop and decoding but no tag clock,
//	               so that fifty followers fit in two cores beside Redis (default: all whole)
//	SCALE_SECONDS  duration of each point (default 10)
//	SCALE_WRITERS  instances that record (default 4)
//	SCALE_CALLERS  concurrent Record callers per writer (default 64)
//	SCALE_REPORT   file the report is also written to
func TestFeedScaleModel(t *testing.T) {
	if os.Getenv("CADDYBFF_SCALE_MODEL") == "" {
		t.Skip("the scale model runs on demand: CADDYBFF_SCALE_MODEL=1 (bash bench/scale.sh)")
	}
	points := envOr("SCALE_POINTS", "50x5000:5,100x5000:5,50x2500:50,50x5000:50")
	seconds, _ := strconv.Atoi(envOr("SCALE_SECONDS", "10"))
	writers, _ := strconv.Atoi(envOr("SCALE_WRITERS", "4"))
	var report strings.Builder
	for _, p := range strings.Split(points, ",") {
		var followers, rate, full int
		spec, fullSpec, _ := strings.Cut(p, ":")
		if _, err := fmt.Sscanf(spec, "%dx%d", &followers, &rate); err != nil {
			t.Fatalf("SCALE_POINTS entry %q: want <followers>x<rate>[:<full>]", p)
		}
		full = followers
		if fullSpec != "" {
			full, _ = strconv.Atoi(fullSpec)
		}
		full = max(1, min(full, followers))
		t.Run(p, func(t *testing.T) {
			line := runScalePoint(t, followers, full, min(writers, full), rate, time.Duration(seconds)*time.Second)
			t.Log(line)
			report.WriteString(line + "\n")
		})
	}
	if path := os.Getenv("SCALE_REPORT"); path != "" {
		_ = os.WriteFile(filepath.Clean(path), []byte(report.String()), 0o644)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func runScalePoint(t *testing.T, followers, full, writers, rate int, d time.Duration) string {
	redis := testharness.StartRedis(t)
	total := rate * int(d/time.Second)
	sent := make([]atomic.Int64, total)
	lat := make([]*[]time.Duration, followers)
	var appliedAll atomic.Int64
	stores := make([]*cache.Store, full)
	ctx, stopLight := context.WithCancel(context.Background())
	var light sync.WaitGroup
	for i := range followers {
		mine := make([]time.Duration, 0, total)
		lat[i] = &mine
		hook := func(tags []string) {
			now := time.Now().UnixNano()
			for _, tag := range tags {
				if n, err := strconv.Atoi(tag[1:]); err == nil && n < total {
					if at := sent[n].Load(); at > 0 {
						mine = append(mine, time.Duration(now-at))
					}
				}
			}
			appliedAll.Add(1)
		}
		if i < full {
			s, rb := newStoreOn(t, &Config{URL: redis.URL(), MaxFeedLag: caddy.Duration(5 * time.Second), PoolSize: 64})
			stores[i] = s
			rb.applied.Store(&hook)
			continue
		}
		light.Add(1)
		go func() {
			defer light.Done()
			followLight(ctx, redis.Addr(), "test:default:feed", hook)
		}()
	}
	// Reset the counters so they cover the run only.
	if _, err := redis.Do("CONFIG", "RESETSTAT"); err != nil {
		t.Fatal(err)
	}
	info := func(section, field string) float64 {
		v, _ := strconv.ParseFloat(redis.Info(section, field), 64)
		return v
	}
	cpu0 := info("cpu", "used_cpu_sys") + info("cpu", "used_cpu_user")
	self0 := processCPU()

	// Writers: callers per writer share a schedule of one invalidation
	// every 1/rate.
	callers, _ := strconv.Atoi(envOr("SCALE_CALLERS", "64"))
	var refused atomic.Int64
	next := make(chan int, 1024)
	var wg sync.WaitGroup
	for w := range writers * callers {
		wg.Add(1)
		go func(s *cache.Store) {
			defer wg.Done()
			for n := range next {
				sent[n].Store(time.Now().UnixNano())
				if _, err := s.InvalidateTags(t.Context(), []string{"s" + strconv.Itoa(n)}, cache.ModeExpire); err != nil {
					refused.Add(1)
				}
			}
		}(stores[w%writers])
	}
	start := time.Now()
	for n := range total {
		if wait := time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(rate))); wait > 0 {
			time.Sleep(wait)
		}
		next <- n
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	// Let the followers drain what is in flight.
	want := int64(total) - refused.Load()
	deadline := time.Now().Add(30 * time.Second)
	for appliedAll.Load() < want*int64(followers) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	drained := time.Since(start)
	cpu := info("cpu", "used_cpu_sys") + info("cpu", "used_cpu_user") - cpu0
	self := processCPU() - self0
	netOut := info("stats", "total_net_output_bytes")
	stats, _ := redis.Do("INFO", "commandstats")
	for _, s := range stores {
		s.Close() // stops the feeds: their latencies can be read
	}
	stopLight()
	light.Wait()
	// Memory, measured once the clients are gone: the stream, then the tag
	// records (everything else is a handful of keys).
	mem1 := info("memory", "used_memory")
	if _, err := redis.Do("DEL", "test:default:feed"); err != nil {
		t.Fatal(err)
	}
	mem2 := info("memory", "used_memory")
	if _, err := redis.Do("FLUSHALL", "SYNC"); err != nil {
		t.Fatal(err)
	}
	mem0 := info("memory", "used_memory")
	var all, whole []time.Duration
	for i, l := range lat {
		all = append(all, *l...)
		if i < full {
			whole = append(whole, *l...)
		}
	}
	if len(all) == 0 || len(whole) == 0 {
		t.Fatal("no propagation measured")
	}
	slices.Sort(all)
	slices.Sort(whole)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	wpct := func(p float64) time.Duration { return whole[min(len(whole)-1, int(float64(len(whole))*p))] }
	recorded := float64(want)
	return fmt.Sprintf("followers %d (%d whole instances), writers %d, target %d/s: recorded %.0f/s (refused %d), %d deliveries; "+
		"propagation p50 %v, p99 %v, max %v (whole instances: p50 %v, p99 %v); Redis CPU %.0f%% of one core (%.1f us per invalidation), "+
		"network out %.1f MB/s, the Go process (followers and writers) %.2f cores; memory per 1,000 tag records %.1f KB (+ stream %.1f KB per 1,000 entries); "+
		"xread %s (%.0f deliveries per call); evalsha %s; drained after %v",
		followers, full, writers, rate, recorded/elapsed.Seconds(), refused.Load(), len(all),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond),
		wpct(0.50).Round(time.Microsecond), wpct(0.99).Round(time.Microsecond),
		100*cpu/drained.Seconds(), 1e6*cpu/recorded, netOut/drained.Seconds()/1e6, self/drained.Seconds(),
		(mem2-mem0)/(recorded/1000)/1024, (mem1-mem2)/(recorded/1000)/1024,
		commandStat(stats, "xread"), float64(len(all))/commandCalls(stats, "xread"), commandStat(stats, "evalsha"), drained.Round(time.Millisecond))
}

// followLight follows the feed as backend.followFeed does (XREAD
// BLOCK from the last id read, COUNT 1000, the same client library and tag
// decoding) and hands each message's tags to hook, without a tag clock.
func followLight(ctx context.Context, addr, key string, hook func(tags []string)) {
	client := goredis.NewClient(&goredis.Options{Addr: addr, ReadTimeout: time.Second, MaxRetries: 1})
	defer client.Close()
	last := "0-0"
	for ctx.Err() == nil {
		streams, err := client.XRead(ctx, &goredis.XReadArgs{Streams: []string{key, last}, Count: 1000, Block: time.Second}).Result()
		if err != nil {
			if !errors.Is(err, goredis.Nil) {
				sleepCtx(ctx, 50*time.Millisecond)
			}
			continue
		}
		for _, s := range streams {
			for _, msg := range s.Messages {
				last = msg.ID
				hook(decodeTags(asString(msg.Values["t"])))
			}
		}
	}
}

// processCPU returns the CPU time this process has used, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// commandFields returns a command's fields from INFO commandstats.
func commandFields(stats, cmd string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(stats, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					f[k] = v
				}
			}
		}
	}
	return f
}

// commandStat returns "calls N, X us/call" from INFO commandstats.
func commandStat(stats, cmd string) string {
	f := commandFields(stats, cmd)
	return fmt.Sprintf("calls %s, %s us/call", f["calls"], f["usec_per_call"])
}

func commandCalls(stats, cmd string) float64 {
	n, _ := strconv.ParseFloat(commandFields(stats, cmd)["calls"], 64)
	return max(n, 1)
}
