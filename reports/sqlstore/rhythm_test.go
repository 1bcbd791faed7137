package sqlstore_test

import (
	"context"
	"testing"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
)

// The rhythm counts the pages the weekly report counts, on the team's
// clock (Berlin, CET in noisyWeek).
func TestRhythm(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		noisyWeek(t, db)
		svc := newService(t, db, at(t, "2026-11-09T08:00:00Z"))
		since, until := at(t, "2026-11-01T23:00:00Z"), at(t, "2026-11-08T23:00:00Z")
		r, err := svc.Rhythm(context.Background(), "db", since, until)
		if err != nil {
			t.Fatal(err)
		}
		// Every incident pages alice by e-mail and posts in the channel.
		// Backup at 01:57–02:03 on 2–8 November: 3 nights before 02:00,
		// 4 after; NightNoise at 23:10, 01:40, 04:05, 06:30; Spiky from
		// 10:00 every 37 minutes on five days; Flappy from 14:00 every
		// 12 minutes on Tuesday 3 November.
		wantHours := map[int]int{1: 2 * (3 + 1), 2: 2 * 4, 4: 2, 6: 2, 23: 2, 14: 2 * 5, 15: 2}
		spiky := []int{10, 10, 11, 11, 12, 13, 13, 14, 14, 15} // 10:00 + i×37m
		for _, h := range spiky {
			wantHours[h] += 2
		}
		for h, n := range r.ByHour {
			if n != wantHours[h] {
				t.Errorf("hour %02d: %d pages, want %d (all %v)", h, n, wantHours[h], r.ByHour)
			}
		}
		w, err := svc.Weekly(context.Background(), "db", reports.Week{Year: 2026, Num: 45})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range r.ByWeekday {
			total += n
		}
		if r.Pages != w.Figures.Pages || total != r.Pages {
			t.Errorf("rhythm counts %d pages (%d by weekday), the weekly report %d", r.Pages, total, w.Figures.Pages)
		}
	})
}
