package contain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestLoopRestartsAPanickingWorker(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(ctx, zap.New(core), "feed", time.Millisecond, func(ctx context.Context) {
			if runs.Add(1) < 3 {
				var m map[string]int
				//lint:ignore SA5000 the test needs a genuine runtime panic
				m["boom"]++ // a nil-map write: a runtime panic
			}
			<-ctx.Done()
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the worker ran %d times, want a third run after two panics", runs.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if n := logs.FilterField(zap.String("goroutine", "feed")).Len(); n != 2 {
		t.Fatalf("%d panics logged, want 2", n)
	}
}

func TestRunReportsAPanic(t *testing.T) {
	if Run(zap.NewNop(), "x", func() {}) {
		t.Fatal("a clean run reported a panic")
	}
	if !Run(zap.NewNop(), "x", func() { panic("boom") }) {
		t.Fatal("a panic was not reported")
	}
}
