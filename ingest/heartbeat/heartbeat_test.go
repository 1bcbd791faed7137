package heartbeat_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/ingest/heartbeat"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// oncallYAML routes the heartbeat's alert to team ops, paging; everything
// else, the Watchdog included, is a digest.
const oncallYAML = `people:
  - name: alice
    email: alice@example.com
    time_zone: Europe/Berlin
teams:
  - name: ops
    time_zone: UTC
    members: [alice]
rotations:
  - name: primary
    team: ops
    members: [alice]
    shift: 1w
    start: "2026-11-02T09:00"
escalation:
  - team: ops
    steps:
      - delay: 0m
        rotation: primary
routes:
  - name: heartbeats
    matchers: ['alertname="QuietpagerHeartbeatMissing"']
    team: ops
    urgency: page
  - name: rest
    default: true
    team: ops
    urgency: digest
heartbeats:
  - name: prometheus-watchdog
    matchers: ['alertname="Watchdog"', 'prometheus="eu"']
    interval: 5m
    labels: {severity: critical, env: prod}
`

// clock is the injected clock, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// replica is one quietpager's write path and checker on a shared database.
type replica struct {
	alerts  *dedupestore.Store
	batcher *ingest.Batcher
	checker *heartbeat.Checker
	reg     *prometheus.Registry
}

func newReplica(t testing.TB, db *migrations.DB, clk *clock) *replica {
	t.Helper()
	oncall := rotationstore.New(db)
	routes := &paging.Routes{Store: oncall, Defaults: dedupe.DefaultPolicy}
	if err := routes.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &replica{alerts: dedupestore.New(db, dedupestore.Options{Policies: routes})}
	r.batcher = ingest.NewBatcher(ingest.BatcherOptions{Writer: r.alerts})
	r.batcher.Start()
	t.Cleanup(r.batcher.Stop)
	r.reg = prometheus.NewRegistry()
	r.checker = heartbeat.New(heartbeat.Options{Config: oncall, Store: r.alerts, Submit: r.batcher,
		Interval: 15 * time.Second, Now: clk.Now, Metrics: heartbeat.NewMetrics(r.reg)})
	return r
}

// apply makes the database's configuration yaml and returns its heartbeats
// as stored, with the instant each counts from.
func apply(t testing.TB, db *migrations.DB, yaml string) []rotation.Heartbeat {
	t.Helper()
	cfg, err := rotation.ParseConfig([]byte(yaml), "oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := rotationstore.New(db)
	if _, err := s.Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	hbs, err := s.Heartbeats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return hbs
}

var watchdog = map[string]string{"alertname": "Watchdog", "prometheus": "eu", "severity": "none"}

// deliver submits the Watchdog as Alertmanager would, firing since start.
func (r *replica) deliver(t testing.TB, labels map[string]string, start, at time.Time) {
	t.Helper()
	err := r.batcher.Submit(context.Background(), []dedupe.Received{{
		Fingerprint: dedupe.Fingerprint(labels), Labels: labels, Receiver: "web.hook",
		GroupKey: `{}:{alertname="Watchdog"}`, StartsAt: start, ReceivedAt: at,
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// lastSeen scrapes quietpager_heartbeat_last_seen_seconds, by heartbeat.
func (r *replica) lastSeen(t *testing.T) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]float64{}
	const prefix = `quietpager_heartbeat_last_seen_seconds{heartbeat="`
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			name, value, _ := strings.Cut(rest, `"} `)
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			out[name] = v
		}
	}
	return out
}

// heard applies oncallYAML and returns a replica whose clock stands at t0,
// just after the heartbeat was configured, when the Watchdog (firing for
// an hour) has just been received.
func heard(t *testing.T, db *migrations.DB) (t0 time.Time, clk *clock, r *replica) {
	t.Helper()
	apply(t, db, oncallYAML)
	t0 = time.Now().UTC().Truncate(time.Second).Add(time.Second)
	clk = &clock{now: t0}
	r = newReplica(t, db, clk)
	r.deliver(t, watchdog, t0.Add(-time.Hour), t0)
	return t0, clk, r
}

// summary returns the summary annotation of the alert with fingerprint fp.
func (r *replica) summary(t *testing.T, fp string) string {
	t.Helper()
	alerts, err := r.alerts.Alerts(context.Background(), dedupe.AlertQuery{Limit: 100}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if a.Fingerprint == fp {
			return a.Annotations["summary"]
		}
	}
	t.Fatalf("no alert %s", fp)
	return ""
}

func (r *replica) check(t *testing.T) {
	t.Helper()
	if err := r.checker.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// missing returns the heartbeat alerts' firing episodes.
func (r *replica) missing(t *testing.T) []dedupe.FiringEpisode {
	t.Helper()
	eps, err := r.alerts.FiringEpisodes(context.Background(), rotation.HeartbeatAlertname)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// heartbeatIncidents returns the incidents the heartbeat alert opened.
func (r *replica) heartbeatIncidents(t *testing.T) []dedupe.Incident {
	t.Helper()
	list, err := r.alerts.Incidents(context.Background(), dedupe.IncidentQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []dedupe.Incident
	for _, in := range list {
		if in.Title == rotation.HeartbeatAlertname {
			out = append(out, in)
		}
	}
	return out
}

func TestHeartbeatStopsAndComesBack(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		t0, clk, r := heard(t, db)
		// Heard, and repeated within the interval: nothing is missing.
		// A Watchdog of another Prometheus does not count.
		clk.Set(t0.Add(4 * time.Minute))
		r.deliver(t, watchdog, t0.Add(-time.Hour), clk.Now())
		r.deliver(t, map[string]string{"alertname": "Watchdog", "prometheus": "us"}, t0, t0.Add(8*time.Minute))
		clk.Set(t0.Add(8 * time.Minute))
		r.check(t)
		if got := r.missing(t); len(got) != 0 {
			t.Fatalf("heartbeat heard 4 minutes ago, interval 5m: missing alerts %+v", got)
		}
		if got := r.lastSeen(t)["prometheus-watchdog"]; got != float64(t0.Add(4*time.Minute).Unix()) {
			t.Errorf("quietpager_heartbeat_last_seen_seconds = %v, want %d", got, t0.Add(4*time.Minute).Unix())
		}

		// Five minutes after the last one: the heartbeat's alert fires,
		// from the moment it went missing, and routes like any alert.
		clk.Set(t0.Add(9*time.Minute + 10*time.Second))
		r.check(t)
		got := r.missing(t)
		if len(got) != 1 {
			t.Fatalf("after 5m without the Watchdog: %d missing alerts, want 1: %+v", len(got), got)
		}
		wantLabels := map[string]string{"alertname": rotation.HeartbeatAlertname, "heartbeat": "prometheus-watchdog",
			"severity": "critical", "env": "prod"}
		if e := got[0]; !e.StartsAt.Equal(t0.Add(9*time.Minute)) || !maps.Equal(e.Labels, wantLabels) {
			t.Errorf("missing alert %+v, want labels %v starting at %s", e, wantLabels, t0.Add(9*time.Minute))
		}
		incidents := r.heartbeatIncidents(t)
		if len(incidents) != 1 || incidents[0].State != dedupe.IncidentOpen || incidents[0].Team != "ops" || incidents[0].Urgency != "page" {
			t.Fatalf("incidents %+v, want one open, for team ops, paging", incidents)
		}
		fp := got[0].Fingerprint
		if s, want := r.summary(t, fp), "since "+t0.Add(4*time.Minute).Format(time.RFC3339); !strings.Contains(s, want) {
			t.Errorf("summary %q does not say since when nothing arrived (%s)", s, want)
		}

		// Later passes keep the one episode; they do not re-send it.
		clk.Set(t0.Add(12 * time.Minute))
		r.check(t)
		eps, err := r.alerts.Episodes(context.Background(), fp, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) != 1 || eps[0].Notifications != 1 || eps[0].State != dedupe.Firing {
			t.Errorf("episodes after another pass: %+v, want one firing, one notification", eps)
		}

		// The Watchdog is back: the alert resolves, and with it the incident.
		r.deliver(t, watchdog, t0.Add(-time.Hour), t0.Add(13*time.Minute))
		clk.Set(t0.Add(13*time.Minute + 5*time.Second))
		r.check(t)
		if got := r.missing(t); len(got) != 0 {
			t.Fatalf("Watchdog back: still missing %+v", got)
		}
		eps, err = r.alerts.Episodes(context.Background(), fp, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) != 1 || eps[0].State != dedupe.Resolved || eps[0].EndsAt == nil || !eps[0].EndsAt.Equal(clk.Now()) {
			t.Errorf("episodes after the Watchdog came back: %+v, want one, resolved at %s", eps, clk.Now())
		}
		if s := r.summary(t, fp); !strings.Contains(s, "is back") {
			t.Errorf("resolved alert's summary %q does not say the heartbeat is back", s)
		}
		if in := r.heartbeatIncidents(t); len(in) != 1 || in[0].State != dedupe.IncidentResolved {
			t.Errorf("incidents after the Watchdog came back: %+v, want the one resolved", in)
		}
	})
}

// A Watchdog that Alertmanager resolved has stopped: the heartbeat counts
// from its end, not from when the resolve arrived.
func TestResolvedHeartbeatIsMissing(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		t0, clk, r := heard(t, db)
		end := t0.Add(time.Minute)
		err := r.batcher.Submit(context.Background(), []dedupe.Received{{
			Fingerprint: dedupe.Fingerprint(watchdog), Labels: watchdog, Receiver: "web.hook",
			StartsAt: t0.Add(-time.Hour), EndsAt: end, Resolved: true, ReceivedAt: t0.Add(4 * time.Minute),
		}})
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(6*time.Minute + time.Second))
		r.check(t)
		if got := r.missing(t); len(got) != 1 || !got[0].StartsAt.Equal(end.Add(5*time.Minute)) {
			t.Fatalf("missing alerts %+v, want one from %s (5m after the Watchdog ended)", got, end.Add(5*time.Minute))
		}
	})
}

// A checker that just started gives the heartbeat one interval to be
// heard; a heartbeat never heard counts from when it was configured.
func TestNeverHeardAfterStartGrace(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		hbs := apply(t, db, oncallYAML)
		configured := hbs[0].Since
		// quietpager (re)starts an hour after the heartbeat was configured.
		start := configured.Add(time.Hour)
		clk := &clock{now: start}
		r := newReplica(t, db, clk)
		clk.Set(start.Add(4 * time.Minute))
		r.check(t)
		if got := r.missing(t); len(got) != 0 {
			t.Fatalf("4 minutes after start: missing alerts %+v, want none before one interval passed", got)
		}
		if got, ok := r.lastSeen(t)["prometheus-watchdog"]; !ok || got != 0 {
			t.Errorf("never heard: quietpager_heartbeat_last_seen_seconds = %v, want 0", got)
		}
		clk.Set(start.Add(5*time.Minute + time.Second))
		r.check(t)
		got := r.missing(t)
		if len(got) != 1 || !got[0].StartsAt.Equal(configured.Add(5*time.Minute)) {
			t.Fatalf("missing alerts %+v, want one from %s (5m after it was configured)", got, configured.Add(5*time.Minute))
		}
	})
}

// Changing a heartbeat's labels resolves the alert under the old labels
// and raises it under the new; deleting the heartbeat resolves it.
func TestReconfiguredHeartbeat(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		hbs := apply(t, db, oncallYAML)
		clk := &clock{now: hbs[0].Since}
		r := newReplica(t, db, clk)
		clk.Set(hbs[0].Since.Add(6 * time.Minute))
		r.check(t)
		before := r.missing(t)
		if len(before) != 1 {
			t.Fatalf("missing alerts %+v, want 1", before)
		}
		apply(t, db, strings.Replace(oncallYAML, "env: prod", "env: staging", 1))
		r.check(t)
		after := r.missing(t)
		if len(after) != 1 || after[0].Fingerprint == before[0].Fingerprint || after[0].Labels["env"] != "staging" {
			t.Fatalf("after relabelling: missing %+v, want one, with env=staging, not %+v", after, before)
		}
		if s := r.summary(t, before[0].Fingerprint); !strings.Contains(s, "labels changed") {
			t.Errorf("the alert under the old labels resolved with summary %q", s)
		}
		apply(t, db, oncallYAML[:strings.Index(oncallYAML, "heartbeats:")])
		r.check(t)
		if got := r.missing(t); len(got) != 0 {
			t.Fatalf("heartbeat deleted: still missing %+v", got)
		}
		if got := r.lastSeen(t); len(got) != 0 {
			t.Errorf("heartbeat deleted: quietpager_heartbeat_last_seen_seconds still has %v", got)
		}
	})
}

// Two replicas check the same database at the same moment: one alert, one
// episode, one incident.
func TestTwoReplicasRaiseOneAlert(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db *migrations.DB) {
		t0, clk, a := heard(t, db)
		b := newReplica(t, migrationstest.Open(t, dsn), clk)
		for i, at := range []time.Duration{6 * time.Minute, 6*time.Minute + 15*time.Second} {
			clk.Set(t0.Add(at))
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, r := range []*replica{a, b} {
				wg.Go(func() { errs <- r.checker.Check(context.Background()) })
			}
			wg.Wait()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			got := a.missing(t)
			if len(got) != 1 {
				t.Fatalf("pass %d: %d missing alerts, want 1: %+v", i+1, len(got), got)
			}
			eps, err := b.alerts.Episodes(context.Background(), got[0].Fingerprint, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(eps) != 1 {
				t.Errorf("pass %d: %d episodes, want 1: %+v", i+1, len(eps), eps)
			}
			if in := b.heartbeatIncidents(t); len(in) != 1 {
				t.Errorf("pass %d: %d incidents, want 1: %+v", i+1, len(in), in)
			}
		}
	})
}

// BenchmarkCheck is one pass over a database of 20,000 other alerts and
// 50 Watchdogs (one per Prometheus), the heartbeat alive: what every
// replica pays every 15 s.
func BenchmarkCheck(b *testing.B) {
	db := migrationstest.Open(b, migrationstest.DSN(b, migrations.SQLite))
	apply(b, db, oncallYAML)
	t0 := time.Now().UTC().Add(time.Second)
	r := newReplica(b, db, &clock{now: t0})
	for batch := range 20 {
		recs := make([]dedupe.Received, 0, 1000)
		for i := range 1000 {
			ls := map[string]string{"alertname": fmt.Sprintf("Rule%d", i%100), "instance": fmt.Sprintf("host-%d-%d", batch, i)}
			recs = append(recs, dedupe.Received{Fingerprint: dedupe.Fingerprint(ls), Labels: ls, Receiver: "web.hook",
				GroupKey: "g", StartsAt: t0.Add(-time.Hour), ReceivedAt: t0})
		}
		if err := r.batcher.Submit(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 50 {
		r.deliver(b, map[string]string{"alertname": "Watchdog", "prometheus": fmt.Sprint("p", i)}, t0.Add(-time.Hour), t0)
	}
	r.deliver(b, watchdog, t0.Add(-time.Hour), t0)
	for b.Loop() {
		if err := r.checker.Check(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
