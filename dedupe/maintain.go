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
	// Prune deletes the history that ended before cutoff.
	Prune(ctx context.Context, cutoff time.Time) (Pruned, error)
}

// Pruned counts what one pruning pass deleted.
type Pruned struct {
	Incidents, Episodes, Alerts int
}

// PruneEvery is how often the maintenance loop applies the retention
// policy; pruning is cheap when there is nothing to delete, but there is no
// reason to look more often.
const PruneEvery = time.Hour

// Maintainer runs the maintenance pass every Interval until stopped.
type Maintainer struct {
	Store    MaintenanceStore
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// Observe, when set, receives each pass's counts (for metrics).
	Observe func(flapping, open int)
	// Retention, when positive, is how long resolved history is kept;
	// older incidents, episodes and alerts are pruned every PruneEvery.
	Retention time.Duration
	// OnPrune, when set, receives what each pruning pass deleted.
	OnPrune func(Pruned)

	lastPrune time.Time

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
	m.prune(ctx)
}

// prune applies the retention policy when it is due. Only the loop's
// goroutine calls it.
func (m *Maintainer) prune(ctx context.Context) {
	now := m.Now()
	if m.Retention <= 0 || (!m.lastPrune.IsZero() && now.Sub(m.lastPrune) < PruneEvery) {
		return
	}
	p, err := m.Store.Prune(ctx, now.Add(-m.Retention))
	if err != nil {
		if ctx.Err() == nil {
			m.Logger.Warn("pruning old history failed", "err", err)
		}
		return
	}
	m.lastPrune = now
	if p != (Pruned{}) {
		m.Logger.Info("pruned history older than the retention period", "retention", m.Retention,
			"incidents", p.Incidents, "episodes", p.Episodes, "alerts", p.Alerts)
	}
	if m.OnPrune != nil {
		m.OnPrune(p)
	}
}
