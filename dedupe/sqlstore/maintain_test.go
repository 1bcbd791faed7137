package sqlstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
)

// TestMaintainerAppliesRetentionHourly: the maintenance loop prunes what
// is older than the retention period on its first pass and then at most
// once an hour, and never when retention is off.
func TestMaintainerAppliesRetentionHourly(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		now := incT0
		a := incNew("DiskFull", "instance", "db-1")
		old := now.Add(-50 * 24 * time.Hour)
		incWrite(t, s, a.fire(old, old), a.resolve(old, old.Add(5*time.Minute), old.Add(5*time.Minute)))

		var pruned []dedupe.Pruned
		m := &dedupe.Maintainer{Store: s, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
			OnPrune: func(p dedupe.Pruned) { pruned = append(pruned, p) }}
		m.RunOnce(context.Background())
		if len(pruned) != 0 || len(incList(t, s, dedupe.IncidentQuery{})) != 1 {
			t.Fatalf("retention off: pruned %+v", pruned)
		}

		m.Retention = 40 * 24 * time.Hour
		m.RunOnce(context.Background())
		if want := (dedupe.Pruned{Incidents: 1, Episodes: 1, Alerts: 1}); len(pruned) != 1 || pruned[0] != want {
			t.Fatalf("first pass pruned %+v, want %+v", pruned, want)
		}
		if got := incList(t, s, dedupe.IncidentQuery{}); len(got) != 0 {
			t.Fatalf("incidents left after pruning: %+v", got)
		}
		now = now.Add(59 * time.Minute)
		m.RunOnce(context.Background())
		if len(pruned) != 1 {
			t.Fatalf("pruned again within the hour: %+v", pruned)
		}
		now = now.Add(time.Minute)
		m.RunOnce(context.Background())
		if len(pruned) != 2 || pruned[1] != (dedupe.Pruned{}) {
			t.Fatalf("after an hour: pruned %+v, want a second, empty pass", pruned)
		}
	})
}
