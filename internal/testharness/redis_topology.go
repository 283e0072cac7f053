package testharness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The topologies beyond one server that distributed mode supports: a primary
// with replicas watched by Sentinels, and a Redis Cluster. Every process is a
// real redis-server or redis-sentinel on a free loopback port, in a temp dir,
// killed when the test ends. A machine without the binaries fails the test.

func needBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (apt-get install -y redis-server redis-sentinel; .ci/run does this)", name)
	}
}

// Info returns one field of `INFO <section>`, or "" when it is absent or
// the server does not answer.
func (r *Redis) Info(section, field string) string {
	return infoField(r.Addr(), section, field)
}

func infoField(addr, section, field string) string {
	out, err := Do(addr, "INFO", section)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// Alive reports whether the process is running.
func (r *Redis) Alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return r.cmd != nil
	}
}

// StartReplica starts a redis-server replicating primary (persistence off,
// as the primary) and returns once its replication link is up.
func StartReplica(t testing.TB, primary *Redis) *Redis {
	t.Helper()
	needBinary(t, "redis-server")
	r := startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))
	WaitFor(t, 15*time.Second, "replica of "+primary.Addr()+" in sync", func() bool {
		return r.Info("replication", "master_link_status") == "up"
	})
	return r
}

// Sentinel is a real redis-sentinel process.
type Sentinel struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
	logs *lockedWriter
	done chan struct{}
}

// Addr returns host:port of the sentinel.
func (s *Sentinel) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Kill stops the sentinel abruptly.
func (s *Sentinel) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Logs returns what the sentinel logged so far.
func (s *Sentinel) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.w.String()
}

// Sentinels is a group of sentinels watching one primary under a name.
type Sentinels struct {
	t          testing.TB
	MasterName string
	List       []*Sentinel
}

// StartSentinels starts n sentinels (quorum n/2+1) watching primary as
// masterName, with a short down-after (1s) and failover timeout so a killed
// primary is replaced within a few seconds. It returns once every sentinel
// sees the others and at least wantReplicas replicas.
func StartSentinels(t testing.TB, primary *Redis, masterName string, n, wantReplicas int) *Sentinels {
	t.Helper()
	needBinary(t, "redis-sentinel")
	g := &Sentinels{t: t, MasterName: masterName}
	quorum := n/2 + 1
	for range n {
		s := &Sentinel{t: t, Port: FreePort(t), logs: &lockedWriter{w: &bytes.Buffer{}}, done: make(chan struct{})}
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		content := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
sentinel monitor %s 127.0.0.1 %d %d
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, s.Port, dir, masterName, primary.Port, quorum, masterName, masterName, masterName)
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s.cmd = exec.Command("redis-sentinel", conf)
		s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("starting redis-sentinel: %v", err)
		}
		cmd, done := s.cmd, s.done
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(s.Kill)
		g.List = append(g.List, s)
	}
	WaitFor(t, 30*time.Second, "sentinels see each other and the replicas", func() bool {
		for _, s := range g.List {
			m := g.masterInfo(s)
			if m["num-other-sentinels"] != strconv.Itoa(n-1) {
				return false
			}
			if k, _ := strconv.Atoi(m["num-slaves"]); k < wantReplicas {
				return false
			}
		}
		return true
	})
	return g
}

// masterInfo returns SENTINEL MASTER's field map as one sentinel sees it.
func (g *Sentinels) masterInfo(s *Sentinel) map[string]string {
	out, err := Do(s.Addr(), "SENTINEL", "MASTER", g.MasterName)
	if err != nil {
		return nil
	}
	f := strings.Split(out, "\n")
	m := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m
}

// Addrs returns every sentinel's host:port.
func (g *Sentinels) Addrs() []string {
	addrs := make([]string, len(g.List))
	for i, s := range g.List {
		addrs[i] = s.Addr()
	}
	return addrs
}

// MasterAddr returns the primary's host:port as the first answering
// sentinel knows it.
func (g *Sentinels) MasterAddr() string {
	for _, s := range g.List {
		out, err := Do(s.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.MasterName)
		if err != nil {
			continue
		}
		if f := strings.Split(out, "\n"); len(f) == 2 {
			return f[0] + ":" + f[1]
		}
	}
	return ""
}

// FailedOverTo reports whether every sentinel names addr as the primary
// and none has a failover in progress. Only then may the old primary come
// back empty: restarted earlier, a node without persistence can be taken
// for the primary again and its empty dataset replicated over the data.
func (g *Sentinels) FailedOverTo(addr string) bool {
	for _, s := range g.List {
		out, err := Do(s.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.MasterName)
		if err != nil || strings.ReplaceAll(out, "\n", ":") != addr {
			return false
		}
		if flags := g.masterInfo(s)["flags"]; flags != "master" {
			return false
		}
	}
	return true
}

// Cluster is a Redis Cluster of real redis-server processes.
type Cluster struct {
	t     testing.TB
	Nodes []*Redis
}

// StartCluster starts primaries redis-servers in cluster mode, each with
// replicasEach replicas, joins them with `redis-cli --cluster create` and
// returns once every node reports cluster_state:ok.
func StartCluster(t testing.TB, primaries, replicasEach int) *Cluster {
	t.Helper()
	needBinary(t, "redis-server")
	needBinary(t, "redis-cli")
	c := &Cluster{t: t}
	args := []string{"--cluster", "create"}
	for range primaries * (1 + replicasEach) {
		r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(FreePort(t)), "--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, r)
		args = append(args, r.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasEach), "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	WaitFor(t, 30*time.Second, "cluster_state:ok on every node", func() bool {
		for _, r := range c.Nodes {
			if r.Info("cluster", "cluster_enabled") != "1" {
				return false
			}
			out, err := r.Do("CLUSTER", "INFO")
			if err != nil || !strings.Contains(out, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	if replicasEach > 0 {
		WaitFor(t, 30*time.Second, "cluster replicas in sync", func() bool {
			for _, r := range c.Nodes {
				if r.Info("replication", "role") == "slave" && r.Info("replication", "master_link_status") != "up" {
					return false
				}
			}
			return true
		})
	}
	return c
}

// Addrs returns every node's host:port (the seed list a client is given).
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, r := range c.Nodes {
		addrs[i] = r.Addr()
	}
	return addrs
}

// Primaries returns the nodes that are primaries now.
func (c *Cluster) Primaries() []*Redis {
	var ps []*Redis
	for _, r := range c.Nodes {
		if r.Alive() && r.Info("replication", "role") == "master" {
			ps = append(ps, r)
		}
	}
	return ps
}

// Slot returns the hash slot of key.
func (c *Cluster) Slot(key string) int {
	c.t.Helper()
	for _, r := range c.Nodes {
		if out, err := r.Do("CLUSTER", "KEYSLOT", key); err == nil {
			n, _ := strconv.Atoi(out)
			return n
		}
	}
	c.t.Fatal("no cluster node answers CLUSTER KEYSLOT")
	return -1
}

// Owner returns the primary serving key's slot (the node that answers for
// it without a MOVED redirection).
func (c *Cluster) Owner(key string) *Redis {
	c.t.Helper()
	for _, r := range c.Primaries() {
		if _, err := r.Do("EXISTS", key); err == nil {
			return r
		}
	}
	c.t.Fatalf("no primary owns %q", key)
	return nil
}

// Do runs a single-key command on the primary owning key.
func (c *Cluster) Do(key string, args ...string) (string, error) {
	return c.Owner(key).Do(args...)
}
