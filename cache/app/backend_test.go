package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// fakeBackends is a backend module of another engine than Redis, as a
// third party would add one beside it: tag_cache.backends.fake_test. It
// records the backends it made.
type fakeBackends struct {
	// Name is any setting of the engine.
	Name string `json:"name,omitempty"`
}

// made records every backend the fake module made, across configs.
var made struct {
	sync.Mutex
	backends []*fakeBackend
}

type fakeBackend struct {
	store, name string
	retention   time.Duration
	closed      bool
	clock       *cache.TagClock
}

func (fakeBackends) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "tag_cache.backends.fake_test", New: func() caddy.Module { return new(fakeBackends) }}
}

func (f *fakeBackends) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if !d.NextArg() {
		return d.ArgErr()
	}
	f.Name = d.Val()
	return nil
}

func (f *fakeBackends) NewBackend(store string, clock *cache.TagClock, retention time.Duration, _ *zap.Logger) (cache.Backend, error) {
	b := &fakeBackend{store: store, name: f.Name, retention: retention, clock: clock}
	made.Lock()
	made.backends = append(made.backends, b)
	made.Unlock()
	return b, nil
}

func (b *fakeBackend) Record(_ context.Context, tags []string, mode cache.Mode) (uint64, error) {
	return b.clock.Invalidate(tags, mode), nil
}
func (b *fakeBackend) Trustworthy() bool { return true }
func (b *fakeBackend) Status() cache.BackendStatus {
	return cache.BackendStatus{Kind: "fake", Healthy: true, Trusted: true}
}
func (b *fakeBackend) Close() {
	made.Lock()
	b.closed = true
	made.Unlock()
}

// The root package registers the project's modules; this test binary
// registers the app itself and the fake engine.
func init() {
	caddy.RegisterModule(App{})
	caddy.RegisterModule(fakeBackends{})
}

// TestGlobalOptionHandsBackendToItsModule: an option of the tag_cache
// global option that names a backend module is parsed by that module and
// becomes the app's "backend", with the module's name as its "module".
func TestGlobalOptionHandsBackendToItsModule(t *testing.T) {
	d := caddyfile.NewTestDispenser(`tag_cache {
		max_size 1MiB
		fake_test primary
	}`)
	val, err := ParseGlobalOption(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Backend map[string]string `json:"backend"`
	}
	raw, _ := json.Marshal(val)
	var app struct{ Value json.RawMessage }
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(app.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Backend["module"] != "fake_test" || got.Backend["name"] != "primary" {
		t.Fatalf("backend JSON %s", app.Value)
	}
	for input, want := range map[string]string{
		"tag_cache {\n fake_test a\n fake_test b\n}": "fake_test given twice",
		"tag_cache {\n no_such_engine x\n}":          `unrecognized tag_cache option "no_such_engine"`,
	} {
		if _, err := ParseGlobalOption(caddyfile.NewTestDispenser(input), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", input, err, want)
		}
	}
}

// TestAppLoadsBackendModuleByID runs the app in a real Caddy with the fake
// engine as its backend: every store gets a backend from the module, a
// reload with the same backend keeps the stores (and their backends), one
// with other settings builds new ones, and stopping Caddy closes them.
func TestAppLoadsBackendModuleByID(t *testing.T) {
	config := func(name string) []byte {
		return []byte(`{
			"admin": {"disabled": true, "config": {"persist": false}},
			"apps": {"tag_cache": {
				"max_size": 1048576,
				"stores": {"extra": {}},
				"backend": {"module": "fake_test", "name": "` + name + `"}
			}}
		}`)
	}
	if err := caddy.Load(config("one"), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	snapshot := func() []fakeBackend {
		made.Lock()
		defer made.Unlock()
		out := make([]fakeBackend, len(made.backends))
		for i, b := range made.backends {
			out[i] = *b
		}
		return out
	}
	first := snapshot()
	var stores []string
	for _, b := range first {
		stores = append(stores, b.store)
		if b.name != "one" || b.retention != DefaultMaxRetention {
			t.Errorf("backend of %s made with name %q, retention %v", b.store, b.name, b.retention)
		}
	}
	slices.Sort(stores)
	if !slices.Equal(stores, []string{"default", "extra"}) {
		t.Fatalf("backends made for stores %v, want default and extra", stores)
	}
	appIface, err := caddy.ActiveContext().App("tag_cache")
	if err != nil {
		t.Fatal(err)
	}
	a := appIface.(*App)
	store, _ := a.Store("")
	if kind := store.Stats().Backend.Kind; kind != "fake" {
		t.Fatalf("default store's backend is %q", kind)
	}
	if mem, err := a.DeliveryMemory(""); err != nil || mem != nil {
		t.Fatalf("delivery memory of a backend without one: %v, %v", mem, err)
	}

	if err := caddy.Load(config("one"), true); err != nil {
		t.Fatal(err)
	}
	if n := len(snapshot()); n != 2 {
		t.Fatalf("a reload with the same backend made %d more backends", n-2)
	}
	if err := caddy.Load(config("two"), true); err != nil {
		t.Fatal(err)
	}
	all := snapshot()
	if len(all) != 4 {
		t.Fatalf("a reload with another backend config made %d backends, want 2 more", len(all)-2)
	}
	for _, b := range all[:2] {
		if !b.closed {
			t.Errorf("backend of %s from the replaced config not closed", b.store)
		}
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, b := range snapshot()[2:] {
		if !b.closed {
			t.Errorf("backend of %s not closed when Caddy stopped", b.store)
		}
	}
}

var (
	_ cache.BackendProvider = (*fakeBackends)(nil)
	_ caddyfile.Unmarshaler = (*fakeBackends)(nil)
)
