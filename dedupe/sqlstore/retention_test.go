package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
)

// TestRetentionMonth simulates a month of a busy organisation, pruning
// daily with a week's retention as the maintenance loop would: history
// older than the week goes (with its timelines, pages and interruptions),
// the week stays whole, an incident still open a month later keeps its
// alert, and on SQLite the database stops growing once the first week has
// been pruned.
func TestRetentionMonth(t *testing.T) {
	const (
		days      = 30
		retention = 7 * 24 * time.Hour
		groups    = 8
		perGroup  = 5
		cycles    = 6 // firing periods per alert per day, 4 hours apart
	)
	contract(t, func(t *testing.T, s *sqlstore.Store, db *migrations.DB) {
		ctx := context.Background()
		start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		stuck := incNew("ReplicationBroken", "instance", "db-9")
		incWrite(t, s, stuck.fire(start, start))
		var alerts []incAlert
		for g := range groups {
			for i := range perGroup {
				alerts = append(alerts, incNew(fmt.Sprintf("Rule%d", g), "instance", fmt.Sprintf("host-%d", i)))
			}
		}
		usedAt := map[int]int64{}
		for day := range days {
			for c := range cycles {
				at := start.AddDate(0, 0, day).Add(time.Duration(c)*4*time.Hour + time.Hour)
				var fire, resolve []dedupe.Received
				for _, a := range alerts {
					fire = append(fire, a.fire(at, at))
					resolve = append(resolve, a.resolve(at, at.Add(10*time.Minute), at.Add(10*time.Minute)))
				}
				res := incWrite(t, s, fire...)
				for _, ch := range res.Incidents {
					if err := s.RecordInterruption(ctx, dedupe.Interruption{IncidentID: ch.ID, Opening: ch.Opening,
						Person: "alice", Team: "payments", At: at, Band: "sleep"}, "test page"); err != nil {
						t.Fatalf("RecordInterruption: %v", err)
					}
				}
				incWrite(t, s, resolve...)
			}
			now := start.AddDate(0, 0, day+1)
			cutoff := now.Add(-retention)
			p, err := s.Prune(ctx, cutoff)
			if err != nil {
				t.Fatalf("day %d: Prune: %v", day, err)
			}
			if day >= 8 && (p.Incidents == 0 || p.Episodes != len(alerts)*cycles) {
				t.Errorf("day %d: pruned %+v, want a day's worth: %d episodes", day, p, len(alerts)*cycles)
			}
			var old, kept, interruptions, oldInterruptions int64
			count(t, db, &old, `SELECT COUNT(*) FROM episodes WHERE state = 'resolved' AND ends_at < ?`, cutoff.UnixMicro())
			count(t, db, &kept, `SELECT COUNT(*) FROM episodes WHERE state = 'resolved' AND starts_at >= ?`, cutoff.UnixMicro())
			count(t, db, &interruptions, `SELECT COUNT(*) FROM interruptions`)
			count(t, db, &oldInterruptions, `SELECT COUNT(*) FROM interruptions WHERE at < ?`, cutoff.UnixMicro())
			var orphans int64
			count(t, db, &orphans, `SELECT COUNT(*) FROM incident_events v WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = v.incident_id)`)
			if old != 0 || oldInterruptions != 0 || orphans != 0 {
				t.Fatalf("day %d: %d episodes, %d interruptions older than the retention period and %d timeline entries of pruned incidents remain",
					day, old, oldInterruptions, orphans)
			}
			inWeek := min(day+1, 7) * len(alerts) * cycles
			if kept != int64(inWeek) {
				t.Fatalf("day %d: %d episodes within the retention period, want all %d", day, kept, inWeek)
			}
			if interruptions == 0 {
				t.Fatalf("day %d: the week's interruptions were pruned too", day)
			}
			if db.Dialect == migrations.SQLite {
				var pages, free int64
				count(t, db, &pages, `PRAGMA page_count`)
				count(t, db, &free, `PRAGMA freelist_count`)
				usedAt[day] = pages - free
			}
		}
		open := incList(t, s, dedupe.IncidentQuery{State: "open"})
		if len(open) != 1 || open[0].Title == "" {
			t.Fatalf("open incidents after a month: %+v, want the one still firing", open)
		}
		if eps := incEpisodes(t, s, stuck.fp()); len(eps) != 1 {
			t.Errorf("the alert still firing has %d episodes, want its one", len(eps))
		}
		if db.Dialect == migrations.SQLite {
			// Day 14 has pruned a week; from then on deleted pages are
			// reused. Allow a little for index pages splitting differently.
			if usedAt[6] <= usedAt[1] {
				t.Fatalf("pages in use did not grow during the first week (%d on day 1, %d on day 6): the measure is broken", usedAt[1], usedAt[6])
			}
			if grown := float64(usedAt[days-1]) / float64(usedAt[14]); grown > 1.10 {
				t.Errorf("database kept growing: %d pages in use on day 14, %d on day %d (%.0f%% more)",
					usedAt[14], usedAt[days-1], days-1, (grown-1)*100)
			}
			t.Logf("SQLite pages in use: day 1 %d, day 7 %d, day 14 %d, day %d %d", usedAt[1], usedAt[7], usedAt[14], days-1, usedAt[days-1])
		}
	})
}

func count(t *testing.T, db *migrations.DB, into *int64, query string, args ...any) {
	t.Helper()
	if err := db.Gorm.Raw(query, args...).Row().Scan(into); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
