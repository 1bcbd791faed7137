package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/rotation"
)

// noisyWeek records week 2026-W45 (2 to 8 November, Berlin on CET, UTC+1)
// with one rule built for each fix:
//   - Backup fires every night at 02:00 ± 3 min local and pages alice
//     (acknowledged each time): 7 sleep pages, toil 35, a scheduled job;
//   - NightNoise pages alice 4 times at night, 20 minutes each, never
//     acknowledged, 2 marked not actionable: toil 20, business hours;
//   - Spiky pages 10 times in business hours for 3 minutes: toil 10, for:;
//   - Flappy fires 6 times in a row for 10 minutes with 2-minute gaps,
//     each its own incident and page in business hours: toil 6,
//     keep_firing_for:.
func noisyWeek(t testing.TB, db *migrations.DB) {
	r := newRecorder(t, db, "db")
	cet := time.FixedZone("CET", 3600)
	local := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, cet) }
	page := func(alert int64, start time.Time, d time.Duration, acked bool) int64 {
		in := incident{alert: alert, opened: start, resolved: start.Add(d)}
		if acked {
			in.acked, in.ackedBy = start.Add(time.Minute), "alice"
		}
		id := r.incident(in)
		r.page(id, 0, "alice", start, rotation.Classify(start, cet))
		return id
	}

	backup := r.alert("Backup")
	for i, off := range []int{-2, 2, 0, -3, 3, 1, -1} {
		page(backup, local(2+i, 2, 0).Add(time.Duration(off)*time.Minute), 20*time.Minute, true)
	}
	night := r.alert("NightNoise")
	for i, hm := range [][2]int{{23, 10}, {1, 40}, {4, 5}, {6, 30}} {
		id := page(night, local(3+i, hm[0], hm[1]), 20*time.Minute, false)
		if i < 2 {
			r.notActionable(id, "alice", local(3+i, 9, 0))
		}
	}
	spiky := r.alert("Spiky")
	for i := range 10 {
		page(spiky, local(2+i%5, 10, 0).Add(time.Duration(i)*37*time.Minute), 3*time.Minute, false)
	}
	flappy := r.alert("Flappy")
	for i := range 6 {
		page(flappy, local(3, 14, 0).Add(time.Duration(i)*12*time.Minute), 10*time.Minute, false)
	}
}

func TestNoiseRankingAndFixes(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		noisyWeek(t, db)
		svc := newService(t, db, at(t, "2026-11-09T08:00:00Z"))
		since, until := at(t, "2026-11-01T23:00:00Z"), at(t, "2026-11-08T23:00:00Z")
		ranking, err := svc.Noise(context.Background(), "db", since, until)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			rule     string
			toil     int
			pages    int
			episodes int
		}
		want := []row{{"Backup", 35, 14, 7}, {"NightNoise", 20, 8, 4}, {"Spiky", 10, 20, 10}, {"Flappy", 6, 12, 6}}
		if len(ranking) != len(want) {
			t.Fatalf("%d rules, want %d: %+v", len(ranking), len(want), ranking)
		}
		for i, w := range want {
			r := ranking[i]
			if (row{r.Rule, r.ToilCost, r.Pages, r.Episodes}) != w {
				t.Errorf("rank %d: %s toil %d pages %d episodes %d, want %+v", i+1, r.Rule, r.ToilCost, r.Pages, r.Episodes, w)
			}
		}
		fix := func(rule, kind string) reports.Fix {
			t.Helper()
			for _, r := range ranking {
				for _, f := range r.Fixes {
					if r.Rule == rule && f.Kind == kind {
						return f
					}
				}
			}
			t.Errorf("%s: no %s fix", rule, kind)
			return reports.Fix{}
		}
		byRule := map[string]reports.RuleNoise{}
		for _, r := range ranking {
			byRule[r.Rule] = r
		}

		if f := fix("Backup", reports.FixScheduled); !strings.HasPrefix(f.Text, "fires daily at 02:00 ± 5 min: likely a scheduled job") {
			t.Errorf("Backup: %q", f.Text)
		}
		if n := len(byRule["Backup"].Fixes); n != 1 {
			t.Errorf("Backup (acknowledged every time, 20 minutes long, one per night) has %d fixes: %+v", n, byRule["Backup"].Fixes)
		}

		nn := byRule["NightNoise"]
		if nn.NightShare != 1 || nn.NotActionable != 2 || nn.MedianDuration != 20*time.Minute {
			t.Errorf("NightNoise: night share %v, not actionable %d, median %s", nn.NightShare, nn.NotActionable, nn.MedianDuration)
		}
		// Held to 08:00, when each had long resolved: all 4 interruptions
		// saved, but Backup woke alice on each of those nights anyway.
		if f := fix("NightNoise", reports.FixBusinessHours); f.Text != "route to business hours: 4 of 4 pages were at night and none was acknowledged before it resolved; would have saved 8 pages, 4 interruptions, 0 interrupted nights" {
			t.Errorf("NightNoise: %q", f.Text)
		}

		sp := byRule["Spiky"]
		if sp.TransientShare != 1 || sp.MedianDuration != 3*time.Minute {
			t.Errorf("Spiky: transient share %v, median %s", sp.TransientShare, sp.MedianDuration)
		}
		if f := fix("Spiky", reports.FixFor); f.Text != "raise `for:` to 4m: 10 of 10 episodes resolved within 3m0s; would have saved 20 pages, 10 interruptions, 0 interrupted nights" {
			t.Errorf("Spiky: %q", f.Text)
		}
		if len(sp.Fixes) != 1 {
			t.Errorf("Spiky fixes: %+v", sp.Fixes)
		}

		fl := byRule["Flappy"]
		if fl.FlappingShare != 5.0/6 || fl.TransientShare != 0 {
			t.Errorf("Flappy: flapping share %v, transient share %v", fl.FlappingShare, fl.TransientShare)
		}
		if f := fix("Flappy", reports.FixKeepFiringFor); f.Text != "add `keep_firing_for: 3m`: merges 5 flaps; would have saved 10 pages, 5 interruptions, 0 interrupted nights" {
			t.Errorf("Flappy: %q", f.Text)
		}
	})
}

func TestWhatIfForLongerThanEveryEpisodeSavesAllPages(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		noisyWeek(t, db)
		svc := newService(t, db, at(t, "2026-11-09T08:00:00Z"))
		since, until := at(t, "2026-11-01T23:00:00Z"), at(t, "2026-11-08T23:00:00Z")
		res, err := svc.WhatIf(context.Background(), reports.Proposal{Team: "db", Rule: "Spiky",
			For: model.Duration(5 * time.Minute), Since: since, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		// 7+4+10+6 = 27 step-0 pages, each an e-mail and a channel post.
		if res.Before != (reports.Impact{Pages: 54, Interruptions: 27, SleepInterruptions: 11, InterruptedNights: 7}) {
			t.Errorf("before %+v", res.Before)
		}
		if res.Saved != (reports.Impact{Pages: 20, Interruptions: 10}) {
			t.Errorf("saved %+v, want all 20 of Spiky's pages and 10 interruptions", res.Saved)
		}

		// Digest pages nobody: everything Backup cost goes, but 3 of its 7
		// nights stay broken by NightNoise.
		res, err = svc.WhatIf(context.Background(), reports.Proposal{Team: "db", Rule: "Backup",
			Urgency: rotation.UrgencyDigest, Since: since, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		if res.Saved != (reports.Impact{Pages: 14, Interruptions: 7, SleepInterruptions: 7, InterruptedNights: 4}) {
			t.Errorf("Backup as digest saved %+v", res.Saved)
		}

		_, err = svc.WhatIf(context.Background(), reports.Proposal{Team: "db", Rule: "Spiky", Since: since, Until: until})
		if err == nil || !strings.Contains(err.Error(), "must change") {
			t.Errorf("a proposal that changes nothing: %v", err)
		}
	})
}

// A rule already routed to business hours is not told to route there,
// however its critical pages landed.
func TestNoBusinessHoursFixForABusinessHoursRule(t *testing.T) {
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	r := newRecorder(t, db, "db")
	held := r.alert("Held")
	for i := range 3 {
		start := at(t, "2026-11-03T01:00:00Z").Add(time.Duration(i) * 24 * time.Hour)
		id := r.incident(incident{alert: held, opened: start, resolved: start.Add(20 * time.Minute),
			urgency: rotation.UrgencyBusinessHours})
		r.page(id, 0, "alice", start, rotation.Sleep)
	}
	svc := newService(t, db, at(t, "2026-11-09T08:00:00Z"))
	ranking, err := svc.Noise(context.Background(), "db", at(t, "2026-11-01T23:00:00Z"), at(t, "2026-11-08T23:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ranking) != 1 || ranking[0].NightShare != 1 || ranking[0].ToilCost != 15 || len(ranking[0].Fixes) != 0 {
		t.Errorf("ranking %+v, want Held at night with no fix", ranking)
	}
}
