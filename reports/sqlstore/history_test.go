package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// recorder writes a synthetic history straight into the tables that
// dedupe and paging fill, so a test states every fact it relies on.
type recorder struct {
	t    testing.TB
	db   *migrations.DB
	team string
	n    int
}

func newRecorder(t testing.TB, db *migrations.DB, team string) *recorder {
	return &recorder{t: t, db: db, team: team}
}

func (r *recorder) id(q string, args ...any) int64 {
	r.t.Helper()
	var id int64
	if err := r.db.Gorm.Raw(q+" RETURNING id", args...).Scan(&id).Error; err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (r *recorder) exec(q string, args ...any) {
	r.t.Helper()
	if err := r.db.Gorm.Exec(q, args...).Error; err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
}

// alert creates one alert of rule.
func (r *recorder) alert(rule string) int64 {
	r.n++
	return r.id(`INSERT INTO alerts (fingerprint, alertname, labels, annotations, generator_url, receiver, group_key, first_seen, last_seen)
		VALUES (?, ?, '{}', '{}', '', 'team', 'g', 0, 0)`, fmt.Sprintf("%016x", r.n), rule)
}

// incident is one incident with one episode of alert (from opened to
// resolved), acknowledged (by ackedBy) unless acked is zero.
type incident struct {
	alert                   int64
	opened, acked, resolved time.Time
	ackedBy                 string
	urgency                 rotation.Urgency
}

func null(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func (r *recorder) incident(in incident) int64 {
	r.t.Helper()
	r.n++
	state := "resolved"
	if in.resolved.IsZero() {
		state = "open"
	}
	if in.urgency == "" {
		in.urgency = rotation.UrgencyPage
	}
	var by any
	if !in.acked.IsZero() {
		by = in.ackedBy
	}
	id := r.id(`INSERT INTO incidents (group_hash, receiver, group_key, title, common_labels, state, opened_at,
		acknowledged_at, acknowledged_by, resolved_at, team, urgency) VALUES (?, 'team', 'g', 't', '{}', ?, ?, ?, ?, ?, ?, ?)`,
		fmt.Sprintf("g%d", r.n), state, in.opened.UnixMicro(), null(in.acked), by, null(in.resolved), r.team, string(in.urgency))
	r.episode(in.alert, id, in.opened, in.resolved, in.acked)
	return id
}

// episode adds a firing period of alert to incident.
func (r *recorder) episode(alert, incident int64, start, end, acked time.Time) {
	r.t.Helper()
	state := "resolved"
	if end.IsZero() {
		state = "firing"
	}
	r.exec(`INSERT INTO episodes (alert_id, starts_at, ends_at, state, notifications, first_received, last_received,
		incident_id, acknowledged_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`,
		alert, start.UnixMicro(), null(end), state, start.UnixMicro(), start.UnixMicro(), incident, null(acked))
}

// page records a page to person (e-mail) that reached them, the
// interruption it made, and the post in the team channel for step 0.
func (r *recorder) page(incident int64, step int, person string, at time.Time, band rotation.Band) {
	r.t.Helper()
	r.exec(`INSERT INTO pages (incident_id, opening, step, round, person, channel, status, updated_at)
		VALUES (?, 1, ?, 0, ?, 'email', 'sent', ?)`, incident, step, person, at.UnixMicro())
	if step == 0 {
		r.exec(`INSERT INTO pages (incident_id, opening, step, round, person, channel, status, updated_at)
			VALUES (?, 1, 0, 0, '', 'slack', 'sent', ?)`, incident, at.UnixMicro())
	}
	r.exec(`INSERT INTO interruptions (incident_id, opening, step, round, person, team, at, band)
		VALUES (?, 1, ?, 0, ?, ?, ?, ?)`, incident, step, person, r.team, at.UnixMicro(), string(band))
}

func (r *recorder) notActionable(incident int64, actor string, at time.Time) {
	r.exec(`INSERT INTO incident_feedback (incident_id, kind, actor, at) VALUES (?, 'not_actionable', ?, ?)`,
		incident, actor, at.UnixMicro())
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// applyConfig stores an on-call configuration: team db in Berlin with
// alice (Berlin) and bob (New York) on a daily rotation handing off at
// midnight in Berlin, alice first on Monday 19 October 2026.
func applyConfig(t testing.TB, db *migrations.DB) *rotationstore.Store {
	t.Helper()
	berlin, ny := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	cfg := rotation.Config{
		People: []rotation.Person{
			{Name: "alice", Email: "alice@example.com", TimeZone: berlin},
			{Name: "bob", Email: "bob@example.com", TimeZone: ny},
		},
		Teams: []rotation.Team{{Name: "db", TimeZone: berlin, SlackChannel: "#db", Members: []string{"alice", "bob"}}},
		Rotations: []rotation.Rotation{{Name: "db-primary", Team: "db", Members: []string{"alice", "bob"},
			Shift: rotation.Shift{Days: 1}, Start: time.Date(2026, 10, 19, 0, 0, 0, 0, berlin), TimeZone: berlin}},
		Escalation: []rotation.EscalationPolicy{{Team: "db", Steps: []rotation.Step{
			{Targets: []rotation.Target{{Rotation: "db-primary"}}},
			{Delay: 15 * time.Minute, Targets: []rotation.Target{{Person: "alice"}}},
		}}},
		Routes: []rotation.Route{{Name: "default", Team: "db", Urgency: rotation.UrgencyPage, Default: true}},
	}
	store := rotationstore.New(db)
	if _, err := store.Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	return store
}

func newService(t testing.TB, db *migrations.DB, now time.Time) *reports.Service {
	return reports.New(reports.Options{History: sqlstore.New(db), OnCall: applyConfig(t, db),
		Now: func() time.Time { return now }})
}
