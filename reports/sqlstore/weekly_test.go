package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/rotation"
)

func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// goldenWeek records team db's week 2026-W43, Monday 19 October 00:00 CEST
// to Monday 26 October 00:00 CET: 169 hours, because Berlin leaves summer
// time at 03:00 on Sunday 25 October. The team and alice are in Berlin, bob
// in New York (still on summer time until 1 November). The daily rotation
// puts alice on Monday, Wednesday, Friday and Sunday (25 hours), bob on
// Tuesday, Thursday and Saturday (Berlin days).
func goldenWeek(t testing.TB, db *migrations.DB) {
	r := newRecorder(t, db, "db")
	disk, backup, cpu := r.alert("DiskFull"), r.alert("Backup"), r.alert("CPUHigh")

	// 1. Monday 10:00 CEST, alice: business hours. Ack after 5m, resolved after 35m.
	i1 := r.incident(incident{alert: disk, opened: at(t, "2026-10-19T08:00:00Z"),
		acked: at(t, "2026-10-19T08:05:00Z"), ackedBy: "alice", resolved: at(t, "2026-10-19T08:35:00Z")})
	r.page(i1, 0, "alice", at(t, "2026-10-19T08:00:00Z"), rotation.Business)
	// 2. Tuesday 03:00 CEST, bob's day: Monday 21:00 in New York, off hours.
	// Nobody acknowledges: step 1 pages alice at 03:15 CEST, sleep hours,
	// Monday's night. Resolved after 40m.
	i2 := r.incident(incident{alert: disk, opened: at(t, "2026-10-20T01:00:00Z"), resolved: at(t, "2026-10-20T01:40:00Z")})
	r.page(i2, 0, "bob", at(t, "2026-10-20T01:00:00Z"), rotation.Off)
	r.page(i2, 1, "alice", at(t, "2026-10-20T01:15:00Z"), rotation.Sleep)
	// 3. Wednesday 02:00 CEST, alice: sleep, Tuesday's night. 10m to ack, 30m to resolve.
	i3 := r.incident(incident{alert: backup, opened: at(t, "2026-10-21T00:00:00Z"),
		acked: at(t, "2026-10-21T00:10:00Z"), ackedBy: "alice", resolved: at(t, "2026-10-21T00:30:00Z")})
	r.page(i3, 0, "alice", at(t, "2026-10-21T00:00:00Z"), rotation.Sleep)
	// 4. Thursday 02:00 CEST, bob: Wednesday 20:00 in New York, off. 20m, 60m.
	i4 := r.incident(incident{alert: backup, opened: at(t, "2026-10-22T00:00:00Z"),
		acked: at(t, "2026-10-22T00:20:00Z"), ackedBy: "bob", resolved: at(t, "2026-10-22T01:00:00Z")})
	r.page(i4, 0, "bob", at(t, "2026-10-22T00:00:00Z"), rotation.Off)
	// 5. Saturday 15:00 CEST, bob: Saturday 09:00 in New York, off (weekend). Resolved by itself in 3m.
	i6 := r.incident(incident{alert: cpu, opened: at(t, "2026-10-24T13:00:00Z"), resolved: at(t, "2026-10-24T13:03:00Z")})
	r.page(i6, 0, "bob", at(t, "2026-10-24T13:00:00Z"), rotation.Off)
	// 6. The night of the change: 03:00 CET on Sunday 25 October (02:00 UTC;
	// 02:00–03:00 happened twice before it). Alice's Sunday: sleep,
	// Saturday's night, a weekend. 30m to ack, 60m to resolve.
	i5 := r.incident(incident{alert: backup, opened: at(t, "2026-10-25T02:00:00Z"),
		acked: at(t, "2026-10-25T02:30:00Z"), ackedBy: "alice", resolved: at(t, "2026-10-25T03:00:00Z")})
	r.page(i5, 0, "alice", at(t, "2026-10-25T02:00:00Z"), rotation.Sleep)

	// 7. Sunday 23:30 CET is still W43: alice, sleep, Sunday's night. 10m to resolve.
	late := r.incident(incident{alert: cpu, opened: at(t, "2026-10-25T22:30:00Z"), resolved: at(t, "2026-10-25T22:40:00Z")})
	r.page(late, 0, "alice", at(t, "2026-10-25T22:30:00Z"), rotation.Sleep)
	// Monday 00:30 CET is not.
	next := r.incident(incident{alert: cpu, opened: at(t, "2026-10-25T23:30:00Z"), resolved: at(t, "2026-10-25T23:40:00Z")})
	r.page(next, 0, "alice", at(t, "2026-10-25T23:30:00Z"), rotation.Sleep)
	// Two weeks before (W41), one business-hours page to alice.
	old := r.incident(incident{alert: disk, opened: at(t, "2026-10-07T12:00:00Z"), resolved: at(t, "2026-10-07T12:30:00Z")})
	r.page(old, 0, "alice", at(t, "2026-10-07T12:00:00Z"), rotation.Business)
}

func TestWeeklyGolden(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		goldenWeek(t, db)
		svc := newService(t, db, at(t, "2026-11-02T08:00:00Z"))
		w, err := svc.Weekly(context.Background(), "db", reports.Week{Year: 2026, Num: 43})
		if err != nil {
			t.Fatal(err)
		}
		if !w.From.Equal(at(t, "2026-10-18T22:00:00Z")) || !w.To.Equal(at(t, "2026-10-25T23:00:00Z")) {
			t.Errorf("window %s – %s, want Monday 00:00 CEST to Monday 00:00 CET", w.From, w.To)
		}
		f := w.Figures
		// Pages: 8 e-mails (7 step-0 plus alice's escalation) and 7 channel posts.
		want := reports.Figures{
			Pages: 15, Incidents: 7,
			// alice: business (1), sleep (2, 3, 6, late); bob: off (2, 4, 5)
			Interruptions: reports.Bands{Business: 1, Off: 3, Sleep: 4, Total: 8},
			// alice's nights: Monday (2), Tuesday (3), Saturday (6), Sunday (late)
			InterruptedNights: 4, LongestNightRun: 2,
			// bob's Saturday, alice's two Sunday pages
			WeekendInterruptions: 3,
			OnCall:               reports.Hours(169 * time.Hour),
			// acks 5, 10, 20, 30 minutes
			TimeToAck: reports.Stat{Count: 4, Mean: 16*time.Minute + 15*time.Second, P90: 30 * time.Minute},
			// 35, 40, 30, 60, 3, 60, 10 → sorted 3 10 30 35 40 60 60, sum 238
			TimeToResolve: reports.Stat{Count: 7, Mean: 238 * time.Minute / 7, P90: 60 * time.Minute},
			Escalations:   1,
			// one incident per 12-hour shift at most, 7 in 14 shifts
			Shifts: reports.ShiftLoad{PerShift: 0.5, Max: 1, OverCeiling: 0, Ceiling: 2},
		}
		if f != want {
			t.Errorf("figures\n got %+v\nwant %+v", f, want)
		}
		if len(w.People) != 2 {
			t.Fatalf("people: %+v", w.People)
		}
		alice, bob := w.People[0], w.People[1]
		// alice: Monday, Wednesday, Friday 24h each and the 25-hour Sunday.
		wantAlice := reports.PersonFigures{Person: "alice", TimeZone: "Europe/Berlin",
			Interruptions: reports.Bands{Business: 1, Sleep: 4, Total: 5}, Incidents: 5,
			InterruptedNights: 4, LongestNightRun: 2, WeekendInterruptions: 2,
			OnCall: reports.Hours(97 * time.Hour), IncidentsPerShift: 5 / (97.0 / 12),
			InterruptionShare: 5.0 / 8, OnCallShare: 97.0 / 169,
			Risk: reports.Risk{Level: "high", Reason: "4 nights interrupted this week, 2 in a row"}}
		wantBob := reports.PersonFigures{Person: "bob", TimeZone: "America/New_York",
			Interruptions: reports.Bands{Off: 3, Total: 3}, Incidents: 3,
			WeekendInterruptions: 1, OnCall: reports.Hours(72 * time.Hour), IncidentsPerShift: 0.5,
			InterruptionShare: 3.0 / 8, OnCallShare: 72.0 / 169,
			Risk: reports.Risk{Level: "low", Reason: "3 interruptions, no night interrupted"}}
		for _, c := range []struct{ got, want reports.PersonFigures }{{alice, wantAlice}, {bob, wantBob}} {
			if !samePerson(c.got, c.want) {
				t.Errorf("person\n got %+v\nwant %+v", c.got, c.want)
			}
		}

		// Week over week: W39–W42 had one page to alice (and a channel post).
		if len(w.TrendWeeks) != 4 || w.TrendWeeks[0].String() != "2026-W39" || w.TrendWeeks[3].String() != "2026-W42" {
			t.Errorf("trend weeks %v", w.TrendWeeks)
		}
		pages := w.Trend[0]
		if pages.Figure != "pages" || pages.This != 15 || pages.PrevMean != 0.5 || pages.Percent == nil || *pages.Percent != 2900 {
			t.Errorf("pages trend %+v", pages)
		}
		if nights := w.Trend[4]; nights.Figure != "interrupted nights" || nights.This != 4 || nights.Percent != nil {
			t.Errorf("nights trend %+v, want no percentage (no nights before)", nights)
		}

		// Noise: Backup 5+2+5 = 12, DiskFull 1+2+5 = 8, CPUHigh 2+5 = 7.
		var order []string
		var costs []int
		for _, r := range w.Noise {
			order, costs = append(order, r.Rule), append(costs, r.ToilCost)
		}
		if len(order) != 3 || order[0] != "Backup" || order[1] != "DiskFull" || order[2] != "CPUHigh" ||
			costs[0] != 12 || costs[1] != 8 || costs[2] != 7 {
			t.Errorf("noise order %v costs %v", order, costs)
		}
	})
}

func TestWeeklyRendersTextHTMLAndJSON(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		goldenWeek(t, db)
		svc := newService(t, db, at(t, "2026-11-02T08:00:00Z"))
		w, err := svc.Weekly(context.Background(), "db", reports.Week{Year: 2026, Num: 43})
		if err != nil {
			t.Fatal(err)
		}
		var text, html, js bytes.Buffer
		if err := reports.WriteText(&text, w, "https://qp.example/reports?team=db&week=2026-W43"); err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteHTML(&html, w, "https://qp.example/reports?team=db&week=2026-W43"); err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteJSON(&js, w); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Pages                  15\n",
			"Interruptions          8 (business hours 1, off hours 3, sleep hours 4)",
			"Interrupted nights     4 (longest run 2)",
			"Time on call           169h",
			"Time to acknowledge    mean 16m15s, p90 30m0s (4 acknowledged)",
			"Sun 25 Oct    2 SSSS", // the DST night and Sunday 23:30, both sleep
			"burnout risk: high (4 nights interrupted this week, 2 in a row)",
			"1. Backup: toil 12",
			"Full report: https://qp.example/reports?team=db&week=2026-W43",
		} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, text.String())
			}
		}
		for _, want := range []string{"<b>15</b>", "<b>4 nights interrupted this week, 2 in a row", `bgcolor="#c0392b"`,
			`href="https://qp.example/reports?team=db&amp;week=2026-W43"`} {
			if !strings.Contains(strings.ReplaceAll(html.String(), "high</b>: ", "<b>"), want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
		if strings.Contains(html.String(), "<svg") || strings.Contains(html.String(), "<script") {
			t.Error("the e-mail must not need SVG or script")
		}
		var back map[string]any
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if back["week"] != "2026-W43" || back["figures"].(map[string]any)["on_call_hours"] != 169.0 {
			t.Errorf("JSON week %v, figures %v", back["week"], back["figures"])
		}
	})
}

func samePerson(a, b reports.PersonFigures) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	ok := near(a.IncidentsPerShift, b.IncidentsPerShift) && near(a.InterruptionShare, b.InterruptionShare) &&
		near(a.OnCallShare, b.OnCallShare)
	a.IncidentsPerShift, a.InterruptionShare, a.OnCallShare = 0, 0, 0
	b.IncidentsPerShift, b.InterruptionShare, b.OnCallShare = 0, 0, 0
	return ok && a == b
}
