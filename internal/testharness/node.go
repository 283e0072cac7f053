package testharness

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeDir returns .ci/node, the folder holding the test-only npm packages
// (Next.js for the matcher oracle, each webhook vendor's SDK), after
// checking that node is on PATH and that `npm ci` has installed exactly the
// versions package.json pins. .ci/run installs them; a test that needs them
// fails loudly, with the command to run, when they are missing.
func NodeDir(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found on PATH: this test runs Next.js and vendor SDKs under Node.js (.ci/run installs it)")
	}
	dir := filepath.Join(ModuleRoot(t), ".ci", "node")
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatalf("reading .ci/node/package.json: %v", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf(".ci/node/package.json: %v", err)
	}
	for name, want := range pkg.Dependencies {
		raw, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			t.Fatalf("npm package %s is not installed in .ci/node: run `npm ci --prefix .ci/node` (.ci/run does)", name)
		}
		var got struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(raw, &got); err != nil || got.Version != want {
			t.Fatalf("npm package %s in .ci/node is %q, package.json pins %q: run `npm ci --prefix .ci/node`", name, got.Version, want)
		}
	}
	return dir
}

// NodeVersion returns the installed version of an npm package in .ci/node.
func NodeVersion(t testing.TB, dir, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	return got.Version
}

// RunNode runs `node script` in dir with input on stdin and returns its
// stdout, failing the test with stderr when it fails.
func RunNode(t testing.TB, dir, script string, input []byte, timeout time.Duration) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}
