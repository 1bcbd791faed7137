package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

var (
	t0  = time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	now = t0.Add(24 * time.Hour) // when the tests read
)

func diskFull(instance string) map[string]string {
	return map[string]string{"alertname": "DiskFull", "instance": instance, "severity": "critical", "team": "storage"}
}

// firing is one delivery of a firing alert.
func firing(labels map[string]string, startsAt, receivedAt time.Time) dedupe.Received {
	return dedupe.Received{
		Fingerprint: dedupe.Fingerprint(labels),
		Labels:      labels,
		Annotations: map[string]string{"summary": "disk almost full"},
		Receiver:    "web.hook",
		GroupKey:    `{}:{alertname="DiskFull"}`,
		StartsAt:    startsAt,
		ReceivedAt:  receivedAt,
	}
}

// resolved is one delivery of a resolved alert.
func resolved(labels map[string]string, startsAt, endsAt, receivedAt time.Time) dedupe.Received {
	r := firing(labels, startsAt, receivedAt)
	r.Resolved, r.EndsAt = true, endsAt
	return r
}

func write(t *testing.T, s *sqlstore.Store, recs ...dedupe.Received) dedupe.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), dedupe.Fold(recs))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func episodes(t *testing.T, s *sqlstore.Store, fp string) []dedupe.Episode {
	t.Helper()
	eps, err := s.Episodes(context.Background(), fp, 100)
	if err != nil {
		t.Fatalf("Episodes(%s): %v", fp, err)
	}
	return eps
}

func alerts(t *testing.T, s *sqlstore.Store, q dedupe.AlertQuery) []dedupe.Alert {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 1000
	}
	as, err := s.Alerts(context.Background(), q, now)
	if err != nil {
		t.Fatalf("Alerts(%+v): %v", q, err)
	}
	return as
}

func oneAlert(t *testing.T, s *sqlstore.Store, fp string) dedupe.Alert {
	t.Helper()
	for _, a := range alerts(t, s, dedupe.AlertQuery{}) {
		if a.Fingerprint == fp {
			return a
		}
	}
	t.Fatalf("alert %s not listed", fp)
	return dedupe.Alert{}
}

func matchers(t *testing.T, s string) []*labels.Matcher {
	t.Helper()
	ms, err := labels.ParseMatchers(s)
	if err != nil {
		t.Fatalf("ParseMatchers(%q): %v", s, err)
	}
	return ms
}

func wantResult(t *testing.T, got dedupe.WriteResult, newEpisodes, folded, resolved int) {
	t.Helper()
	if got.NewEpisodes != newEpisodes || got.Folded != folded || got.Resolved != resolved {
		t.Errorf("WriteResult new/folded/resolved = %d/%d/%d, want %d/%d/%d",
			got.NewEpisodes, got.Folded, got.Resolved, newEpisodes, folded, resolved)
	}
}

// wantEpisode checks one listed episode; a zero endsAt means still firing.
func wantEpisode(t *testing.T, got dedupe.Episode, startsAt, endsAt time.Time, notifications int) {
	t.Helper()
	if !got.StartsAt.Equal(startsAt) {
		t.Errorf("episode starts_at = %v, want %v", got.StartsAt, startsAt)
	}
	if got.Notifications != notifications {
		t.Errorf("episode %v: notifications = %d, want %d", startsAt, got.Notifications, notifications)
	}
	if endsAt.IsZero() {
		if got.State != dedupe.Firing || got.EndsAt != nil {
			t.Errorf("episode %v: state %s, ends_at %v; want firing with no ends_at", startsAt, got.State, got.EndsAt)
		}
		return
	}
	if got.State != dedupe.Resolved || got.EndsAt == nil || !got.EndsAt.Equal(endsAt) {
		t.Errorf("episode %v: state %s, ends_at %v; want resolved at %v", startsAt, got.State, got.EndsAt, endsAt)
	}
}

// contract runs f on a fresh store of each dialect.
func contract(t *testing.T, f func(t *testing.T, s *sqlstore.Store, db *migrations.DB)) {
	t.Helper()
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		f(t, sqlstore.New(db, sqlstore.Options{}), db)
	})
}

func TestNewEpisode(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		fp := dedupe.Fingerprint(a)
		wantResult(t, write(t, s, firing(a, t0, t0.Add(time.Second))), 1, 0, 0)

		eps := episodes(t, s, fp)
		if len(eps) != 1 {
			t.Fatalf("got %d episodes, want 1", len(eps))
		}
		wantEpisode(t, eps[0], t0, time.Time{}, 1)
		al := oneAlert(t, s, fp)
		if al.State != dedupe.Firing || al.Episodes != 1 {
			t.Errorf("alert state %s with %d episodes, want firing with 1", al.State, al.Episodes)
		}
	})
}

func TestRepeatNotificationFolds(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		fp := dedupe.Fingerprint(a)
		wantResult(t, write(t, s, firing(a, t0, t0.Add(time.Second))), 1, 0, 0)
		// Alertmanager re-sends the unchanged group at repeat_interval.
		wantResult(t, write(t, s, firing(a, t0, t0.Add(4*time.Hour))), 0, 1, 0)

		eps := episodes(t, s, fp)
		if len(eps) != 1 {
			t.Fatalf("got %d episodes after a repeat notification, want 1", len(eps))
		}
		wantEpisode(t, eps[0], t0, time.Time{}, 2)
		if al := oneAlert(t, s, fp); al.Episodes != 1 || !al.LastSeen.Equal(t0.Add(4*time.Hour)) {
			t.Errorf("alert: %d episodes, last seen %v; want 1 and %v", al.Episodes, al.LastSeen, t0.Add(4*time.Hour))
		}
	})
}

func TestHADuplicate(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a, b := diskFull("db-1"), diskFull("db-2")
		// Each Alertmanager of an HA pair sends the same notification; at
		// the store they are the same Received. Once in one batch...
		wantResult(t, write(t, s, firing(a, t0, t0.Add(time.Second)), firing(a, t0, t0.Add(time.Second))), 1, 1, 0)
		// ...and once in two batches.
		wantResult(t, write(t, s, firing(b, t0, t0.Add(time.Second))), 1, 0, 0)
		wantResult(t, write(t, s, firing(b, t0, t0.Add(time.Second))), 0, 1, 0)
		// A resolve from both peers counts as one resolve.
		end := t0.Add(10 * time.Minute)
		wantResult(t, write(t, s, resolved(b, t0, end, end), resolved(b, t0, end, end.Add(time.Millisecond))), 0, 2, 1)

		for _, ls := range []map[string]string{a, b} {
			eps := episodes(t, s, dedupe.Fingerprint(ls))
			if len(eps) != 1 {
				t.Fatalf("%v: got %d episodes, want 1", ls, len(eps))
			}
		}
		wantEpisode(t, episodes(t, s, dedupe.Fingerprint(a))[0], t0, time.Time{}, 2)
		wantEpisode(t, episodes(t, s, dedupe.Fingerprint(b))[0], t0, end, 4)
	})
}

func TestResolvedBeforeFiringStaysResolved(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		fp := dedupe.Fingerprint(a)
		end := t0.Add(3 * time.Minute)
		wantResult(t, write(t, s, resolved(a, t0, end, end.Add(time.Second))), 1, 0, 1)
		// The firing notification was delayed and arrives last.
		wantResult(t, write(t, s, firing(a, t0, t0.Add(time.Second))), 0, 1, 0)

		eps := episodes(t, s, fp)
		if len(eps) != 1 {
			t.Fatalf("got %d episodes, want 1", len(eps))
		}
		wantEpisode(t, eps[0], t0, end, 2)
		if al := oneAlert(t, s, fp); al.State != dedupe.Resolved {
			t.Errorf("alert state = %s after a late firing of a resolved episode, want resolved", al.State)
		}
		if got := alerts(t, s, dedupe.AlertQuery{State: dedupe.Firing}); len(got) != 0 {
			t.Errorf("firing alerts = %d, want 0", len(got))
		}
	})
}

func TestNewStartClosesOldEpisode(t *testing.T) {
	t1 := t0.Add(2 * time.Hour)
	cases := []struct {
		name  string
		order []time.Time // startsAt of each firing, in delivery order
	}{
		{"in order", []time.Time{t0, t1}},
		{"older firing arrives late", []time.Time{t1, t0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
				a := diskFull("db-1")
				fp := dedupe.Fingerprint(a)
				for i, start := range c.order {
					wantResult(t, write(t, s, firing(a, start, t1.Add(time.Duration(i)*time.Minute))), 1, 0, 0)
				}
				eps := episodes(t, s, fp)
				if len(eps) != 2 {
					t.Fatalf("got %d episodes, want 2", len(eps))
				}
				// Newest first: the new one fires, the old one ended when it began.
				wantEpisode(t, eps[0], t1, time.Time{}, 1)
				wantEpisode(t, eps[1], t0, t1, 1)
				al := oneAlert(t, s, fp)
				if al.State != dedupe.Firing || al.Episodes != 2 {
					t.Errorf("alert state %s with %d episodes, want firing with 2", al.State, al.Episodes)
				}
			})
		})
	}
	t.Run("three starts close each at the next", func(t *testing.T) {
		contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
			a := diskFull("db-1")
			t2 := t1.Add(time.Hour)
			write(t, s, firing(a, t0, t0))
			write(t, s, firing(a, t2, t2))
			write(t, s, firing(a, t1, t2.Add(time.Second))) // the middle one, late
			eps := episodes(t, s, dedupe.Fingerprint(a))
			if len(eps) != 3 {
				t.Fatalf("got %d episodes, want 3", len(eps))
			}
			wantEpisode(t, eps[0], t2, time.Time{}, 1)
			wantEpisode(t, eps[1], t1, t2, 1)
			wantEpisode(t, eps[2], t0, t1, 1)
		})
	})
}

// An episode closed because a newer one began had its end inferred; when
// its real resolve arrives afterwards, the real endsAt is the truth (it
// decides whether the episode was transient, and what-if replays).
func TestLateResolveCorrectsInferredEnd(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		t1 := t0.Add(2 * time.Hour)
		realEnd := t0.Add(3 * time.Minute)
		write(t, s, firing(a, t0, t0))
		write(t, s, firing(a, t1, t1)) // the resolve of t0 was lost... for now
		wantResult(t, write(t, s, resolved(a, t0, realEnd, t1.Add(time.Minute))), 0, 1, 0)
		eps := episodes(t, s, dedupe.Fingerprint(a))
		if len(eps) != 2 {
			t.Fatalf("got %d episodes, want 2", len(eps))
		}
		wantEpisode(t, eps[1], t0, realEnd, 2)
	})
}

func TestAlertsQuery(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		mk := func(name, severity, team string) map[string]string {
			return map[string]string{"alertname": name, "severity": severity, "team": team}
		}
		diskA := mk("DiskFull", "critical", "a")
		diskB := mk("DiskFull", "warning", "b")
		cpuA := mk("HighCPU", "critical-ish", "a")
		memB := mk("OOM", "critical", "b")
		// diskA fires and stays firing, with two deliveries minutes apart.
		write(t, s, firing(diskA, t0, t0.Add(time.Minute)))
		write(t, s, firing(diskA, t0, t0.Add(5*time.Minute)))
		// diskB fired and resolved.
		write(t, s, firing(diskB, t0, t0.Add(2*time.Minute)), resolved(diskB, t0, t0.Add(3*time.Minute), t0.Add(3*time.Minute)))
		// cpuA: an old resolved episode and a new firing one.
		write(t, s, resolved(cpuA, t0, t0.Add(time.Minute), t0.Add(time.Minute)))
		write(t, s, firing(cpuA, t0.Add(time.Hour), t0.Add(time.Hour)))
		// memB: two episodes, both resolved.
		write(t, s, resolved(memB, t0, t0.Add(time.Minute), t0.Add(4*time.Minute)),
			resolved(memB, t0.Add(10*time.Minute), t0.Add(11*time.Minute), t0.Add(11*time.Minute)))

		fps := func(as []dedupe.Alert) []string {
			out := []string{}
			for _, a := range as {
				out = append(out, a.Labels["alertname"]+"/"+a.Labels["team"])
			}
			return out
		}
		cases := []struct {
			name string
			q    dedupe.AlertQuery
			want []string // most recently seen first
		}{
			{"all", dedupe.AlertQuery{}, []string{"HighCPU/a", "OOM/b", "DiskFull/a", "DiskFull/b"}},
			{"firing", dedupe.AlertQuery{State: dedupe.Firing}, []string{"HighCPU/a", "DiskFull/a"}},
			{"resolved", dedupe.AlertQuery{State: dedupe.Resolved}, []string{"OOM/b", "DiskFull/b"}},
			{"alertname equals", dedupe.AlertQuery{Matchers: matchers(t, `alertname="DiskFull"`)}, []string{"DiskFull/a", "DiskFull/b"}},
			{"severity regexp (anchored)", dedupe.AlertQuery{Matchers: matchers(t, `severity=~"crit.*"`)}, []string{"HighCPU/a", "OOM/b", "DiskFull/a"}},
			{"severity regexp exact", dedupe.AlertQuery{Matchers: matchers(t, `severity=~"critical"`)}, []string{"OOM/b", "DiskFull/a"}},
			{"team not equal", dedupe.AlertQuery{Matchers: matchers(t, `team!="a"`)}, []string{"OOM/b", "DiskFull/b"}},
			{"missing label negative regexp", dedupe.AlertQuery{Matchers: matchers(t, `nosuch!~".+"`)}, []string{"HighCPU/a", "OOM/b", "DiskFull/a", "DiskFull/b"}},
			{"several matchers and state", dedupe.AlertQuery{State: dedupe.Firing, Matchers: matchers(t, `{alertname="DiskFull", team!="b"}`)}, []string{"DiskFull/a"}},
			{"no match", dedupe.AlertQuery{Matchers: matchers(t, `team="nobody"`)}, []string{}},
			{"limit", dedupe.AlertQuery{Limit: 2}, []string{"HighCPU/a", "OOM/b"}},
			{"limit after matchers", dedupe.AlertQuery{Limit: 1, Matchers: matchers(t, `team="b"`)}, []string{"OOM/b"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := fps(alerts(t, s, c.q)); !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
			})
		}

		byName := map[string]dedupe.Alert{}
		for _, a := range alerts(t, s, dedupe.AlertQuery{}) {
			byName[a.Labels["alertname"]+"/"+a.Labels["team"]] = a
		}
		counts := []struct {
			key         string
			episodes    int
			state       dedupe.State
			first, last time.Time
		}{
			{"DiskFull/a", 1, dedupe.Firing, t0.Add(time.Minute), t0.Add(5 * time.Minute)},
			{"DiskFull/b", 1, dedupe.Resolved, t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)},
			{"HighCPU/a", 2, dedupe.Firing, t0.Add(time.Minute), t0.Add(time.Hour)},
			{"OOM/b", 2, dedupe.Resolved, t0.Add(4 * time.Minute), t0.Add(11 * time.Minute)},
		}
		for _, c := range counts {
			a := byName[c.key]
			if a.Episodes != c.episodes || a.State != c.state {
				t.Errorf("%s: %d episodes, %s; want %d, %s", c.key, a.Episodes, a.State, c.episodes, c.state)
			}
			if !a.FirstSeen.Equal(c.first) || !a.LastSeen.Equal(c.last) {
				t.Errorf("%s: first/last seen %v / %v, want %v / %v", c.key, a.FirstSeen, a.LastSeen, c.first, c.last)
			}
		}
	})
}

func TestEpisodesNewestFirst(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		fp := dedupe.Fingerprint(a)
		var recs []dedupe.Received
		for i := 0; i < 5; i++ {
			start := t0.Add(time.Duration(i) * time.Hour)
			recs = append(recs, resolved(a, start, start.Add(time.Minute), start.Add(time.Minute)))
		}
		last := t0.Add(5 * time.Hour)
		recs = append(recs, firing(a, last, last))
		write(t, s, recs...)

		eps := episodes(t, s, fp)
		if len(eps) != 6 {
			t.Fatalf("got %d episodes, want 6", len(eps))
		}
		wantEpisode(t, eps[0], last, time.Time{}, 1)
		for i := 1; i < 6; i++ {
			start := t0.Add(time.Duration(5-i) * time.Hour)
			wantEpisode(t, eps[i], start, start.Add(time.Minute), 1)
		}
		limited, err := s.Episodes(context.Background(), fp, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(limited) != 2 || !limited[0].StartsAt.Equal(last) {
			t.Errorf("Episodes limit 2: got %d, first %v; want the 2 newest", len(limited), limited)
		}
		if none := episodes(t, s, "0000000000000000"); len(none) != 0 {
			t.Errorf("unknown fingerprint: got %d episodes, want none", len(none))
		}
	})
}

func TestLabelsRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		want        map[string]string // annotations as listed
	}{
		{"plain", map[string]string{"alertname": "DiskFull", "instance": "db-1:9100"},
			map[string]string{"summary": "disk 95% full", "runbook_url": "https://runbooks.example/disk?x=1&y=2"}, nil},
		{"unicode", map[string]string{"alertname": "Zażółć_gęślą", "city": "東京", "mood": "🔥🧯"},
			map[string]string{"description": "Ünïcödé — “quotes” and 😴 at 3 a.m."}, nil},
		{"characters JSON and SQL care about", map[string]string{"alertname": "Quote", "q": `it's "quoted" \ back\slash`, "sql": "'); DROP TABLE alerts; --"},
			map[string]string{"multi": "line one\nline two\ttabbed\r\n", "html": "<b>&amp;</b>"}, nil},
		// PostgreSQL receives a batch's columns as arrays.
		{"characters array literals care about", map[string]string{"alertname": "NULL", "set": `{a,"b"}`, "comma": "a,b", "brace": "}"},
			map[string]string{"summary": "NULL", "list": `{"x": [1, 2]}`}, nil},
		{"empty annotations", map[string]string{"alertname": "NoAnnotations"}, map[string]string{}, map[string]string{}},
		{"nil annotations", map[string]string{"alertname": "NilAnnotations"}, nil, map[string]string{}},
		{"empty annotation value", map[string]string{"alertname": "EmptyValue"}, map[string]string{"summary": ""}, nil},
		{"long value", map[string]string{"alertname": "Long"}, map[string]string{"description": string(make([]byte, 0)) + longText(20000)}, nil},
	}
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := firing(c.labels, t0, t0.Add(123456*time.Microsecond))
				r.Annotations = c.annotations
				r.GeneratorURL = "http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1"
				r.Receiver = `web\.hook`
				r.GroupKey = `{}/{team="storage"}:{alertname="DiskFull"}`
				write(t, s, r)
				got := oneAlert(t, s, r.Fingerprint)
				want := c.want
				if want == nil {
					want = c.annotations
				}
				if !reflect.DeepEqual(got.Labels, c.labels) {
					t.Errorf("labels = %#v, want %#v", got.Labels, c.labels)
				}
				if got.Annotations == nil || !reflect.DeepEqual(got.Annotations, want) {
					t.Errorf("annotations = %#v, want %#v (never nil: the API would show null)", got.Annotations, want)
				}
				if got.GeneratorURL != r.GeneratorURL || got.Receiver != r.Receiver || got.GroupKey != r.GroupKey {
					t.Errorf("generator/receiver/group = %q %q %q, want %q %q %q",
						got.GeneratorURL, got.Receiver, got.GroupKey, r.GeneratorURL, r.Receiver, r.GroupKey)
				}
				if !got.FirstSeen.Equal(r.ReceivedAt) || !got.LastSeen.Equal(r.ReceivedAt) {
					t.Errorf("first/last seen = %v / %v, want %v (to the microsecond)", got.FirstSeen, got.LastSeen, r.ReceivedAt)
				}
			})
		}
	})
}

func longText(n int) string {
	b := make([]rune, n)
	for i := range b {
		b[i] = rune('a' + i%26)
	}
	return string(b)
}

// A stale delivery (an older notification retried late) must not overwrite
// the newer description of the alert, and must not move last_seen back.
func TestStaleDeliveryDoesNotOverwrite(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		a := diskFull("db-1")
		newer := firing(a, t0, t0.Add(10*time.Minute))
		newer.Annotations = map[string]string{"summary": "95% full"}
		older := firing(a, t0, t0.Add(5*time.Minute))
		older.Annotations = map[string]string{"summary": "90% full"}
		earliest := firing(a, t0, t0.Add(time.Minute))
		earliest.Annotations = map[string]string{"summary": "85% full"}
		write(t, s, newer)
		write(t, s, older)
		write(t, s, earliest)
		got := oneAlert(t, s, newer.Fingerprint)
		if !reflect.DeepEqual(got.Annotations, newer.Annotations) {
			t.Errorf("annotations = %v, want the newest delivery's %v", got.Annotations, newer.Annotations)
		}
		if !got.LastSeen.Equal(newer.ReceivedAt) || !got.FirstSeen.Equal(earliest.ReceivedAt) {
			t.Errorf("first/last seen = %v / %v, want %v / %v", got.FirstSeen, got.LastSeen, earliest.ReceivedAt, newer.ReceivedAt)
		}
		wantEpisode(t, episodes(t, s, newer.Fingerprint)[0], t0, time.Time{}, 3)
	})
}

func TestLargeBatchCommitsFully(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, _ *migrations.DB) {
		const n = 1200 // more than two statements' worth of rows
		var recs []dedupe.Received
		for i := 0; i < n; i++ {
			ls := diskFull(fmt.Sprintf("host-%04d", i))
			recs = append(recs, firing(ls, t0, t0.Add(time.Duration(i)*time.Millisecond)))
			if i%3 == 0 { // a second episode for some: 1,600 episodes in all
				start := t0.Add(-time.Hour)
				recs = append(recs, resolved(ls, start, start.Add(time.Minute), t0))
			}
		}
		res := write(t, s, recs...)
		wantResult(t, res, n+n/3, 0, n/3)
		all := alerts(t, s, dedupe.AlertQuery{Limit: 10000})
		if len(all) != n {
			t.Fatalf("listed %d alerts, want %d", len(all), n)
		}
		firingCount, episodeCount := 0, 0
		for _, a := range all {
			episodeCount += a.Episodes
			if a.State == dedupe.Firing {
				firingCount++
			}
		}
		if firingCount != n || episodeCount != n+n/3 {
			t.Errorf("%d firing alerts and %d episodes, want %d and %d", firingCount, episodeCount, n, n+n/3)
		}
		// The same batch again folds into every episode.
		wantResult(t, write(t, s, recs...), 0, len(recs), 0)
		for _, i := range []int{0, 499, 500, 999, 1000, 1199} {
			eps := episodes(t, s, dedupe.Fingerprint(diskFull(fmt.Sprintf("host-%04d", i))))
			if want := 1 + btoi(i%3 == 0); len(eps) != want || eps[0].Notifications != 2 {
				t.Errorf("host-%04d: %d episodes (want %d), newest with %d notifications (want 2)", i, len(eps), want, eps[0].Notifications)
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Several writers (goroutines of one replica, and on PostgreSQL two
// replicas each with its own connection pool) write overlapping batches of
// the same alerts at once. Every delivery must count exactly once, every
// episode must exist exactly once, and the NewEpisodes the writers report
// must add up to the episodes that exist (the metric, and pages, depend on
// it).
func TestConcurrentWriters(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db *migrations.DB) {
		stores := []*sqlstore.Store{sqlstore.New(db, sqlstore.Options{})}
		if db.Dialect == migrations.Postgres {
			stores = append(stores, sqlstore.New(migrationstest.Open(t, dsn), sqlstore.Options{})) // a second replica
		}
		const (
			writers   = 8
			batches   = 15
			perBatch  = 40
			keys      = 60 // alerts; each has two episodes
			deadlineS = 120
		)
		type key struct {
			instance string
			start    time.Time
		}
		var (
			mu         sync.Mutex
			deliveries = map[key]int{}
			newEps     int
			opened     int
			folded     int
			errs       []error
			wg         sync.WaitGroup
		)
		ctx, cancel := context.WithTimeout(context.Background(), deadlineS*time.Second)
		defer cancel()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				store := stores[w%len(stores)]
				for b := 0; b < batches; b++ {
					var recs []dedupe.Received
					local := map[key]int{}
					for j := 0; j < perBatch; j++ {
						// Writers walk the keys from different offsets and
						// in different directions, so batches overlap.
						i := (w*7 + b*11 + j*(1+w%3)) % keys
						if w%2 == 1 {
							i = keys - 1 - i
						}
						k := key{fmt.Sprintf("host-%02d", i), t0.Add(time.Duration(j%2) * time.Hour)}
						recs = append(recs, firing(diskFull(k.instance), k.start, t0.Add(time.Duration(w*1000+b*50+j)*time.Millisecond)))
						local[k]++
					}
					res, err := store.Write(ctx, dedupe.Fold(recs))
					mu.Lock()
					if err != nil {
						var pgErr *pgconn.PgError
						if errors.As(err, &pgErr) { // PostgreSQL says which locks met
							err = fmt.Errorf("%w (detail: %s; where: %s)", err, pgErr.Detail, pgErr.Where)
						}
						errs = append(errs, fmt.Errorf("writer %d batch %d: %w", w, b, err))
					} else {
						for k, n := range local {
							deliveries[k] += n
						}
						newEps += res.NewEpisodes
						for _, inc := range res.Incidents {
							if inc.Opened || inc.Reopened {
								opened++
							}
						}
						folded += res.Folded
					}
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("writers did not finish within %d s: deadlock?", deadlineS)
		}
		for _, err := range errs {
			t.Error(err)
		}

		s := stores[0]
		total := 0
		perAlert := map[string]map[time.Time]int{}
		for k, n := range deliveries {
			total += n
			if perAlert[k.instance] == nil {
				perAlert[k.instance] = map[time.Time]int{}
			}
			perAlert[k.instance][k.start] = n
		}
		gotEpisodes := 0
		for instance, want := range perAlert {
			eps := episodes(t, s, dedupe.Fingerprint(diskFull(instance)))
			gotEpisodes += len(eps)
			if len(eps) != len(want) {
				t.Errorf("%s: %d episodes, want %d", instance, len(eps), len(want))
				continue
			}
			for _, e := range eps {
				if e.Notifications != want[e.StartsAt] {
					t.Errorf("%s episode %v: %d notifications, want %d deliveries", instance, e.StartsAt, e.Notifications, want[e.StartsAt])
				}
			}
		}
		if gotEpisodes != len(deliveries) {
			t.Errorf("%d episodes stored, want %d", gotEpisodes, len(deliveries))
		}
		// Every alert here is in one Alertmanager group: one incident, one page.
		if opened != 1 {
			t.Errorf("writers reported %d incidents opened, want 1 (each would page)", opened)
		}
		if newEps != len(deliveries) || newEps+folded != total {
			t.Errorf("writers reported %d new episodes and %d folded, want %d and %d", newEps, folded, len(deliveries), total-len(deliveries))
		}
	})
}

func TestClosedDatabaseIsUnavailable(t *testing.T) {
	contract(t, func(t *testing.T, s *sqlstore.Store, db *migrations.DB) {
		a := diskFull("db-1")
		write(t, s, firing(a, t0, t0))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, werr := s.Write(ctx, dedupe.Fold([]dedupe.Received{firing(a, t0, t0.Add(time.Minute))}))
		_, aerr := s.Alerts(ctx, dedupe.AlertQuery{Limit: 10}, now)
		_, eerr := s.Episodes(ctx, dedupe.Fingerprint(a), 10)
		for name, err := range map[string]error{"Write": werr, "Alerts": aerr, "Episodes": eerr} {
			if err == nil {
				t.Errorf("%s on a closed database succeeded", name)
				continue
			}
			if code := quietpager.ErrorCode(err); code != quietpager.Unavailable {
				t.Errorf("%s: error code %q (%v), want %q so that Alertmanager retries", name, code, err, quietpager.Unavailable)
			}
		}
	})
}
