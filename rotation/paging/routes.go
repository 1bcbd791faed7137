package paging

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/rotation"
)

// Routes gives each alert the policy of the route that matches it: its
// team, urgency, grouping and flap thresholds. It serves a copy of the
// configuration that Refresh reloads, so that the webhook's write path
// never waits for a query.
type Routes struct {
	Store    OnCallStore
	Defaults dedupe.Policy
	Logger   *slog.Logger

	mu  sync.RWMutex
	cfg rotation.Config
}

// PolicyFor implements dedupe.Policies.
func (r *Routes) PolicyFor(labels map[string]string) dedupe.Policy {
	r.mu.RLock()
	route, ok := r.cfg.Route(labels)
	r.mu.RUnlock()
	p := r.Defaults
	if !ok {
		return p // no routes configured: group as Alertmanager did, page nobody
	}
	p.Team, p.Urgency = route.Team, string(route.Urgency)
	if len(route.GroupBy) > 0 {
		p.GroupBy = route.GroupBy
	}
	if route.ReopenWindow > 0 {
		p.ReopenWindow = route.ReopenWindow
	}
	if route.Flap.Valid() {
		p.Flap = route.Flap
	}
	return p
}

// Refresh reloads the configuration.
func (r *Routes) Refresh(ctx context.Context) error {
	cfg, err := r.Store.Load(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.cfg = cfg
	r.mu.Unlock()
	return nil
}

// Run refreshes every interval until ctx ends; `quietpager apply` takes
// effect within one interval.
func (r *Routes) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.Logger.Warn("reload on-call configuration", "err", err)
			}
		}
	}
}
