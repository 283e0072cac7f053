package testharness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end Next.js app: testdata/nextjs-app, with caddy-bff's bridge
// (integrations/nextjs) copied in as caddy-bff/, built once with the `next`
// that .ci/node pins and cached between runs under the user cache directory
// (keyed by a digest of the sources and the Next.js version). Apps run from
// directories under .ci/node/.e2e/, where `next` resolves from .ci/node's
// node_modules (Turbopack does not follow a symlinked node_modules).

// NextApp is a built copy of the end-to-end app, ready to start.
type NextApp struct {
	// Dir is the app's directory (sources and .next).
	Dir string
	// NodeDir is .ci/node.
	NodeDir string
}

// nextBuildMu serialises builds within a test binary.
var nextBuildMu sync.Mutex

// BuildNextApp returns a fresh runnable copy of the end-to-end app. dataURL
// is the data origin the build's prerender fetches from (the app reads
// DATA_URL at run time too).
func BuildNextApp(t testing.TB, dataURL string) *NextApp {
	t.Helper()
	nodeDir := NodeDir(t)
	root := ModuleRoot(t)
	sources := map[string]string{ // destination -> source directory
		"":          filepath.Join(root, "testdata", "nextjs-app"),
		"caddy-bff": filepath.Join(root, "integrations", "nextjs"),
	}
	digest := digestTrees(t, sources, NodeVersion(t, nodeDir, "next"))

	nextBuildMu.Lock()
	defer nextBuildMu.Unlock()
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		cacheRoot = os.TempDir()
	}
	cached := filepath.Join(cacheRoot, "caddy-bff", "nextjs-e2e", digest)
	if _, err := os.Stat(filepath.Join(cached, ".next", "BUILD_ID")); err != nil {
		buildDir := filepath.Join(nodeDir, ".e2e", "build-"+digest[:12])
		_ = os.RemoveAll(buildDir)
		for dest, src := range sources {
			copyTree(t, src, filepath.Join(buildDir, dest))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", filepath.Join(nodeDir, "node_modules", "next", "dist", "bin", "next"), "build")
		cmd.Dir = buildDir
		cmd.Env = append(os.Environ(), "NEXT_TELEMETRY_DISABLED=1", "DATA_URL="+dataURL)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("next build failed (%v):\n%s", err, out.String())
		}
		t.Logf("next build took %s", time.Since(start).Round(time.Millisecond))
		_ = os.RemoveAll(cached)
		copyTree(t, buildDir, cached)
		_ = os.RemoveAll(buildDir)
	}

	run := filepath.Join(nodeDir, ".e2e", fmt.Sprintf("run-%d-%d", os.Getpid(), time.Now().UnixNano()))
	copyTree(t, cached, run)
	t.Cleanup(func() { _ = os.RemoveAll(run) })
	return &NextApp{Dir: run, NodeDir: nodeDir}
}

// Copy returns another runnable copy of the same build: a second instance
// with its own .next cache, as a second container would have.
func (a *NextApp) Copy(t testing.TB) *NextApp {
	t.Helper()
	run := a.Dir + "-copy-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	copyTree(t, a.Dir, run)
	t.Cleanup(func() { _ = os.RemoveAll(run) })
	return &NextApp{Dir: run, NodeDir: a.NodeDir}
}

// NextServer is a running `next start`.
type NextServer struct {
	URL  string
	Port int
	cmd  *exec.Cmd
	logs *lockedWriter
	buf  *bytes.Buffer
	done chan struct{}
}

// Logs returns what the server has printed so far.
func (s *NextServer) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.buf.String()
}

// Start runs `next start` on a free loopback port with env added, and
// returns once it answers. It is stopped (its whole process group) when the
// test ends. It runs node on next's bin directly: npx would leave a child
// running when killed.
func (a *NextApp) Start(t testing.TB, env ...string) *NextServer {
	t.Helper()
	return a.StartOn(t, FreePort(t), env...)
}

// StartOn is Start on a given port (one a Caddy config already names).
func (a *NextApp) StartOn(t testing.TB, port int, env ...string) *NextServer {
	t.Helper()
	cmd := exec.Command("node", filepath.Join(a.NodeDir, "node_modules", "next", "dist", "bin", "next"), "start", "-p", strconv.Itoa(port), "-H", "127.0.0.1")
	cmd.Dir = a.Dir
	cmd.Env = append(os.Environ(), "NEXT_TELEMETRY_DISABLED=1", "NODE_ENV=production")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	buf := &bytes.Buffer{}
	lw := &lockedWriter{w: buf}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting next: %v", err)
	}
	s := &NextServer{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, cmd: cmd, logs: lw, buf: buf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("next start exited:\n%s", s.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("next start did not answer within 60s:\n%s", s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// digestTrees hashes every file of the source trees, with extra.
func digestTrees(t testing.TB, trees map[string]string, extra string) string {
	t.Helper()
	h := sha256.New()
	io.WriteString(h, extra)
	dests := make([]string, 0, len(trees))
	for d := range trees {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, dest := range dests {
		src := trees[dest]
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s/%s %d\n", dest, rel, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// copyTree copies the directory src to dst (files and directories only).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}
