package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/reports/replay"
	"github.com/quietpager/quietpager/reports/replay/demo"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

var berlinZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// testWeekStart is a Monday 00:00 in Berlin at least two days ahead, so that
// the jobs a live pipeline schedules for the week wait on River's wall
// clock until the test's clock reaches them.
func testWeekStart() time.Time {
	d := time.Now().In(berlinZone).AddDate(0, 0, 2)
	for d.Weekday() != time.Monday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, berlinZone)
}

// weekAlert is one firing period of one alert in the test week.
type weekAlert struct {
	labels     map[string]string
	start, end time.Time
	ackBy      string
	ackAfter   time.Duration
}

func webhookLine(t *testing.T, at time.Time, a weekAlert, resolved bool) replay.Line {
	t.Helper()
	p := ingest.Payload{Version: ingest.PayloadVersion, GroupKey: fmt.Sprintf("{}:{alertname=%q}", a.labels["alertname"])}
	p.Receiver, p.Status = "quietpager", "firing"
	ta := template.Alert{Status: "firing", Labels: a.labels, StartsAt: a.start.UTC()}
	if resolved {
		p.Status, ta.Status, ta.EndsAt = "resolved", "resolved", a.end.UTC()
	}
	p.Alerts = template.Alerts{ta}
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return replay.Line{At: at.UTC(), Webhook: body}
}

// testWeek is a recorded week against the demo's on-call configuration,
// with known pages:
//   - Monday 10:00 Berlin, HighErrorRate (payments, critical): paged, alice
//     acknowledges after 5 minutes, no escalation;
//   - Tuesday 03:00 Berlin, BackupJobSlow (payments, critical): nobody
//     acknowledges, it escalates to step 2 after 15 minutes and starts the
//     policy again after 30, resolves by itself after 35 minutes; bob marks
//     it not actionable in the morning;
//   - Wednesday 20:00 New York, ReplicationLag (databases): carol
//     acknowledges after 3 minutes;
//   - Friday 12:00 Berlin, HighCPU (payments, critical): gone after two
//     minutes, unacknowledged.
//
// With extras, bob's mark and a payments warning from Tuesday 22:00 to
// Wednesday 10:00 Berlin, whose page the business-hours route holds until
// the working day of the person on call.
func testWeek(t *testing.T, extras bool) []replay.Line {
	t.Helper()
	mon := testWeekStart()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	wed := mon.AddDate(0, 0, 2).In(ny)
	alerts := []weekAlert{
		{labels: map[string]string{"alertname": "HighErrorRate", "team": "payments", "severity": "critical", "cluster": "eu-1"},
			start: mon.Add(10 * time.Hour), end: mon.Add(10*time.Hour + 40*time.Minute), ackBy: "alice", ackAfter: 5 * time.Minute},
		{labels: map[string]string{"alertname": "BackupJobSlow", "team": "payments", "severity": "critical", "cluster": "eu-1"},
			start: mon.Add(27 * time.Hour), end: mon.Add(27*time.Hour + 35*time.Minute)},
		{labels: map[string]string{"alertname": "ReplicationLag", "team": "db", "severity": "critical"},
			start: time.Date(wed.Year(), wed.Month(), wed.Day(), 20, 0, 0, 0, ny),
			end:   time.Date(wed.Year(), wed.Month(), wed.Day(), 20, 50, 0, 0, ny), ackBy: "carol", ackAfter: 3 * time.Minute},
		{labels: map[string]string{"alertname": "HighCPU", "team": "payments", "severity": "critical", "cluster": "eu-1"},
			start: mon.Add(4*24*time.Hour + 12*time.Hour), end: mon.Add(4*24*time.Hour + 12*time.Hour + 2*time.Minute)},
	}
	if extras {
		alerts = append(alerts, weekAlert{labels: map[string]string{"alertname": "QueueBacklog", "team": "payments",
			"severity": "warning", "cluster": "eu-1"}, start: mon.Add(46 * time.Hour), end: mon.Add(58 * time.Hour)})
	}
	// Thursday evening in New York the database disk alert flaps: six
	// two-minute firings three minutes apart.
	thu := mon.AddDate(0, 0, 3).In(ny)
	disk := map[string]string{"alertname": "DiskSpaceLow", "team": "db", "severity": "warning", "instance": "db-3"}
	for i := range 6 {
		start := time.Date(thu.Year(), thu.Month(), thu.Day(), 19, 5*i, 0, 0, ny)
		alerts = append(alerts, weekAlert{labels: disk, start: start, end: start.Add(2 * time.Minute)})
	}
	var lines []replay.Line
	for _, a := range alerts {
		lines = append(lines, webhookLine(t, a.start.Add(30*time.Second), a, false))
		if a.ackBy != "" {
			lines = append(lines, replay.Line{At: a.start.Add(a.ackAfter).UTC(), Action: replay.ActionAcknowledge,
				By: a.ackBy, Labels: a.labels})
		}
		lines = append(lines, webhookLine(t, a.end.Add(30*time.Second), a, true))
	}
	if extras {
		lines = append(lines, replay.Line{At: mon.Add(33 * time.Hour).UTC(), Action: replay.ActionNotActionable,
			By: "bob", Labels: alerts[1].labels})
	}
	sortLines(lines)
	return lines
}

func sortLines(lines []replay.Line) {
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].At.Before(lines[j-1].At); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

func writeLines(t *testing.T, lines []replay.Line) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "week.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func applyDemoConfig(t *testing.T, db *migrations.DB) {
	t.Helper()
	cfg, err := rotation.ParseConfig(demo.OnCall, "oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotationstore.New(db).Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
}

// snapshot prints what a replay must reproduce: incidents, their
// timelines, pages (without delivery receipts), interruptions and
// feedback, in a stable order.
func snapshot(t *testing.T, db *migrations.DB) string {
	t.Helper()
	queries := []string{
		`SELECT id, title, state, team, urgency, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, openings
			FROM incidents ORDER BY id`,
		`SELECT incident_id, at, kind, actor, detail FROM incident_events ORDER BY incident_id, at, kind, actor, detail`,
		`SELECT incident_id, opening, step, round, person, channel, status, updated_at FROM pages
			ORDER BY incident_id, opening, step, round, person, channel`,
		`SELECT incident_id, opening, step, round, person, team, at, band FROM interruptions
			ORDER BY incident_id, opening, step, round, person`,
		`SELECT incident_id, kind, actor, at FROM incident_feedback ORDER BY incident_id, actor`,
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.SQL.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// weeklyReports renders the test week's weekly report of both teams as
// JSON: what a team would read after the replay.
func weeklyReports(t *testing.T, db *migrations.DB) string {
	t.Helper()
	svc := reports.New(reports.Options{History: reportstore.New(db), OnCall: rotationstore.New(db),
		Now: func() time.Time { return testWeekStart().AddDate(0, 0, 8) }})
	var b strings.Builder
	for _, team := range []string{"payments", "databases"} {
		w, err := svc.Weekly(context.Background(), team, reports.WeekOf(testWeekStart(), berlinZone))
		if err != nil {
			t.Fatalf("weekly report of %s: %v", team, err)
		}
		js, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		b.WriteString("\n")
	}
	return b.String()
}

func count(t *testing.T, db *migrations.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Gorm.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReplayTwiceGivesTheSameHistory(t *testing.T) {
	file := writeLines(t, testWeek(t, true))
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db *migrations.DB) {
		second := migrationstest.Open(t, migrationstest.DSN(t, db.Dialect))
		var snaps, weeklies []string
		for _, d := range []*migrations.DB{db, second} {
			applyDemoConfig(t, d)
			res, err := replayStream(context.Background(), d, mustOpen(t, file), file, time.Time{}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if res.Webhooks != 22 || res.Actions != 3 || res.Skipped != 0 {
				t.Fatalf("replayed %+v, want 22 webhooks and 3 actions", res)
			}
			snaps = append(snaps, snapshot(t, d))
			weeklies = append(weeklies, weeklyReports(t, d))
		}
		if snaps[0] != snaps[1] {
			t.Fatalf("two replays of one file differ:\n%s\nvs\n%s", snaps[0], snaps[1])
		}
		if weeklies[0] != weeklies[1] {
			t.Fatalf("the weekly reports of two replays differ:\n%s\nvs\n%s", weeklies[0], weeklies[1])
		}
		if !strings.Contains(weeklies[0], `"noise":[{`) {
			t.Fatalf("the replayed week's reports rank no noisy rule:\n%s", weeklies[0])
		}
		// The known pages: one incident each, all marked replayed; the
		// backup alert escalated to step 2 (secondary and frank) and round 2,
		// the acknowledged ones did not.
		if n := count(t, db, `SELECT COUNT(*) FROM incidents WHERE replay_id IS NOT NULL`); n != 6 {
			t.Errorf("%d replayed incidents, want 6", n)
		}
		// The warning's page waited, in simulated time, for the working day
		// of the person on call, in that person's zone.
		var held struct {
			OpenedAt, At int64
			Person, Band string
			TimeZone     string
		}
		if err := db.Gorm.Raw(`SELECT i.opened_at, p.at, p.person, p.band, pe.time_zone FROM interruptions p
				JOIN incidents i ON i.id = p.incident_id JOIN people pe ON pe.name = p.person
			WHERE i.title LIKE '%QueueBacklog%' ORDER BY p.at LIMIT 1`).Scan(&held).Error; err != nil {
			t.Fatal(err)
		}
		zone, err := time.LoadLocation(held.TimeZone)
		if err != nil {
			t.Fatalf("the held page reached nobody (%+v): %v", held, err)
		}
		if want := rotation.NextBusinessStart(time.UnixMicro(held.OpenedAt), zone); !time.UnixMicro(held.At).Equal(want) || held.Band != "business" {
			t.Errorf("held page reached %s at %v (%s hours), want %v, the start of their working day",
				held.Person, time.UnixMicro(held.At).In(zone), held.Band, want.In(zone))
		}
		steps := func(title string) string {
			var out []string
			rows, err := db.SQL.Query(`SELECT p.round, p.step, p.person FROM interruptions p JOIN incidents i ON i.id = p.incident_id
				WHERE i.title LIKE '%` + title + `%' ORDER BY p.round, p.step, p.person`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var round, step int
				var person string
				if err := rows.Scan(&round, &step, &person); err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%d/%d/%s", round, step, person))
			}
			return strings.Join(out, " ")
		}
		if got := steps("BackupJobSlow"); strings.Count(got, "/") != 2*4 || !strings.Contains(got, "0/1/frank") || !strings.HasPrefix(strings.Split(got, " ")[3], "1/0/") {
			t.Errorf("backup alert interruptions %q, want step 1, step 2 (secondary and frank), then round 2 step 1", got)
		}
		if got := steps("HighErrorRate"); strings.Count(got, " ") != 0 || !strings.HasPrefix(got, "0/0/") {
			t.Errorf("acknowledged alert interruptions %q, want the first step only", got)
		}
		// 20:00 in New York: the follow-the-sun rotation hands over to
		// erin, for whom it is 06:30 in Kolkata.
		if got := steps("ReplicationLag"); got != "0/0/erin" {
			t.Errorf("database alert interruptions %q, want 0/0/erin", got)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM interruptions WHERE team = 'databases' AND person = 'erin' AND band = 'sleep'`); n != 1 {
			t.Errorf("%d sleep-hours interruptions for erin, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM incident_feedback WHERE actor = 'bob'`); n != 1 {
			t.Errorf("%d not-actionable marks, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM pages WHERE status <> 'sent' OR receipt_channel <> ?`, replay.ReceiptChannel); n != 0 {
			t.Errorf("%d pages not recorded by the replay stand-ins", n)
		}

		out := mustRun(t, "replay", "--db", dsn, "--delete")
		if !strings.Contains(out, "6 incidents") {
			t.Errorf("replay --delete said %q, want 6 incidents", out)
		}
		for _, table := range []string{"incidents", "episodes", "alerts", "pages", "interruptions", "incident_feedback", "replays"} {
			if n := count(t, db, `SELECT COUNT(*) FROM `+table); n != 0 {
				t.Errorf("%d rows left in %s after replay --delete", n, table)
			}
		}
	})
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// testClock is the live pipeline's injected clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// livePipeline is serve's pipeline with an injected clock: the batcher,
// the incident store with the routes, the pager's River workers on the
// default queue and wall clock, and the recorder in front, as serve
// --record wires it.
type livePipeline struct {
	t     *testing.T
	clock *testClock
	tick  time.Time // next maintenance pass; zero while nothing is open

	client    *river.Client[*sql.Tx]
	store     *dedupestore.Store
	submit    replay.RecordingSubmitter
	incidents replay.RecordingIncidents
}

func newLivePipeline(t *testing.T, db *migrations.DB, recorded *syncBuffer) *livePipeline {
	t.Helper()
	ctx := context.Background()
	lp := &livePipeline{t: t, clock: &testClock{}}
	oncall := rotationstore.New(db)
	routes := &paging.Routes{Store: oncall, Defaults: dedupe.DefaultPolicy, Logger: slog.New(slog.DiscardHandler)}
	if err := routes.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	pager := paging.New(paging.Options{OnCall: oncall, Slack: replay.Slack{}, Mail: replay.Mail{}, Webhook: replay.Webhook{},
		ExternalURL: "http://localhost:8080", Now: lp.clock.Now})
	lp.store = dedupestore.New(db, dedupestore.Options{Policies: routes, OnIncidents: pager.Schedule, OnTransition: pager.Transitioned})
	pager.SetIncidents(lp.store)
	workers := river.NewWorkers()
	pager.Register(workers)
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers: workers, FetchCooldown: time.Millisecond, FetchPollInterval: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	pager.SetClient(client)
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
	lp.client = client
	batcher := ingest.NewBatcher(ingest.BatcherOptions{Writer: lp.store})
	batcher.Start()
	t.Cleanup(batcher.Stop)
	rec := replay.NewRecorder(recorded, nil)
	lp.submit = replay.RecordingSubmitter{Next: batcher, Recorder: rec}
	lp.incidents = replay.RecordingIncidents{IncidentStore: lp.store, Recorder: rec}
	return lp
}

func (lp *livePipeline) jobs(states ...rivertype.JobState) []*rivertype.JobRow {
	lp.t.Helper()
	res, err := lp.client.JobList(context.Background(), river.NewJobListParams().States(states...).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(100))
	if err != nil {
		lp.t.Fatal(err)
	}
	return res.Jobs
}

// settle waits until no job is available or running.
func (lp *livePipeline) settle() {
	lp.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(lp.jobs(rivertype.JobStateAvailable, rivertype.JobStateRunning)) > 0 {
		if time.Now().After(deadline) {
			lp.t.Fatal("jobs did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runUntil runs, in time order until t, the waiting jobs, each at its due
// time, as paging_test.go does (set the clock, make the job run now), and
// the server's maintenance pass every 15 seconds while an incident is open
// or an alert flaps (it has nothing to do otherwise).
func (lp *livePipeline) runUntil(t time.Time) {
	lp.t.Helper()
	for {
		waiting := lp.jobs(rivertype.JobStateScheduled)
		job := len(waiting) > 0 && !waiting[0].ScheduledAt.After(t)
		maintain := !lp.tick.IsZero() && !lp.tick.After(t) && (!job || !lp.tick.After(waiting[0].ScheduledAt))
		switch {
		case maintain:
			lp.clock.Set(lp.tick)
			flapping, open, err := lp.store.Maintain(context.Background(), lp.tick)
			if err != nil {
				lp.t.Fatal(err)
			}
			lp.tick = lp.tick.Add(maintenanceInterval)
			if flapping == 0 && open == 0 {
				lp.tick = time.Time{}
			}
		case job:
			lp.clock.Set(waiting[0].ScheduledAt)
			if _, err := lp.client.JobRetry(context.Background(), waiting[0].ID); err != nil {
				lp.t.Fatal(err)
			}
		default:
			return
		}
		lp.settle()
	}
}

func (lp *livePipeline) feed(lines []replay.Line) {
	t := lp.t
	t.Helper()
	ctx := context.Background()
	for _, l := range lines {
		lp.runUntil(l.At)
		lp.clock.Set(l.At)
		if len(l.Webhook) > 0 {
			_, recs, err := ingest.Decode(l.Webhook, lp.clock.Now().UTC())
			if err != nil {
				t.Fatal(err)
			}
			if err := lp.submit.Submit(ctx, recs); err != nil {
				t.Fatal(err)
			}
		} else {
			list, err := lp.store.Incidents(ctx, dedupe.IncidentQuery{State: dedupe.IncidentOpen, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			for _, in := range list {
				if strings.Contains(in.Title, l.Labels["alertname"]) {
					id = in.ID
				}
			}
			if err := lp.incidents.Acknowledge(ctx, id, l.By, l.At); err != nil {
				t.Fatalf("acknowledge %d (%s at %s among %+v): %v", id, l.Labels["alertname"], l.At, list, err)
			}
		}
		lp.settle()
		if lp.tick.IsZero() {
			lp.tick = l.At.Truncate(maintenanceInterval).Add(maintenanceInterval)
		}
	}
}

func TestReplayEqualsLive(t *testing.T) {
	week := testWeek(t, false)
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, live *migrations.DB) {
		applyDemoConfig(t, live)
		var recorded syncBuffer
		lp := newLivePipeline(t, live, &recorded)
		lp.feed(week)
		want := snapshot(t, live)
		if n := count(t, live, `SELECT COUNT(*) FROM interruptions`); n != 9 {
			t.Fatalf("the live week made %d interruptions, want 9 (the disk alert paged twice before it flapped):\n%s", n, want)
		}
		if n := count(t, live, `SELECT COUNT(*) FROM incident_events WHERE kind LIKE '%flap%'`); n == 0 {
			t.Fatalf("the disk alert did not flap live:\n%s", want)
		}

		// What serve --record wrote, replayed into a fresh database.
		if got := strings.Count(recorded.String(), "\n"); got != len(week) {
			t.Fatalf("recorded %d lines, want %d:\n%s", got, len(week), recorded.String())
		}
		replayed := migrationstest.Open(t, migrationstest.DSN(t, live.Dialect))
		applyDemoConfig(t, replayed)
		if _, err := replayStream(context.Background(), replayed, strings.NewReader(recorded.String()), "recorded",
			time.Time{}, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("replay: %v", err)
		}
		if got := snapshot(t, replayed); got != want {
			t.Fatalf("replay differs from live:\nlive:\n%s\nreplay:\n%s", want, got)
		}
		if got, want := weeklyReports(t, replayed), weeklyReports(t, live); got != want {
			t.Fatalf("the weekly reports after the replay differ from live:\nlive:\n%s\nreplay:\n%s", want, got)
		}
	})
}

func TestReplayBadLineKeepsWhatWasReplayed(t *testing.T) {
	week := testWeek(t, false)
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db *migrations.DB) {
		applyDemoConfig(t, db)
		path := writeLines(t, week[:4])
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, []byte(`{"at":"2030-01-01T00:00:00Z","action":"escalate","by":"x","fingerprint":"0123456789abcdef"}`+"\n")...)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, _, err := runCmd(t, noEnv, "replay", path, "--db", dsn)
		if err == nil || !strings.Contains(err.Error(), `line 5: unknown action "escalate"`) {
			t.Fatalf("replay of a bad line: %v, want an error naming line 5", err)
		}
		if !strings.Contains(stdout, "replayed 4 lines") {
			t.Errorf("replay said %q, want 4 lines replayed", stdout)
		}
		// The four good lines: HighErrorRate opened, acknowledged and
		// resolved, BackupJobSlow opened and paged.
		if n := count(t, db, `SELECT COUNT(*) FROM incidents WHERE replay_id IS NOT NULL`); n != 2 {
			t.Errorf("%d replayed incidents kept, want 2", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM interruptions`); n != 2 {
			t.Errorf("%d interruptions kept, want 2", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM replays WHERE lines = 4 AND error LIKE '%line 5%'`); n != 1 {
			t.Errorf("the replay's record does not say it stopped at line 5")
		}
	})
}

func TestDemo(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db *migrations.DB) {
		// A replay left behind is deleted: loading the demo resets it.
		file := writeLines(t, testWeek(t, false)[:2])
		mustRun(t, "replay", file, "--db", dsn)
		// The race detector slows the month's replay down several times.
		out, stderr, err := runCmdWithin(t, 10*time.Minute, noEnv, "demo", "--db", dsn)
		if err != nil || !strings.Contains(out, "30 days of history") {
			t.Fatalf("demo: %v\n%s\n%s", err, out, stderr)
		}
		// The printed login works in the web UI's store.
		login := regexp.MustCompile(`as (\S+), password (\S+)`).FindStringSubmatch(out)
		if login == nil {
			t.Fatalf("demo printed no web UI login:\n%s", out)
		}
		if _, s, err := accountstore.New(db).Login(context.Background(), login[1], login[2], time.Now(), time.Hour); err != nil || s.User.Role != account.Admin {
			t.Errorf("the demo's login %s: %v, role %q, want an admin", login[1], err, s.User.Role)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM replays WHERE source = 'demo'`); n != 1 || count(t, db, `SELECT COUNT(*) FROM replays`) != 1 {
			t.Errorf("%d demo replays and others left after loading the demo, want the demo alone", n)
		}
		for _, team := range []string{"payments", "databases"} {
			if n := count(t, db, `SELECT COUNT(*) FROM interruptions WHERE team = ? AND band = 'sleep'`, team); n == 0 {
				t.Errorf("team %s: no sleep-hours interruptions in the demo", team)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM pages p JOIN incidents i ON i.id = p.incident_id WHERE i.team = ?`, team); n == 0 {
				t.Errorf("team %s: no pages in the demo", team)
			}
		}
		for what, query := range map[string]string{
			"a flapping disk alert": `SELECT COUNT(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id
				WHERE i.title LIKE '%DiskSpaceLow%' AND e.kind LIKE '%flap%'`,
			"a storm of 60 alerts in one incident": `SELECT COUNT(*) FROM (SELECT e.incident_id FROM episodes e
				JOIN alerts a ON a.id = e.alert_id WHERE a.alertname = 'InstanceDown' GROUP BY e.incident_id HAVING COUNT(*) = 60) s`,
			"acknowledged genuine incidents": `SELECT COUNT(*) FROM incidents WHERE acknowledged_by IS NOT NULL`,
			"nightly backup incidents":       `SELECT COUNT(*) FROM incidents WHERE title LIKE '%BackupJobSlow%'`,
			"not actionable marks":           `SELECT COUNT(*) FROM incident_feedback`,
		} {
			if n := count(t, db, query); n == 0 {
				t.Errorf("the demo has no %s", what)
			}
		}
		openDemoPages(t, dsn, db)
	})
}
