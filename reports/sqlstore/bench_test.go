package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// A large organisation's month: benchTeams teams of five people in five
// zones, each with benchRules alert rules over benchAlerts alerts, and
// benchEpisodes episodes over five weeks (W44–W48 of 2026, so that the
// report of W48 has its four weeks of trend). Every fifth episode of a team
// opens an incident the next four join; each incident interrupts the person
// on call once (one in ten escalates to a second), with an e-mail and a
// channel post.
const (
	benchTeams    = 20
	benchRules    = 50
	benchAlerts   = 2500 // per team
	benchEpisodes = 1_000_000
	benchPerInc   = 5
)

var benchZones = []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney"}

// BenchmarkWeeklyLargeOrg computes one team's weekly report (with its
// trend and noise ranking) over a million episodes. QUIETPAGER_BENCH_EPISODES
// scales the history down for a quick run.
func BenchmarkWeeklyLargeOrg(b *testing.B) {
	episodes := benchEpisodes
	if n, err := fmt.Sscan(os.Getenv("QUIETPAGER_BENCH_EPISODES"), &episodes); n != 1 || err != nil {
		episodes = benchEpisodes
	}
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			db := migrationstest.Open(b, migrationstest.DSN(b, d))
			oncall := seedLargeOrg(b, db, episodes)
			svc := reports.New(reports.Options{History: sqlstore.New(db), OnCall: oncall})
			week := reports.Week{Year: 2026, Num: 48}
			ctx := context.Background()
			var w reports.Weekly
			var err error
			for i := 0; b.Loop(); i++ {
				if w, err = svc.Weekly(ctx, fmt.Sprintf("team%02d", i%benchTeams), week); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.Figures.Pages), "pages/team-week")
			b.ReportMetric(float64(len(w.Noise)), "rules-shown")
		})
	}
}

func seedLargeOrg(b *testing.B, db *migrations.DB, episodes int) *rotationstore.Store {
	b.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	first := reports.Week{Year: 2026, Num: 44}.Start(time.UTC)
	span := 35 * 24 * time.Hour

	var cfg rotation.Config
	zones := map[string]*time.Location{}
	for t := range benchTeams {
		loc := zone(b, benchZones[t%len(benchZones)])
		team := rotation.Team{Name: fmt.Sprintf("team%02d", t), TimeZone: loc}
		for p := range 5 {
			name := fmt.Sprintf("p%02d-%d", t, p)
			cfg.People = append(cfg.People, rotation.Person{Name: name, Email: name + "@example.com",
				TimeZone: zone(b, benchZones[(t+p)%len(benchZones)])})
			team.Members = append(team.Members, name)
			zones[name] = cfg.People[len(cfg.People)-1].TimeZone
		}
		cfg.Teams = append(cfg.Teams, team)
		cfg.Rotations = append(cfg.Rotations, rotation.Rotation{Name: team.Name + "-primary", Team: team.Name,
			Members: team.Members, Shift: rotation.Shift{Days: 1}, Start: first.In(loc), TimeZone: loc})
		cfg.Escalation = append(cfg.Escalation, rotation.EscalationPolicy{Team: team.Name,
			Steps: []rotation.Step{{Targets: []rotation.Target{{Rotation: team.Name + "-primary"}}}}})
	}
	cfg.Routes = []rotation.Route{{Name: "default", Team: "team00", Urgency: rotation.UrgencyPage, Default: true}}
	oncall := rotationstore.New(db)
	if _, err := oncall.Apply(ctx, cfg, false); err != nil {
		b.Fatal(err)
	}

	ins := &bulk{b: b, db: db}
	for t := range benchTeams {
		for a := range benchAlerts {
			id := t*benchAlerts + a + 1
			ins.row("alerts", "id, fingerprint, alertname, labels, annotations, generator_url, receiver, group_key, first_seen, last_seen",
				id, fmt.Sprintf("%016x", id), fmt.Sprintf("Rule%02d", a%benchRules), "{}", "{}", "", "r", "g", 0, 0)
		}
	}
	ins.flush()
	perTeam := episodes / benchTeams
	incident := 0
	for t := range benchTeams {
		team := cfg.Teams[t]
		// one start per episode, in time order, so incidents group neighbours
		starts := make([]time.Duration, perTeam)
		for i := range starts {
			starts[i] = time.Duration(rnd.Int64N(int64(span)))
		}
		slices.Sort(starts)
		var open, resolved time.Time
		for i, off := range starts {
			start := first.Add(off).Add(time.Duration(i%1000) * time.Microsecond) // distinct per alert
			alert := t*benchAlerts + rnd.IntN(benchAlerts) + 1
			end := start.Add(time.Duration(1+rnd.IntN(60)) * time.Minute)
			if i%benchPerInc == 0 {
				incident++
				open, resolved = start, start.Add(30*time.Minute)
				var acked any
				if rnd.IntN(10) < 7 {
					acked = open.Add(time.Duration(1+rnd.IntN(20)) * time.Minute).UnixMicro()
				}
				ins.row("incidents", "id, group_hash, receiver, group_key, title, common_labels, state, opened_at, acknowledged_at, resolved_at, team, urgency",
					incident, fmt.Sprintf("h%d", incident), "r", "g", "t", "{}", "resolved", open.UnixMicro(), acked, resolved.UnixMicro(), team.Name, "page")
				person := team.Members[rnd.IntN(len(team.Members))]
				steps := 1
				if rnd.IntN(10) == 0 {
					steps = 2
				}
				for step := range steps {
					at := open.Add(time.Duration(step) * 15 * time.Minute)
					ins.row("interruptions", "incident_id, opening, step, round, person, team, at, band",
						incident, 1, step, 0, person, team.Name, at.UnixMicro(), string(rotation.Classify(at, zones[person])))
					ins.row("pages", "incident_id, opening, step, round, person, channel, status, updated_at",
						incident, 1, step, 0, person, "email", "sent", at.UnixMicro())
				}
				ins.row("pages", "incident_id, opening, step, round, person, channel, status, updated_at",
					incident, 1, 0, 0, "", "slack", "sent", open.UnixMicro())
			}
			ins.row("episodes", "alert_id, starts_at, ends_at, state, notifications, first_received, last_received, incident_id",
				alert, start.UnixMicro(), end.UnixMicro(), "resolved", 1, start.UnixMicro(), start.UnixMicro(), incident)
		}
	}
	ins.flush()
	if db.Dialect == migrations.Postgres {
		for _, q := range []string{`SELECT setval(pg_get_serial_sequence('alerts', 'id'), (SELECT MAX(id) FROM alerts))`,
			`SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT MAX(id) FROM incidents))`, `ANALYZE`} {
			if err := db.Gorm.Exec(q).Error; err != nil {
				b.Fatal(err)
			}
		}
	} else if err := db.Gorm.Exec(`ANALYZE`).Error; err != nil {
		b.Fatal(err)
	}
	return oncall
}

// bulk inserts rows in multi-row statements, table by table, in
// transactions of many statements.
type bulk struct {
	b       *testing.B
	db      *migrations.DB
	pending map[string]*pendingRows
	order   []string
}

type pendingRows struct {
	columns string
	args    []any
	rows    int
}

const bulkRows = 400

func (u *bulk) row(table, columns string, values ...any) {
	if u.pending == nil {
		u.pending = map[string]*pendingRows{}
	}
	p := u.pending[table]
	if p == nil {
		p = &pendingRows{columns: columns}
		u.pending[table] = p
		u.order = append(u.order, table)
	}
	p.args = append(p.args, values...)
	p.rows++
	if p.rows == bulkRows && table != "incidents" {
		// incidents go first: other rows refer to them
		u.write("incidents")
		u.write(table)
	}
}

func (u *bulk) write(table string) {
	p := u.pending[table]
	if p == nil || p.rows == 0 {
		return
	}
	width := strings.Count(p.columns, ",") + 1
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	values := strings.TrimSuffix(strings.Repeat(one+",", p.rows), ",")
	overriding := ""
	if u.db.Dialect == migrations.Postgres && (table == "alerts" || table == "incidents") {
		overriding = " OVERRIDING SYSTEM VALUE"
	}
	q := "INSERT INTO " + table + " (" + p.columns + ")" + overriding + " VALUES " + values + " ON CONFLICT DO NOTHING"
	if err := u.db.Gorm.Exec(q, p.args...).Error; err != nil {
		u.b.Fatalf("%s: %v", table, err)
	}
	p.args, p.rows = p.args[:0], 0
}

func (u *bulk) flush() {
	u.write("incidents")
	for _, t := range u.order {
		u.write(t)
	}
}
