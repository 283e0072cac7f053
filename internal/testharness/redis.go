package testharness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a real redis-server process started for one test.
type Redis struct {
	t    testing.TB
	Port int
	// dir is the server's working directory (replication and cluster files).
	dir string
	// extra are arguments beyond the defaults (replicaof, cluster mode).
	extra []string
	cmd   *exec.Cmd
	logs  bytes.Buffer
	done  chan struct{}
}

// StartRedis starts redis-server on a free loopback port with persistence
// off and stops it when the test ends. A machine without redis-server fails
// the test: .ci/run installs it, and a test that cannot run must say so.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed (apt-get install -y redis-server; .ci/run does this)")
	}
	return startRedis(t)
}

func startRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	r := &Redis{t: t, Port: FreePort(t), dir: t.TempDir(), extra: extra}
	r.start()
	t.Cleanup(r.Kill)
	return r
}

// Addr returns host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL returns a redis:// URL for the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() }

func (r *Redis) start() {
	r.t.Helper()
	r.logs.Reset()
	r.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--protected-mode", "no", "--dir", r.dir)
	r.cmd.Args = append(r.cmd.Args, r.extra...)
	r.cmd.Stdout = &r.logs
	r.cmd.Stderr = &r.logs
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.done = make(chan struct{})
	done := r.done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if reply, err := r.Do("PING"); err == nil && reply == "PONG" {
			return
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited during start-up: %s", r.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer PING: %s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// Restart starts the server again on the same port, empty (persistence is off).
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	r.start()
}

// Do sends one command in RESP and returns a simple reply rendered as text:
// the status or bulk string, the integer, or an error for "-ERR" replies; an
// array is rendered as its elements, one a line. It is enough for a test to
// inspect state without depending on a client library.
func (r *Redis) Do(args ...string) (string, error) { return Do(r.Addr(), args...) }

// Do sends one command to the Redis (or Sentinel) at addr; see Redis.Do.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		elems := make([]string, 0, max(n, 0))
		for range n {
			e, err := readReply(br)
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		return strings.Join(elems, "\n"), nil
	}
	return line, nil
}
