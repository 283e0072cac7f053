// Package contain keeps a panic in one of the module's own goroutines from
// ending the Caddy process: nothing above a goroutine the module starts
// would recover it (design invariant 7).
package contain

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Run calls fn, recovering and logging a panic. It reports whether fn
// panicked.
func Run(logger *zap.Logger, name string, fn func()) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			logger.Error("recovered from a panic; the process goes on", zap.String("goroutine", name),
				zap.Any("panic", v), zap.Stack("stack"))
		}
	}()
	fn()
	return false
}

// Loop runs a long-lived worker until ctx ends. A panic in it is recovered
// and logged, and the worker starts again after pause, so one bad input (a
// malformed feed entry, say) costs a restart, not the process.
func Loop(ctx context.Context, logger *zap.Logger, name string, pause time.Duration, worker func(context.Context)) {
	for ctx.Err() == nil {
		if !Run(logger, name, func() { worker(ctx) }) {
			return // the worker ended on its own, as it does when ctx ends
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}
