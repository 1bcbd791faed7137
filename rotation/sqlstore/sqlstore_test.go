package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/sqlstore"
)

// example is the documented example configuration.
func example(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/examples/oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parse(t *testing.T, yaml string) rotation.Config {
	t.Helper()
	cfg, err := rotation.ParseConfig([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

// edit applies old→new replacements to a YAML text, failing if one does
// not apply, so that a changed example cannot quietly void a test.
func edit(t *testing.T, yaml string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(yaml, pairs[i]) {
			t.Fatalf("edit: %q not in the YAML", pairs[i])
		}
		yaml = strings.Replace(yaml, pairs[i], pairs[i+1], 1)
	}
	return yaml
}

func mustApply(t *testing.T, s *sqlstore.Store, cfg rotation.Config, dryRun bool) sqlstore.Plan {
	t.Helper()
	plan, err := s.Apply(context.Background(), cfg, dryRun)
	if err != nil {
		t.Fatalf("Apply(dryRun=%v): %v", dryRun, err)
	}
	return plan
}

func mustLoad(t *testing.T, s *sqlstore.Store) rotation.Config {
	t.Helper()
	cfg, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// canon describes a Config as text that compares equal exactly when two
// Configs mean the same: zones by name, instants by value, matchers as
// Alertmanager writes them, and the unordered lists (people, teams,
// rotations, escalation) sorted by name, as Load returns them.
func canon(cfg rotation.Config) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var part []string
	for _, p := range cfg.People {
		part = append(part, fmt.Sprintf("person %s email=%s slack=%s tz=%s", p.Name, p.Email, p.SlackID, p.TimeZone))
	}
	slices.Sort(part)
	out = append(out, part...)
	part = nil
	for _, tm := range cfg.Teams {
		part = append(part, fmt.Sprintf("team %s tz=%s slack=%s webhook=%s secret=%s members=%q",
			tm.Name, tm.TimeZone, tm.SlackChannel, tm.WebhookURL, tm.WebhookSecret, tm.Members))
	}
	slices.Sort(part)
	out = append(out, part...)
	part = nil
	for _, r := range cfg.Rotations {
		part = append(part, fmt.Sprintf("rotation %s team=%s members=%q shift=%+v start=%s tz=%s",
			r.Name, r.Team, r.Members, r.Shift, r.Start.In(r.TimeZone).Format(time.RFC3339Nano), r.TimeZone))
	}
	slices.Sort(part)
	out = append(out, part...)
	part = nil
	for _, e := range cfg.Escalation {
		part = append(part, fmt.Sprintf("escalation %s steps=%+v repeat=%d", e.Team, e.Steps, e.Repeat))
	}
	slices.Sort(part)
	out = append(out, part...)
	for _, r := range cfg.Routes {
		ms := make([]string, len(r.Matchers))
		for i, m := range r.Matchers {
			ms[i] = m.String()
		}
		add("route %s matchers=%q team=%s urgency=%s group_by=%q reopen=%s flap=%+v default=%v",
			r.Name, ms, r.Team, r.Urgency, r.GroupBy, r.ReopenWindow, r.Flap, r.Default)
	}
	part = nil
	for _, h := range cfg.Heartbeats {
		ms := make([]string, len(h.Matchers))
		for i, m := range h.Matchers {
			ms[i] = m.String()
		}
		part = append(part, fmt.Sprintf("heartbeat %s matchers=%q interval=%s labels=%v", h.Name, ms, h.Interval, h.Labels))
	}
	slices.Sort(part)
	return append(out, part...)
}

func sameConfig(t *testing.T, got, want rotation.Config) {
	t.Helper()
	g, w := canon(got), canon(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("configurations differ:\n got:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

func samePlan(t *testing.T, got sqlstore.Plan, want ...string) {
	t.Helper()
	if !slices.Equal(got.Changes, want) {
		t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got.Changes, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestApplyRoundTrip(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		cfg := parse(t, example(t))
		plan := mustApply(t, s, cfg, false)
		// Everything is created, nothing else.
		want := len(cfg.People) + len(cfg.Teams) + len(cfg.Rotations) + len(cfg.Escalation) + len(cfg.Routes) + len(cfg.Heartbeats)
		if len(plan.Changes) != want {
			t.Errorf("first Apply planned %d changes, want %d creates:\n%s", len(plan.Changes), want, plan)
		}
		for _, c := range plan.Changes {
			if !strings.HasPrefix(c, "create ") {
				t.Errorf("first Apply planned %q, want only creates", c)
			}
		}
		got := mustLoad(t, s)
		sameConfig(t, got, cfg)
		// The loaded zones are real locations and the start keeps its
		// local wall clock, so the on-call math gets what the file said.
		for _, r := range got.Rotations {
			if r.Name == "payments-primary" {
				if r.TimeZone.String() != "Europe/Berlin" || r.Start.Format("2006-01-02 15:04 MST") != "2026-11-02 09:00 CET" {
					t.Errorf("payments-primary: zone %s, start %s", r.TimeZone, r.Start)
				}
			}
		}
		for _, r := range got.Routes {
			if r.Name == "databases" && (len(r.Matchers) != 1 || !r.Matchers[0].Matches("db-main") || r.Matchers[0].Matches("payments")) {
				t.Errorf("databases route matchers do not work after Load: %v", r.Matchers)
			}
		}
	})
}

func TestApplyIsIdempotent(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		cfg := parse(t, example(t))
		mustApply(t, s, cfg, false)
		if plan := mustApply(t, s, cfg, false); !plan.Empty() || plan.String() != "no changes" {
			t.Errorf("second Apply of the same config planned:\n%s", plan)
		}
		// What Load returns applies as no change too.
		if plan := mustApply(t, s, mustLoad(t, s), false); !plan.Empty() {
			t.Errorf("Apply of the loaded config planned:\n%s", plan)
		}
		// So does the same file with its lists reordered (except routes).
		reordered := cfg
		reordered.People = slices.Clone(cfg.People)
		slices.Reverse(reordered.People)
		reordered.Rotations = slices.Clone(cfg.Rotations)
		slices.Reverse(reordered.Rotations)
		if plan := mustApply(t, s, reordered, true); !plan.Empty() {
			t.Errorf("reordering people and rotations planned:\n%s", plan)
		}
	})
}

func TestApplyUpdatePlan(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		base := example(t)
		mustApply(t, s, parse(t, base), false)
		changed := edit(t, base,
			`slack_channel: "#payments-oncall"`, `slack_channel: "#payments-pager"`,
			"secret: change-me-to-a-long-random-string", "secret: another-secret",
			"members: [bob, erin, alice]", "members: [bob, alice, erin]",
			"shift: 12h", "shift: 8h",
			"email: dave@example.com", "email: dave@example.org\n    slack_id: U01DAVE001",
			"      - delay: 10m\n        person: dave\n    repeat: 1", "      - delay: 5m\n        person: dave\n    repeat: 1",
			"    urgency: business-hours ", "    urgency: digest ",
			// a new route at the top: only the route after it moves
			"routes:\n", "routes:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    team: payments\n    urgency: digest\n",
		)
		cfg := parse(t, changed)
		want := []string{
			"update person dave: email, slack_id",
			"update team payments: slack_channel, webhook.secret",
			"update rotation payments-secondary: members",
			"update rotation databases-primary: shift",
			"update escalation databases: steps",
			"create route watchdog",
			"update route payments-critical: order",
			"update route payments-warnings: urgency",
		}
		samePlan(t, mustApply(t, s, cfg, true), want...)
		samePlan(t, mustApply(t, s, cfg, false), want...)
		sameConfig(t, mustLoad(t, s), cfg)
		samePlan(t, mustApply(t, s, cfg, false))
	})
}

func TestApplyDeletePlan(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		full := parse(t, example(t))
		mustApply(t, s, full, false)
		// Without the databases team: its rotation, escalation and route go,
		// and carol and dave, who were only there.
		small := full
		small.People = slices.DeleteFunc(slices.Clone(full.People), func(p rotation.Person) bool { return p.Name == "carol" || p.Name == "dave" })
		small.Teams = slices.DeleteFunc(slices.Clone(full.Teams), func(tm rotation.Team) bool { return tm.Name == "databases" })
		small.Rotations = slices.DeleteFunc(slices.Clone(full.Rotations), func(r rotation.Rotation) bool { return r.Team == "databases" })
		small.Escalation = slices.DeleteFunc(slices.Clone(full.Escalation), func(e rotation.EscalationPolicy) bool { return e.Team == "databases" })
		small.Routes = slices.DeleteFunc(slices.Clone(full.Routes), func(r rotation.Route) bool { return r.Team == "databases" })
		want := []string{
			"update route everything-else: order",
			"delete route databases",
			"delete escalation databases",
			"delete rotation databases-primary",
			"delete team databases",
			"delete person carol",
			"delete person dave",
		}
		samePlan(t, mustApply(t, s, small, false), want...)
		sameConfig(t, mustLoad(t, s), small)
		// And back.
		plan := mustApply(t, s, full, false)
		if len(plan.Changes) != len(want) {
			t.Errorf("restoring planned %d changes, want %d:\n%s", len(plan.Changes), len(want), plan)
		}
		sameConfig(t, mustLoad(t, s), full)
	})
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		cfg := parse(t, example(t))
		if plan := mustApply(t, s, cfg, true); plan.Empty() {
			t.Fatal("dry run on an empty database planned nothing")
		}
		if got := mustLoad(t, s); len(canon(got)) != 0 {
			t.Fatalf("dry run wrote:\n%s", strings.Join(canon(got), "\n"))
		}
		mustApply(t, s, cfg, false)
		changed := edit(t, example(t), "shift: 1w", "shift: 2w")
		if plan := mustApply(t, s, parse(t, changed), true); len(plan.Changes) != 1 {
			t.Errorf("dry run of one change planned:\n%s", plan)
		}
		sameConfig(t, mustLoad(t, s), cfg)
	})
}

// Heartbeats are applied by name like the rest; the instant a heartbeat
// counts from (Since) is when it was created or its matchers or interval
// last changed, not when only its alert's labels did.
func TestApplyHeartbeats(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		now := monday
		sqlstore.SetClock(s, func() time.Time { return now })
		base := example(t)
		cfg := parse(t, base)
		if len(cfg.Heartbeats) != 1 {
			t.Fatalf("the example should show one heartbeat, has %d", len(cfg.Heartbeats))
		}
		mustApply(t, s, cfg, false)
		got, err := s.Heartbeats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Alertname() != "Watchdog" || got[0].Interval != 5*time.Minute ||
			!reflect.DeepEqual(got[0].Labels, map[string]string{"team": "payments", "severity": "critical"}) || !got[0].Since.Equal(monday) {
			t.Fatalf("Heartbeats() = %+v", got)
		}
		since := func() time.Time {
			t.Helper()
			hs, err := s.Heartbeats(ctx)
			if err != nil || len(hs) == 0 {
				t.Fatalf("Heartbeats() = %v, %v", hs, err)
			}
			return hs[0].Since
		}

		now = monday.Add(time.Hour)
		relabelled := parse(t, edit(t, base, "labels: {team: payments, severity: critical}", "labels: {team: databases, severity: critical}"))
		samePlan(t, mustApply(t, s, relabelled, false), "update heartbeat prometheus-watchdog: labels")
		if got := since(); !got.Equal(monday) {
			t.Errorf("after a labels change Since = %s, want still %s", got, monday)
		}
		sameConfig(t, mustLoad(t, s), relabelled)

		now = monday.Add(2 * time.Hour)
		slower := parse(t, edit(t, base, "interval: 5m", "interval: 10m", `matchers: ['alertname="Watchdog"']`, `matchers: ['alertname="Watchdog"', 'env="prod"']`))
		samePlan(t, mustApply(t, s, slower, true), "update heartbeat prometheus-watchdog: interval, labels, matchers")
		if got := since(); !got.Equal(monday) {
			t.Errorf("a dry run moved Since to %s", got)
		}
		mustApply(t, s, slower, false)
		if got := since(); !got.Equal(now) {
			t.Errorf("after an interval change Since = %s, want %s", got, now)
		}
		sameConfig(t, mustLoad(t, s), slower)

		none := slower
		none.Heartbeats = nil
		samePlan(t, mustApply(t, s, none, false), "delete heartbeat prometheus-watchdog")
		if hs, err := s.Heartbeats(ctx); err != nil || len(hs) != 0 {
			t.Errorf("after deleting: Heartbeats() = %v, %v", hs, err)
		}
		samePlan(t, mustApply(t, s, cfg, false), "create heartbeat prometheus-watchdog")
		samePlan(t, mustApply(t, s, cfg, false))
	})
}

// Apply refuses a Config built in code that a file could not have given.
func TestApplyRefusesAnInconsistentConfig(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		cfg := parse(t, example(t))
		cfg.Rotations = slices.Clone(cfg.Rotations)
		cfg.Rotations[0].Members = []string{"nobody"}
		cfg.People = append(slices.Clone(cfg.People), cfg.People[0])
		cfg.Heartbeats = append(slices.Clone(cfg.Heartbeats), rotation.Heartbeat{Name: "no-name", Interval: time.Minute})
		_, err := s.Apply(context.Background(), cfg, false)
		if quietpager.ErrorCode(err) != quietpager.Invalid {
			t.Fatalf("Apply = %v, want invalid", err)
		}
		for _, want := range []string{`unknown person "nobody"`, `duplicate person "alice"`, `heartbeat "no-name": its matchers must pin an alertname`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
		}
		if got := mustLoad(t, s); len(canon(got)) != 0 {
			t.Errorf("a refused Apply wrote:\n%s", strings.Join(canon(got), "\n"))
		}
	})
}

var monday = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

func TestOverrides(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		mustApply(t, s, parse(t, example(t)), false)

		create := func(rot, person string, from, to time.Time) rotation.Override {
			t.Helper()
			o, err := s.CreateOverride(ctx, rotation.Override{Rotation: rot, Person: person, Start: from, End: to, CreatedBy: "test"})
			if err != nil {
				t.Fatalf("CreateOverride(%s, %s): %v", rot, person, err)
			}
			return o
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		a := create("payments-primary", "frank", monday.In(berlin), monday.Add(4*time.Hour))
		b := create("payments-primary", "bob", monday.Add(2*time.Hour), monday.Add(24*time.Hour))
		c := create("databases-primary", "carol", monday, monday.Add(time.Hour))
		if a.ID == 0 || a.ID == b.ID || b.ID == c.ID {
			t.Fatalf("ids %d %d %d", a.ID, b.ID, c.ID)
		}
		if !a.Start.Equal(monday) || a.Start.Location() != time.UTC || a.CreatedBy != "test" {
			t.Errorf("created override = %+v", a)
		}

		list := func(rot string, from, to time.Time) []int64 {
			t.Helper()
			os, err := s.Overrides(ctx, rot, from, to)
			if err != nil {
				t.Fatalf("Overrides(%s): %v", rot, err)
			}
			ids := []int64{}
			for _, o := range os {
				ids = append(ids, o.ID)
			}
			return ids
		}
		cases := []struct {
			name     string
			rot      string
			from, to time.Time
			want     []int64
		}{
			{"whole day", "payments-primary", monday, monday.Add(24 * time.Hour), []int64{a.ID, b.ID}},
			{"before both", "payments-primary", monday.Add(-time.Hour), monday, []int64{}},
			{"touching the end is not overlapping", "payments-primary", monday.Add(24 * time.Hour), monday.Add(25 * time.Hour), []int64{}},
			{"inside the second", "payments-primary", monday.Add(5 * time.Hour), monday.Add(6 * time.Hour), []int64{b.ID}},
			{"the overlap", "payments-primary", monday.Add(3 * time.Hour), monday.Add(3*time.Hour + time.Minute), []int64{a.ID, b.ID}},
			{"other rotation", "databases-primary", monday, monday.Add(24 * time.Hour), []int64{c.ID}},
			{"every rotation", "", monday, monday.Add(24 * time.Hour), []int64{a.ID, c.ID, b.ID}},
		}
		for _, tc := range cases {
			if got := list(tc.rot, tc.from, tc.to); !slices.Equal(got, tc.want) {
				t.Errorf("%s: overrides %v, want %v", tc.name, got, tc.want)
			}
		}
		got, _ := s.Overrides(ctx, "payments-primary", monday, monday.Add(time.Hour))
		if len(got) != 1 || got[0] != a {
			t.Errorf("read back %+v, want %+v", got, a)
		}

		// Errors.
		bad := []struct {
			name string
			o    rotation.Override
			code quietpager.Code
		}{
			{"end before start", rotation.Override{Rotation: "payments-primary", Person: "bob", Start: monday, End: monday.Add(-time.Minute), CreatedBy: "x"}, quietpager.Invalid},
			{"end equals start", rotation.Override{Rotation: "payments-primary", Person: "bob", Start: monday, End: monday, CreatedBy: "x"}, quietpager.Invalid},
			{"no creator", rotation.Override{Rotation: "payments-primary", Person: "bob", Start: monday, End: monday.Add(time.Hour)}, quietpager.Invalid},
			{"unknown rotation", rotation.Override{Rotation: "nope", Person: "bob", Start: monday, End: monday.Add(time.Hour), CreatedBy: "x"}, quietpager.NotFound},
			{"unknown person", rotation.Override{Rotation: "payments-primary", Person: "nobody", Start: monday, End: monday.Add(time.Hour), CreatedBy: "x"}, quietpager.NotFound},
		}
		for _, tc := range bad {
			if _, err := s.CreateOverride(ctx, tc.o); quietpager.ErrorCode(err) != tc.code {
				t.Errorf("%s: CreateOverride = %v, want %s", tc.name, err, tc.code)
			}
		}
		if _, err := s.Overrides(ctx, "nope", monday, monday.Add(time.Hour)); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("Overrides of an unknown rotation = %v, want not_found", err)
		}
		if _, err := s.Overrides(ctx, "", monday, monday); quietpager.ErrorCode(err) != quietpager.Invalid {
			t.Errorf("Overrides of an empty range = %v, want invalid", err)
		}

		// Delete.
		if err := s.DeleteOverride(ctx, b.ID); err != nil {
			t.Fatalf("DeleteOverride: %v", err)
		}
		if err := s.DeleteOverride(ctx, b.ID); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("second DeleteOverride = %v, want not_found", err)
		}
		if got := list("payments-primary", monday, monday.Add(24*time.Hour)); !slices.Equal(got, []int64{a.ID}) {
			t.Errorf("after delete: %v, want [%d]", got, a.ID)
		}
	})
}

// Apply keeps the overrides of rotations that stay, even when it changes
// them, and deletes those of rotations it deletes.
func TestApplyAndOverrides(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		sqlstore.SetClock(s, func() time.Time { return monday })
		full := parse(t, example(t))
		mustApply(t, s, full, false)
		keep, err := s.CreateOverride(ctx, rotation.Override{Rotation: "payments-primary", Person: "frank",
			Start: monday, End: monday.Add(time.Hour), CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.CreateOverride(ctx, rotation.Override{Rotation: "databases-primary", Person: "erin",
				Start: monday, End: monday.Add(time.Hour), CreatedBy: "test"}); err != nil {
				t.Fatal(err)
			}
		}

		// Changing the rotation keeps its overrides.
		changed := parse(t, edit(t, example(t), "members: [alice, bob, erin]\n    shift: 1w", "members: [bob, alice]\n    shift: 2w"))
		samePlan(t, mustApply(t, s, changed, false), "update rotation payments-primary: members, shift")
		if got, _ := s.Overrides(ctx, "payments-primary", monday, monday.Add(time.Hour)); len(got) != 1 || got[0].ID != keep.ID {
			t.Errorf("overrides after updating the rotation: %+v", got)
		}

		// Deleting a rotation deletes its overrides, and says so.
		noDB := changed
		noDB.Rotations = slices.DeleteFunc(slices.Clone(changed.Rotations), func(r rotation.Rotation) bool { return r.Name == "databases-primary" })
		noDB.Escalation = slices.Clone(changed.Escalation)
		for i, e := range noDB.Escalation {
			if e.Team == "databases" {
				noDB.Escalation[i].Steps = noDB.Escalation[i].Steps[1:]
			}
		}
		samePlan(t, mustApply(t, s, noDB, false),
			"update escalation databases: steps",
			"delete rotation databases-primary (and its 2 overrides)")
		if got, _ := s.Overrides(ctx, "", monday.Add(-time.Hour), monday.Add(time.Hour)); len(got) != 1 || got[0].ID != keep.ID {
			t.Errorf("overrides after deleting a rotation: %+v", got)
		}

		// frank covers payments-primary until monday+1h: deleting him is
		// refused, dry run or not, and changes nothing.
		noFrank := noDB
		noFrank.People = slices.DeleteFunc(slices.Clone(noDB.People), func(p rotation.Person) bool { return p.Name == "frank" })
		noFrank.Escalation = slices.Clone(noDB.Escalation)
		for i, e := range noFrank.Escalation {
			if e.Team == "payments" {
				noFrank.Escalation[i].Steps = slices.Clone(e.Steps)
				noFrank.Escalation[i].Steps[1].Targets = e.Steps[1].Targets[:1]
			}
		}
		for _, dry := range []bool{true, false} {
			_, err = s.Apply(ctx, noFrank, dry)
			if quietpager.ErrorCode(err) != quietpager.Conflict || !strings.Contains(err.Error(), "frank") {
				t.Errorf("deleting a person with a current override (dry run %v): %v, want conflict", dry, err)
			}
		}
		sameConfig(t, mustLoad(t, s), noDB)

		// Once the override has ended, frank goes, and his past override
		// with him.
		sqlstore.SetClock(s, func() time.Time { return monday.Add(2 * time.Hour) })
		samePlan(t, mustApply(t, s, noFrank, false),
			"update escalation payments: steps",
			"delete person frank (and their past override)")
		sameConfig(t, mustLoad(t, s), noFrank)
	})
}
