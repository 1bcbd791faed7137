package dedupe

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MaintenanceStore does one maintenance pass: decays flap scores, ends
// flapping that calmed down and resolves incidents whose quiet period is
// over. It reports the alerts still flapping and the incidents still open.
type MaintenanceStore interface {
	Maintain(ctx context.Context, now time.Time) (flapping, open int, err error)
}

// Maintainer runs the maintenance pass every Interval until stopped.
type Maintainer struct {
	Store    MaintenanceStore
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// Observe, when set, receives each pass's counts (for metrics).
	Observe func(flapping, open int)

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Start runs the loop in the background.
func (m *Maintainer) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		t := time.NewTicker(m.Interval)
		defer t.Stop()
		for {
			m.RunOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the loop and waits for it.
func (m *Maintainer) Stop() {
	if m.cancel != nil {
		m.cancel()
		m.done.Wait()
	}
}

// RunOnce does one pass now.
func (m *Maintainer) RunOnce(ctx context.Context) {
	flapping, open, err := m.Store.Maintain(ctx, m.Now())
	if err != nil {
		if ctx.Err() == nil {
			m.Logger.Warn("incident maintenance failed", "err", err)
		}
		return
	}
	if m.Observe != nil {
		m.Observe(flapping, open)
	}
}
