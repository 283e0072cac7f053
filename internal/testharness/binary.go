package testharness

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce   sync.Once
	builtBinary string
	buildErr    error
)

// ModuleRoot returns the directory holding the project's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the caddy-bff module")
	}
	return filepath.Dir(gomod)
}

// CaddyBinary builds ./cmd/caddy once per test binary and returns its path.
// The Go build cache makes every build after the first one cheap.
func CaddyBinary(t testing.TB) string {
	t.Helper()
	root := ModuleRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "caddy-bff-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBinary = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", builtBinary, "./cmd/caddy")
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caddy: %v: %s", err, stderr.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBinary
}

// Process is a Caddy started from the built binary, with its own admin port.
type Process struct {
	t         testing.TB
	cmd       *exec.Cmd
	AdminAddr string
	Logs      *bytes.Buffer
	done      chan struct{}
}

// StartBinary writes caddyfile to a temp dir and runs the built Caddy on it.
// The Caddyfile must not set `admin`: the helper adds an admin endpoint on a
// free loopback port so several instances can run side by side. env entries
// ("KEY=value") are added to the process environment. It returns once the
// admin endpoint answers and stops the process when the test ends.
func StartBinary(t testing.TB, caddyfile string, env ...string) *Process {
	t.Helper()
	bin := CaddyBinary(t)
	admin := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	content := strings.Replace(withAdmin(caddyfile), AdminAddress, admin, 1)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	lw := &lockedWriter{w: logs}
	cmd.Stdout = lw
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting caddy: %v", err)
	}
	p := &Process{t: t, cmd: cmd, AdminAddr: admin, Logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/config/")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("caddy exited during start-up:\n%s", p.LogText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy admin endpoint did not come up:\n%s", p.LogText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogText returns what the process has logged so far.
func (p *Process) LogText() string {
	lw := p.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return p.Logs.String()
}

// Stop ends the process gracefully, killing it if it does not exit in time.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
