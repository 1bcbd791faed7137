package sqlstore_test

// Contract tests for incidents and flap detection at the store level. Every
// batch is built as the webhook builds it ([]dedupe.Received → dedupe.Fold
// → Store.Write), at times the test chooses: nothing here reads the clock.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// incT0 is Tuesday 03:12 UTC, when the night's trouble starts.
var incT0 = time.Date(2026, 11, 3, 3, 12, 0, 0, time.UTC)

const incReceiver = "team-pager"

// incAlert is one alert as Alertmanager would send it: its labels, and the
// notification group and receiver it arrives in.
type incAlert struct {
	labels   map[string]string
	groupKey string
	receiver string
}

// incNew makes an alert named name with extra label pairs, grouped by
// alertname as Alertmanager's default route would.
func incNew(name string, kv ...string) incAlert {
	ls := map[string]string{"alertname": name}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[kv[i]] = kv[i+1]
	}
	return incAlert{labels: ls, groupKey: `{}:{alertname="` + name + `"}`, receiver: incReceiver}
}

func (a incAlert) in(groupKey string) incAlert { a.groupKey = groupKey; return a }
func (a incAlert) to(receiver string) incAlert { a.receiver = receiver; return a }
func (a incAlert) fp() string                  { return dedupe.Fingerprint(a.labels) }

// fire is one delivery of the alert firing since startsAt.
func (a incAlert) fire(startsAt, receivedAt time.Time) dedupe.Received {
	return dedupe.Received{
		Fingerprint: a.fp(),
		Labels:      a.labels,
		Annotations: map[string]string{"summary": a.labels["alertname"] + " on " + a.labels["instance"]},
		Receiver:    a.receiver,
		GroupKey:    a.groupKey,
		StartsAt:    startsAt,
		ReceivedAt:  receivedAt,
	}
}

// resolve is one delivery of the alert's episode startsAt resolved at endsAt.
func (a incAlert) resolve(startsAt, endsAt, receivedAt time.Time) dedupe.Received {
	r := a.fire(startsAt, receivedAt)
	r.Resolved, r.EndsAt = true, endsAt
	return r
}

// incContract runs f on a fresh store of each dialect with the default
// options.
func incContract(t *testing.T, f func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	incContractWith(t, sqlstore.Options{}, f)
}

func incContractWith(t *testing.T, o sqlstore.Options, f func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		f(t, sqlstore.New(db, o))
	})
}

func incWrite(t *testing.T, s *sqlstore.Store, recs ...dedupe.Received) dedupe.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), dedupe.Fold(recs))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func incList(t *testing.T, s *sqlstore.Store, q dedupe.IncidentQuery) []dedupe.Incident {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 10000
	}
	ins, err := s.Incidents(context.Background(), q)
	if err != nil {
		t.Fatalf("Incidents(%+v): %v", q, err)
	}
	return ins
}

// incOnly returns the one incident there is, failing unless there is
// exactly one.
func incOnly(t *testing.T, s *sqlstore.Store) dedupe.Incident {
	t.Helper()
	ins := incList(t, s, dedupe.IncidentQuery{})
	if len(ins) != 1 {
		t.Fatalf("got %d incidents, want 1: %+v", len(ins), ins)
	}
	return ins[0]
}

func incDetail(t *testing.T, s *sqlstore.Store, id int64) dedupe.IncidentDetail {
	t.Helper()
	d, err := s.Incident(context.Background(), id)
	if err != nil {
		t.Fatalf("Incident(%d): %v", id, err)
	}
	return d
}

func incKinds(tl []dedupe.Event) []string {
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Kind
	}
	return out
}

func incEvents(tl []dedupe.Event, kind string) []dedupe.Event {
	var out []dedupe.Event
	for _, e := range tl {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func incAlerts(t *testing.T, s *sqlstore.Store, q dedupe.AlertQuery, at time.Time) []dedupe.Alert {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 10000
	}
	as, err := s.Alerts(context.Background(), q, at)
	if err != nil {
		t.Fatalf("Alerts(%+v): %v", q, err)
	}
	return as
}

func incAlertAt(t *testing.T, s *sqlstore.Store, fp string, at time.Time) dedupe.Alert {
	t.Helper()
	for _, a := range incAlerts(t, s, dedupe.AlertQuery{}, at) {
		if a.Fingerprint == fp {
			return a
		}
	}
	t.Fatalf("alert %s not listed", fp)
	return dedupe.Alert{}
}

func incEpisodes(t *testing.T, s *sqlstore.Store, fp string) []dedupe.Episode {
	t.Helper()
	eps, err := s.Episodes(context.Background(), fp, 1000)
	if err != nil {
		t.Fatalf("Episodes(%s): %v", fp, err)
	}
	return eps
}

func incMaintain(t *testing.T, s *sqlstore.Store, at time.Time) (flapping, open int) {
	t.Helper()
	flapping, open, err := s.Maintain(context.Background(), at)
	if err != nil {
		t.Fatalf("Maintain(%v): %v", at, err)
	}
	return flapping, open
}

func incWantCode(t *testing.T, what string, err error, want quietpager.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, want)
		return
	}
	if got := quietpager.ErrorCode(err); got != want {
		t.Errorf("%s: error %v (code %s), want code %s", what, err, got, want)
	}
}

// incWantChanges checks a WriteResult's incident changes.
func incWantChanges(t *testing.T, what string, got []dedupe.IncidentChange, want ...dedupe.IncidentChange) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: incident changes %+v, want %+v", what, got, want)
		return
	}
	for i := range want {
		if want[i].ID == 0 { // any id
			want[i].ID = got[i].ID
		}
		if want[i].Opening == 0 { // any opening
			want[i].Opening = got[i].Opening
		}
		if got[i] != want[i] {
			t.Errorf("%s: incident change %+v, want %+v", what, got[i], want[i])
		}
	}
}

func incSameLabels(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			return false
		}
	}
	return true
}

func TestIncidentDefaultGrouping(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		gkA, gkB := `{}:{alertname="DiskFull"}`, `{}:{alertname="DiskFull",cluster="b"}`
		a1 := incNew("DiskFull", "instance", "db-1", "team", "storage").in(gkA)
		a2 := incNew("DiskFull", "instance", "db-2", "team", "storage").in(gkA)
		b1 := incNew("DiskFull", "instance", "db-3", "team", "storage").in(gkB)
		slack := incNew("DiskFull", "instance", "db-4", "team", "storage").in(gkA).to("team-slack")

		res := incWrite(t, s, a1.fire(incT0, incT0), b1.fire(incT0, incT0), slack.fire(incT0, incT0))
		if len(res.Incidents) != 3 {
			t.Fatalf("first write opened %+v, want 3 incidents", res.Incidents)
		}
		for _, c := range res.Incidents {
			if !c.Opened || c.Reopened || !c.Page {
				t.Errorf("first write: change %+v, want opened and paged", c)
			}
		}
		// The second alert of the first group joins its incident: no new
		// incident, no page.
		res = incWrite(t, s, a2.fire(incT0.Add(time.Minute), incT0.Add(time.Minute)))
		incWantChanges(t, "second alert of a group", res.Incidents)

		ins := incList(t, s, dedupe.IncidentQuery{})
		if len(ins) != 3 {
			t.Fatalf("got %d incidents, want 3 (one per group key and receiver): %+v", len(ins), ins)
		}
		byGroup := map[string]dedupe.Incident{}
		for _, in := range ins {
			byGroup[in.Receiver+" "+in.GroupKey] = in
		}
		for key, alerts := range map[string]int{
			incReceiver + " " + gkA:  2,
			incReceiver + " " + gkB:  1,
			"team-slack" + " " + gkA: 1,
		} {
			in, ok := byGroup[key]
			if !ok {
				t.Errorf("no incident for %s", key)
				continue
			}
			if in.Alerts != alerts || in.Firing != alerts || in.State != dedupe.IncidentOpen {
				t.Errorf("%s: %d alerts, %d firing, %s; want %d, %d, open", key, in.Alerts, in.Firing, in.State, alerts, alerts)
			}
		}
		in := byGroup[incReceiver+" "+gkA]
		if want := map[string]string{"alertname": "DiskFull", "team": "storage"}; !incSameLabels(in.CommonLabels, want) {
			t.Errorf("common labels %v, want %v", in.CommonLabels, want)
		}
		if in.Title != "DiskFull" {
			t.Errorf("title %q, want DiskFull", in.Title)
		}
		tl := incDetail(t, s, in.ID).Timeline
		if got := incKinds(tl); strings.Join(got, ",") != "opened,alert_added" {
			t.Errorf("timeline %v, want opened, alert_added", got)
		}
	})
}

func TestIncidentGroupByLabels(t *testing.T) {
	p := dedupe.DefaultPolicy
	p.GroupBy = []string{"cluster"}
	incContractWith(t, sqlstore.Options{Policies: dedupe.StaticPolicy(p)}, func(t *testing.T, s *sqlstore.Store) {
		disk := incNew("DiskFull", "cluster", "eu-1", "instance", "db-1", "team", "infra")
		cpu := incNew("CPUHigh", "cluster", "eu-1", "instance", "app-1", "team", "infra")
		mem := incNew("MemoryHigh", "cluster", "us-1", "instance", "app-2", "team", "infra")
		res := incWrite(t, s, disk.fire(incT0, incT0), cpu.fire(incT0, incT0), mem.fire(incT0, incT0))
		if len(res.Incidents) != 2 {
			t.Errorf("opened %+v, want 2 incidents (one per cluster)", res.Incidents)
		}
		// Another alert of eu-1, in yet another Alertmanager group, joins.
		net := incNew("NetworkErrors", "cluster", "eu-1", "instance", "sw-1", "team", "net")
		res = incWrite(t, s, net.fire(incT0.Add(time.Minute), incT0.Add(time.Minute)))
		incWantChanges(t, "eu-1 alert from another group key", res.Incidents)

		ins := incList(t, s, dedupe.IncidentQuery{})
		if len(ins) != 2 {
			t.Fatalf("got %d incidents, want 2: %+v", len(ins), ins)
		}
		var eu, us dedupe.Incident
		for _, in := range ins {
			switch in.CommonLabels["cluster"] {
			case "eu-1":
				eu = in
			case "us-1":
				us = in
			}
		}
		if eu.Alerts != 3 || us.Alerts != 1 {
			t.Errorf("eu-1 incident has %d alerts, us-1 %d; want 3 and 1", eu.Alerts, us.Alerts)
		}
		if want := map[string]string{"cluster": "eu-1"}; !incSameLabels(eu.CommonLabels, want) {
			t.Errorf("eu-1 common labels %v, want %v", eu.CommonLabels, want)
		}
	})
}

func TestIncidentStormIsOneIncident(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		const gk = `{}:{alertname="InstanceDown"}`
		node := func(i int, zone string) incAlert {
			return incNew("InstanceDown", "instance", fmt.Sprintf("host-%04d", i),
				"job", "node", "severity", "critical", "zone", zone).in(gk)
		}
		var first []incAlert
		recs := make([]dedupe.Received, 0, 500)
		for i := range 500 {
			a := node(i, "eu-1")
			first = append(first, a)
			recs = append(recs, a.fire(incT0, incT0))
		}
		res := incWrite(t, s, recs...)
		if res.NewEpisodes != 500 {
			t.Errorf("storm write: %d new episodes, want 500", res.NewEpisodes)
		}
		incWantChanges(t, "storm write", res.Incidents, dedupe.IncidentChange{Opened: true, Page: true})

		for w := range 5 {
			at := incT0.Add(time.Duration(w+1) * time.Minute)
			recs = recs[:0]
			for i := range 100 {
				recs = append(recs, node(500+w*100+i, "eu-2").fire(at, at))
			}
			res := incWrite(t, s, recs...)
			incWantChanges(t, fmt.Sprintf("storm write %d", w+2), res.Incidents)
			if res.NewEpisodes != 100 {
				t.Errorf("storm write %d: %d new episodes, want 100", w+2, res.NewEpisodes)
			}
		}
		// 100 of the first alerts resolve.
		at := incT0.Add(10 * time.Minute)
		recs = recs[:0]
		for _, a := range first[:100] {
			recs = append(recs, a.resolve(incT0, at, at))
		}
		res = incWrite(t, s, recs...)
		incWantChanges(t, "resolving write", res.Incidents)
		if res.Resolved != 100 {
			t.Errorf("resolving write: %d resolved, want 100", res.Resolved)
		}

		in := incOnly(t, s)
		if in.Alerts != 1000 || in.Firing != 900 || in.Episodes != 1000 || in.State != dedupe.IncidentOpen {
			t.Errorf("incident: %d alerts, %d firing, %d episodes, %s; want 1000, 900, 1000, open",
				in.Alerts, in.Firing, in.Episodes, in.State)
		}
		if want := map[string]string{"alertname": "InstanceDown", "job": "node", "severity": "critical"}; !incSameLabels(in.CommonLabels, want) {
			t.Errorf("common labels %v, want %v", in.CommonLabels, want)
		}
		if !strings.Contains(in.Summary, "900 of 1000") || !strings.Contains(in.Summary, "job=node") {
			t.Errorf("summary %q should say 900 of 1000 alerts firing and the shared labels", in.Summary)
		}

		tl := incDetail(t, s, in.ID).Timeline
		if n := len(incEvents(tl, dedupe.EventOpened)); n != 1 {
			t.Errorf("%d opened events, want 1", n)
		}
		if n := len(incEvents(tl, dedupe.EventAlertAdded)); n != 5 {
			t.Errorf("%d alert_added events, want 5 (one per write)", n)
		}
		for _, e := range tl {
			if n := strings.Count(e.Detail, "InstanceDown{"); n > 5 {
				t.Errorf("%s event names %d alerts; a timeline entry should name a few and count the rest", e.Kind, n)
			}
		}
		if ev := incEvents(tl, dedupe.EventOpened); len(ev) == 1 && !strings.Contains(ev[0].Detail, "and 495 more") {
			t.Errorf("opened detail %q should say \"and 495 more\"", ev[0].Detail)
		}
		if ev := incEvents(tl, dedupe.EventAlertAdded); len(ev) > 0 && !strings.Contains(ev[0].Detail, "and 95 more") {
			t.Errorf("alert_added detail %q should say \"and 95 more\"", ev[0].Detail)
		}
	})
}

// Alerts joining an open incident less than a minute after its latest
// entry, an "alert added" one, are counted in that entry: a storm's
// timeline reads as a line a minute. Anything else on the timeline in
// between starts a new entry, two replicas counting into one entry lose
// nothing, and rolling migration 13 back spells the counts out.
func TestIncidentTimelineTallies(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db1 *migrations.DB) {
		ctx := context.Background()
		s1 := sqlstore.New(db1, sqlstore.Options{})
		s2 := sqlstore.New(migrationstest.Open(t, dsn), sqlstore.Options{})
		sec := func(n int) time.Time { return incT0.Add(time.Duration(n) * time.Second) }
		// fire delivers hosts' alerts firing since startsAt, received at at.
		fire := func(s *sqlstore.Store, startsAt, at time.Time, hosts ...int) func() (dedupe.WriteResult, error) {
			var recs []dedupe.Received
			for _, h := range hosts {
				recs = append(recs, incNew("NodeDown", "instance", fmt.Sprintf("n%02d", h)).fire(startsAt, at))
			}
			return func() (dedupe.WriteResult, error) { return s.Write(ctx, dedupe.Fold(recs)) }
		}
		write := func(f func() (dedupe.WriteResult, error)) {
			t.Helper()
			if _, err := f(); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		write(fire(s1, sec(0), sec(0), 0, 1, 2))
		id := incOnly(t, s1).ID
		write(fire(s1, sec(10), sec(10), 3, 4))
		write(fire(s1, sec(20), sec(20), 5))
		write(fire(s2, sec(40), sec(40), 6, 7, 8))
		if _, _, e1, e2 := incRace(fire(s1, sec(50), sec(50), 9, 10), fire(s2, sec(50), sec(50), 11)); e1 != nil || e2 != nil {
			t.Fatalf("two replicas at once: errors %v, %v", e1, e2)
		}
		write(fire(s1, sec(71), sec(71), 12)) // 61 s after the entry began
		if err := s1.Acknowledge(ctx, id, "alice", sec(75)); err != nil {
			t.Fatal(err)
		}
		write(fire(s1, sec(80), sec(80), 13))
		write(fire(s1, sec(85), sec(85), 0)) // n00 fires again: a new episode
		write(fire(s1, sec(150), sec(150), 1))
		write(fire(s2, sec(160), sec(160), 2))

		n := func(h ...int) string {
			var out []string
			for _, i := range h {
				out = append(out, fmt.Sprintf(`NodeDown{instance="n%02d"}`, i))
			}
			return strings.Join(out, ", ")
		}
		want := []dedupe.Event{
			{At: sec(0), Kind: dedupe.EventOpened, Detail: "3 alerts: " + n(0, 1, 2)},
			{At: sec(10), Kind: dedupe.EventAlertAdded, Detail: "9 alerts over 40s: " + n(3, 4) + " and 7 more"},
			{At: sec(71), Kind: dedupe.EventAlertAdded, Detail: "alert " + n(12)},
			{At: sec(75), Kind: dedupe.EventAcknowledged},
			{At: sec(80), Kind: dedupe.EventAlertAdded, Detail: "2 alerts over 5s: " + n(13) + " and 1 more"},
			{At: sec(150), Kind: dedupe.EventAlertAdded, Detail: "2 alerts over 10s: " + n(1) + " and 1 more fired again"},
		}
		tl := incDetail(t, s1, id).Timeline
		if len(tl) != len(want) {
			t.Fatalf("timeline %v, want %v", incKinds(tl), want)
		}
		for i, e := range tl {
			if !e.At.Equal(want[i].At) || e.Kind != want[i].Kind || (want[i].Detail != "" && e.Detail != want[i].Detail) {
				t.Errorf("timeline entry %d: %s %s %q, want %s %s %q", i, e.At.Format(time.TimeOnly), e.Kind, e.Detail,
					want[i].At.Format(time.TimeOnly), want[i].Kind, want[i].Detail)
			}
		}

		if _, err := db1.DownTo(ctx, 12); err != nil {
			t.Fatalf("migrating down to 12: %v", err)
		}
		var details []string
		if err := db1.Gorm.Raw(`SELECT detail FROM incident_events WHERE kind = ? ORDER BY at, id`,
			dedupe.EventAlertAdded).Scan(&details).Error; err != nil {
			t.Fatal(err)
		}
		wantDown := []string{"9 alerts: " + n(3, 4) + " and 7 more", "alert " + n(12),
			"2 alerts: " + n(13) + " and 1 more", "2 alerts: " + n(1) + " and 1 more fired again"}
		if !slices.Equal(details, wantDown) {
			t.Errorf("after migrating down, alert_added details\n %q\nwant\n %q", details, wantDown)
		}
	})
}

func TestIncidentLifeCycle(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("DiskFull", "instance", "db-1")
		b := incNew("DiskFull", "instance", "db-2")
		t1 := incT0.Add(8 * time.Minute)
		incWrite(t, s, a.fire(incT0, incT0), b.fire(incT0, incT0))
		in := incOnly(t, s)
		id := in.ID

		incWrite(t, s, a.resolve(incT0, incT0.Add(5*time.Minute), incT0.Add(5*time.Minute)))
		if in = incOnly(t, s); in.State != dedupe.IncidentOpen || in.Firing != 1 {
			t.Errorf("one of two alerts resolved: %s with %d firing, want open with 1", in.State, in.Firing)
		}
		res := incWrite(t, s, b.resolve(incT0, t1, t1))
		if res.Resolved != 1 {
			t.Errorf("WriteResult.Resolved = %d, want 1", res.Resolved)
		}
		in = incOnly(t, s)
		if in.State != dedupe.IncidentResolved || in.ResolvedBy != dedupe.ActorAlertmanager ||
			in.ResolvedAt == nil || !in.ResolvedAt.Equal(t1) {
			t.Errorf("all alerts resolved: %s by %q at %v; want resolved by alertmanager at %v", in.State, in.ResolvedBy, in.ResolvedAt, t1)
		}
		if ev := incEvents(incDetail(t, s, id).Timeline, dedupe.EventResolved); len(ev) != 1 || ev[0].Actor != dedupe.ActorAlertmanager {
			t.Errorf("resolved events %+v, want one by alertmanager", ev)
		}

		// Fires again within the reopen window (10m): the same incident.
		t2 := t1.Add(9 * time.Minute)
		res = incWrite(t, s, a.fire(t2, t2))
		incWantChanges(t, "firing within the reopen window", res.Incidents, dedupe.IncidentChange{ID: id, Reopened: true, Page: true})
		in = incOnly(t, s)
		if in.ID != id || in.State != dedupe.IncidentOpen || in.ResolvedAt != nil || in.Firing != 1 {
			t.Errorf("reopened incident: id %d, %s, resolved at %v, %d firing; want id %d, open, not resolved, 1 firing",
				in.ID, in.State, in.ResolvedAt, in.Firing, id)
		}
		d := incDetail(t, s, id)
		if got := strings.Join(incKinds(d.Timeline), ","); got != "opened,resolved,reopened" {
			t.Errorf("timeline %s, want opened,resolved,reopened", got)
		}
		if len(d.EpisodeList) != 3 {
			t.Errorf("reopened incident has %d episodes, want 3", len(d.EpisodeList))
		}

		// Resolves again; fires after the window: a new incident.
		t3 := t2.Add(2 * time.Minute)
		incWrite(t, s, a.resolve(t2, t3, t3))
		t4 := t3.Add(10*time.Minute + time.Second)
		res = incWrite(t, s, a.fire(t4, t4))
		incWantChanges(t, "firing after the reopen window", res.Incidents, dedupe.IncidentChange{Opened: true, Page: true})
		if len(res.Incidents) == 1 && res.Incidents[0].ID == id {
			t.Errorf("firing after the window reused incident %d", id)
		}
		ins := incList(t, s, dedupe.IncidentQuery{})
		if len(ins) != 2 || ins[0].State != dedupe.IncidentOpen || ins[1].ID != id || ins[1].State != dedupe.IncidentResolved {
			t.Errorf("incidents %+v, want a new open one and the old one resolved", ins)
		}
	})
}

// An incident reopened by another alert of its group holds both alerts'
// episodes, so its common labels are the ones both share.
func TestIncidentReopenedByAnotherAlertNarrowsCommonLabels(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("DiskFull", "instance", "db-1", "team", "storage")
		b := incNew("DiskFull", "instance", "db-2", "team", "storage")
		incWrite(t, s, a.fire(incT0, incT0))
		end := incT0.Add(2 * time.Minute)
		incWrite(t, s, a.resolve(incT0, end, end))
		again := end.Add(3 * time.Minute)
		res := incWrite(t, s, b.fire(again, again))
		if len(res.Incidents) != 1 || !res.Incidents[0].Reopened {
			t.Fatalf("changes %+v, want the incident reopened", res.Incidents)
		}
		in := incOnly(t, s)
		if want := map[string]string{"alertname": "DiskFull", "team": "storage"}; !incSameLabels(in.CommonLabels, want) {
			t.Errorf("common labels of an incident holding db-1 and db-2: %v, want %v (summary %q)", in.CommonLabels, want, in.Summary)
		}
	})
}

func TestIncidentAcknowledgeAndResolve(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		a := incNew("DiskFull", "instance", "db-1")
		incWrite(t, s, a.fire(incT0, incT0))
		id := incOnly(t, s).ID

		ackAt := incT0.Add(4 * time.Minute)
		if err := s.Acknowledge(ctx, id, "alice", ackAt); err != nil {
			t.Fatalf("Acknowledge: %v", err)
		}
		if err := s.Acknowledge(ctx, id, "bob", ackAt.Add(time.Minute)); err != nil {
			t.Errorf("second Acknowledge: %v, want no error", err)
		}
		in := incOnly(t, s)
		if in.State != dedupe.IncidentAcknowledged || in.AcknowledgedBy != "alice" ||
			in.AcknowledgedAt == nil || !in.AcknowledgedAt.Equal(ackAt) {
			t.Errorf("acknowledged: %s by %q at %v, want acknowledged by alice at %v", in.State, in.AcknowledgedBy, in.AcknowledgedAt, ackAt)
		}
		ev := incEvents(incDetail(t, s, id).Timeline, dedupe.EventAcknowledged)
		if len(ev) != 1 || ev[0].Actor != "alice" || !ev[0].At.Equal(ackAt) {
			t.Errorf("acknowledged events %+v, want one by alice at %v", ev, ackAt)
		}

		incWantCode(t, "Acknowledge of an unknown incident", s.Acknowledge(ctx, id+1000, "alice", ackAt), quietpager.NotFound)
		incWantCode(t, "Resolve of an unknown incident", s.Resolve(ctx, id+1000, "alice", ackAt), quietpager.NotFound)
		incWantCode(t, "Acknowledge without an actor", s.Acknowledge(ctx, id, "", ackAt), quietpager.Invalid)
		incWantCode(t, "Resolve without an actor", s.Resolve(ctx, id, "", ackAt), quietpager.Invalid)

		// A person resolves it while the alert still fires.
		resAt := incT0.Add(20 * time.Minute)
		if err := s.Resolve(ctx, id, "carol", resAt); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if err := s.Resolve(ctx, id, "dave", resAt.Add(time.Minute)); err != nil {
			t.Errorf("second Resolve: %v, want no error", err)
		}
		incWantCode(t, "Acknowledge of a resolved incident", s.Acknowledge(ctx, id, "alice", resAt.Add(time.Minute)), quietpager.Conflict)

		// Alertmanager keeps repeating the same firing episode, from both
		// HA peers.
		for i := 1; i <= 3; i++ {
			at := resAt.Add(time.Duration(i) * 4 * time.Hour)
			res := incWrite(t, s, a.fire(incT0, at), a.fire(incT0, at.Add(time.Millisecond)))
			incWantChanges(t, "repeat notification after a person's resolve", res.Incidents)
		}
		in = incOnly(t, s)
		if in.State != dedupe.IncidentResolved || in.ResolvedBy != "carol" || in.ResolvedAt == nil || !in.ResolvedAt.Equal(resAt) {
			t.Errorf("after repeats: %s by %q at %v, want resolved by carol at %v", in.State, in.ResolvedBy, in.ResolvedAt, resAt)
		}
		if in.Firing != 1 {
			t.Errorf("firing %d, want 1: the alert still fires", in.Firing)
		}
		tl := incDetail(t, s, id).Timeline
		if got := strings.Join(incKinds(tl), ","); got != "opened,acknowledged,resolved" {
			t.Errorf("timeline %s, want opened,acknowledged,resolved", got)
		}
		if ev := incEvents(tl, dedupe.EventResolved); len(ev) == 1 && (ev[0].Actor != "carol" || !ev[0].At.Equal(resAt)) {
			t.Errorf("resolved event %+v, want by carol at %v", ev[0], resAt)
		}
	})
}

// incFlapCycles writes an alert that fires for one minute every ten, each
// firing and each resolve its own webhook delivered at the event time, for
// n cycles from start, checking each write with check.
func incFlapCycles(t *testing.T, s *sqlstore.Store, a incAlert, start time.Time, n int,
	check func(i int, fired, resolved dedupe.WriteResult)) (changes []time.Time) {
	t.Helper()
	for i := range n {
		on := start.Add(time.Duration(i) * 10 * time.Minute)
		off := on.Add(time.Minute)
		fired := incWrite(t, s, a.fire(on, on))
		resolved := incWrite(t, s, a.resolve(on, off, off))
		changes = append(changes, on, off)
		if check != nil {
			check(i, fired, resolved)
		}
	}
	return changes
}

func TestIncidentFlapping(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("LinkFlap", "instance", "sw-1")
		var id int64
		changes := incFlapCycles(t, s, a, incT0, 7, func(i int, fired, resolved dedupe.WriteResult) {
			t.Helper()
			switch {
			case i == 0:
				incWantChanges(t, "first firing", fired.Incidents, dedupe.IncidentChange{Opened: true, Page: true})
				if len(fired.Incidents) == 1 {
					id = fired.Incidents[0].ID
				}
			case i < 4:
				incWantChanges(t, fmt.Sprintf("firing %d", i+1), fired.Incidents, dedupe.IncidentChange{ID: id, Reopened: true, Page: true})
			default: // flapping: the incident stayed open, the page is held
				incWantChanges(t, fmt.Sprintf("firing %d while flapping", i+1), fired.Incidents)
			}
			wantHeld := 0
			if i >= 4 {
				wantHeld = 1
			}
			if fired.Held != wantHeld {
				t.Errorf("firing %d: Held = %d, want %d", i+1, fired.Held, wantHeld)
			}
			wantStarted := 0
			if i == 3 {
				wantStarted = 1
			}
			if resolved.FlapStarted != wantStarted || fired.FlapStarted != 0 {
				t.Errorf("cycle %d: FlapStarted %d on firing, %d on resolve; want 0 and %d", i+1, fired.FlapStarted, resolved.FlapStarted, wantStarted)
			}
			in := incOnly(t, s)
			wantState := dedupe.IncidentResolved
			if i >= 3 {
				wantState = dedupe.IncidentOpen // flapping holds it open
			}
			if in.State != wantState {
				t.Errorf("after resolve %d: incident %s, want %s", i+1, in.State, wantState)
			}
		})
		last := changes[len(changes)-1]

		in := incOnly(t, s)
		if in.ID != id || in.Firing != 0 || in.Flapping != 1 || in.State != dedupe.IncidentOpen {
			t.Errorf("after the flapping: id %d, %d firing, %d flapping, %s; want id %d, 0, 1, open", in.ID, in.Firing, in.Flapping, in.State, id)
		}
		if !strings.Contains(in.Summary, "1 flapping") {
			t.Errorf("summary %q should say 1 flapping", in.Summary)
		}
		tl := incDetail(t, s, id).Timeline
		wantKinds := "opened,resolved,reopened,resolved,reopened,resolved,reopened,flapping_started,alert_added,alert_added,alert_added"
		if got := strings.Join(incKinds(tl), ","); got != wantKinds {
			t.Errorf("timeline\n %s\nwant\n %s", got, wantKinds)
		}
		if ev := incEvents(tl, dedupe.EventFlappingStarted); len(ev) == 1 && !ev[0].At.Equal(incT0.Add(31*time.Minute)) {
			t.Errorf("flapping_started at %v, want %v (the 4th resolve)", ev[0].At, incT0.Add(31*time.Minute))
		}

		// The store's score is the documented one.
		var st flap.State
		for _, at := range changes {
			st, _ = flap.Defaults.Change(st, at)
		}
		al := incAlertAt(t, s, a.fp(), last)
		if !al.Flapping || math.Abs(al.FlapScore-st.Score) > 1e-6 {
			t.Errorf("alert flapping %v with score %.4f, want flapping with %.4f", al.Flapping, al.FlapScore, st.Score)
		}

		// Flapping stops when the score decays below Low.
		stop := flap.Defaults.StopsAt(st).Truncate(time.Second).Add(time.Second)
		if d := stop.Sub(last); d < time.Hour || d > 2*time.Hour {
			t.Fatalf("StopsAt %v after the last change; the test expects between 1h and 2h", d)
		}
		if f, o := incMaintain(t, s, stop.Add(-time.Minute)); f != 1 || o != 1 {
			t.Errorf("Maintain before the score decays: %d flapping, %d open; want 1, 1", f, o)
		}
		if al := incAlertAt(t, s, a.fp(), stop.Add(-time.Minute)); !al.Flapping {
			t.Errorf("alert stopped flapping before its score fell below Low")
		}
		if f, o := incMaintain(t, s, stop); f != 0 || o != 1 {
			t.Errorf("Maintain once the score decayed: %d flapping, %d open; want 0, 1", f, o)
		}
		incMaintain(t, s, stop) // a second replica's pass changes nothing
		notFlapping := false
		if as := incAlerts(t, s, dedupe.AlertQuery{Flapping: &notFlapping}, stop); len(as) != 1 || as[0].Fingerprint != a.fp() {
			t.Errorf("Alerts(flapping=false) = %d alerts, want the one that stopped", len(as))
		}
		tl = incDetail(t, s, id).Timeline
		if ev := incEvents(tl, dedupe.EventFlappingStopped); len(ev) != 1 || !ev[0].At.Equal(stop) || ev[0].Actor != dedupe.ActorQuietpager {
			t.Errorf("flapping_stopped events %+v, want one by quietpager at %v", ev, stop)
		}

		// The incident resolves once the quiet period has passed.
		quiet := flap.Defaults.Quiet
		if _, o := incMaintain(t, s, stop.Add(quiet-time.Minute)); o != 1 {
			t.Errorf("Maintain within the quiet period: %d open, want 1", o)
		}
		if in := incOnly(t, s); in.State != dedupe.IncidentOpen {
			t.Errorf("within the quiet period: incident %s, want open", in.State)
		}
		if _, o := incMaintain(t, s, stop.Add(quiet+time.Minute)); o != 0 {
			t.Errorf("Maintain after the quiet period: %d open, want 0", o)
		}
		in = incOnly(t, s)
		if in.State != dedupe.IncidentResolved || in.ResolvedBy != dedupe.ActorQuietpager ||
			in.ResolvedAt == nil || !in.ResolvedAt.Equal(stop.Add(quiet)) {
			t.Errorf("after the quiet period: %s by %q at %v; want resolved by quietpager at %v", in.State, in.ResolvedBy, in.ResolvedAt, stop.Add(quiet))
		}
		tl = incDetail(t, s, id).Timeline
		if n := len(incEvents(tl, dedupe.EventFlappingStarted)); n != 1 {
			t.Errorf("%d flapping_started events, want 1", n)
		}
		if lastEv := tl[len(tl)-1]; lastEv.Kind != dedupe.EventResolved || lastEv.Actor != dedupe.ActorQuietpager {
			t.Errorf("last timeline entry %+v, want resolved by quietpager", lastEv)
		}
	})
}

// A flapping alert whose incident a person resolved reopens it when it
// fires again, but the page stays held.
func TestIncidentFlappingAlertReopensWithoutPage(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("LinkFlap", "instance", "sw-1")
		incFlapCycles(t, s, a, incT0, 4, nil)
		in := incOnly(t, s)
		if in.Flapping != 1 {
			t.Fatalf("after 4 cycles: %d flapping, want 1", in.Flapping)
		}
		if err := s.Resolve(context.Background(), in.ID, "alice", incT0.Add(33*time.Minute)); err != nil {
			t.Fatal(err)
		}
		at := incT0.Add(40 * time.Minute)
		res := incWrite(t, s, a.fire(at, at))
		incWantChanges(t, "flapping alert firing after a person's resolve", res.Incidents,
			dedupe.IncidentChange{ID: in.ID, Reopened: true, Page: false})
		if res.Held != 1 {
			t.Errorf("Held = %d, want 1", res.Held)
		}
	})
}

func TestIncidentSteadyAlertNeverFlaps(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("DiskFull", "instance", "db-1")
		end := incT0.Add(time.Minute) // the shortest steady episode
		for _, res := range []dedupe.WriteResult{
			incWrite(t, s, a.fire(incT0, incT0)),
			incWrite(t, s, a.resolve(incT0, end, end)),
		} {
			if res.FlapStarted != 0 || res.Held != 0 {
				t.Errorf("steady alert: FlapStarted %d, Held %d; want 0, 0", res.FlapStarted, res.Held)
			}
		}
		al := incAlertAt(t, s, a.fp(), end)
		if al.Flapping || al.FlapScore > 2 {
			t.Errorf("steady alert: flapping %v, score %.3f; want not flapping, score <= 2", al.Flapping, al.FlapScore)
		}
		in := incOnly(t, s)
		if in.State != dedupe.IncidentResolved || in.Flapping != 0 {
			t.Errorf("steady alert's incident: %s, %d flapping; want resolved, 0", in.State, in.Flapping)
		}
	})
}

func TestIncidentDuplicatesDoNotRaiseFlapScore(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		once := incNew("DiskFull", "instance", "db-1")
		often := incNew("DiskFull", "instance", "db-2")
		end := incT0.Add(3 * time.Minute)
		incWrite(t, s, once.fire(incT0, incT0))
		incWrite(t, s, once.resolve(incT0, end, end))

		// Five deliveries of the same firing: an HA pair in one batch,
		// then retries and repeat notifications in their own writes.
		incWrite(t, s, often.fire(incT0, incT0), often.fire(incT0, incT0.Add(time.Millisecond)))
		for i := 1; i <= 3; i++ {
			incWrite(t, s, often.fire(incT0, incT0.Add(time.Duration(i)*30*time.Second)))
		}
		// Five deliveries of the same resolve, and a stale firing from a
		// slow peer after it.
		incWrite(t, s, often.resolve(incT0, end, end), often.resolve(incT0, end, end.Add(time.Millisecond)))
		for i := 1; i <= 3; i++ {
			incWrite(t, s, often.resolve(incT0, end, end.Add(time.Duration(i)*time.Second)))
		}
		incWrite(t, s, often.fire(incT0, end.Add(5*time.Second)))

		a1, a5 := incAlertAt(t, s, once.fp(), end), incAlertAt(t, s, often.fp(), end)
		if math.Abs(a1.FlapScore-a5.FlapScore) > 1e-9 || a5.Flapping {
			t.Errorf("flap score after 1 delivery each %.4f, after 5 each %.4f (flapping %v); want equal, not flapping",
				a1.FlapScore, a5.FlapScore, a5.Flapping)
		}
		if a5.Episodes != 1 || a5.State != dedupe.Resolved {
			t.Errorf("duplicated alert: %d episodes, %s; want 1, resolved", a5.Episodes, a5.State)
		}
	})
}

func TestIncidentTransientEpisodes(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		// Each alert in its own group, so each has its own incident.
		alone := func(name string) incAlert { return incNew(name, "instance", "x") }
		blip, acked, long, still := alone("Blip"), alone("AckedBlip"), alone("LongOutage"), alone("StillFiring")
		incWrite(t, s, blip.fire(incT0, incT0), acked.fire(incT0, incT0), long.fire(incT0, incT0), still.fire(incT0, incT0))
		for _, in := range incList(t, s, dedupe.IncidentQuery{}) {
			if in.Title == "AckedBlip" {
				if err := s.Acknowledge(ctx, in.ID, "alice", incT0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		}
		short, longEnd := incT0.Add(2*time.Minute), incT0.Add(10*time.Minute)
		incWrite(t, s, blip.resolve(incT0, short, short), acked.resolve(incT0, short, short))
		incWrite(t, s, long.resolve(incT0, longEnd, longEnd))

		for _, c := range []struct {
			a    incAlert
			want bool
		}{{blip, true}, {acked, false}, {long, false}, {still, false}} {
			eps := incEpisodes(t, s, c.a.fp())
			if len(eps) != 1 || eps[0].Transient != c.want {
				t.Errorf("%s: episodes %+v, want one with transient %v", c.a.labels["alertname"], eps, c.want)
			}
		}
	})
}

// An episode somebody acknowledged stays not transient when its incident
// later reopens.
func TestIncidentAcknowledgedEpisodeStaysNotTransientAfterReopen(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		a := incNew("Blip", "instance", "x")
		incWrite(t, s, a.fire(incT0, incT0))
		id := incOnly(t, s).ID
		if err := s.Acknowledge(context.Background(), id, "alice", incT0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		end := incT0.Add(2 * time.Minute)
		incWrite(t, s, a.resolve(incT0, end, end))
		again, againEnd := incT0.Add(5*time.Minute), incT0.Add(6*time.Minute)
		incWrite(t, s, a.fire(again, again))
		incWrite(t, s, a.resolve(again, againEnd, againEnd))

		eps := incEpisodes(t, s, a.fp()) // newest first
		if len(eps) != 2 {
			t.Fatalf("got %d episodes, want 2", len(eps))
		}
		if !eps[0].Transient {
			t.Errorf("the unacknowledged 1-minute episode after the reopen is not transient")
		}
		if eps[1].Transient {
			t.Errorf("the episode alice acknowledged became transient once its incident reopened")
		}
	})
}

func TestIncidentRuleHints(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		// 10 episodes of 2 minutes, every 10 minutes (gaps of 8 minutes).
		cpu := incNew("CPUThrottled", "instance", "app-1")
		var last time.Time
		for i := range 10 {
			on := incT0.Add(time.Duration(i) * 10 * time.Minute)
			last = on.Add(2 * time.Minute)
			incWrite(t, s, cpu.fire(on, on))
			incWrite(t, s, cpu.resolve(on, last, last))
		}
		disk := incNew("DiskFull", "instance", "db-1")
		incWrite(t, s, disk.fire(incT0, incT0))
		incWrite(t, s, disk.resolve(incT0, incT0.Add(2*time.Hour), incT0.Add(2*time.Hour)))

		for _, e := range incEpisodes(t, s, cpu.fp()) {
			if !e.Transient {
				t.Errorf("2-minute episode at %v not transient", e.StartsAt)
			}
		}
		now := last.Add(2 * time.Hour)
		want := map[string]flap.RuleHint{
			"CPUThrottled": {Episodes: 10, Transient: 10, For: 3 * time.Minute, ForRemoves: 10, ForLongest: 2 * time.Minute,
				KeepFiringFor: 10 * time.Minute, KeepFiringMerges: 9},
			"DiskFull": {Episodes: 1},
		}
		for _, al := range incAlerts(t, s, dedupe.AlertQuery{}, now) {
			name := al.Labels["alertname"]
			if al.Hints == nil || *al.Hints != want[name] {
				t.Errorf("%s hints %+v, want %+v", name, al.Hints, want[name])
			}
		}
		// Past the seven-day window nothing is left to hint at.
		for _, al := range incAlerts(t, s, dedupe.AlertQuery{}, now.Add(8*24*time.Hour)) {
			if al.Hints == nil || al.Hints.Episodes != 0 {
				t.Errorf("%s hints eight days later %+v, want none", al.Labels["alertname"], al.Hints)
			}
		}
	})
}

func TestIncidentList(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		var ids []int64
		for i, name := range []string{"First", "Second", "Third"} {
			at := incT0.Add(time.Duration(i) * time.Hour)
			res := incWrite(t, s, incNew(name, "instance", "x").fire(at, at))
			if len(res.Incidents) != 1 {
				t.Fatalf("%s opened %+v, want one incident", name, res.Incidents)
			}
			ids = append(ids, res.Incidents[0].ID)
		}
		end := incT0.Add(30 * time.Minute)
		incWrite(t, s, incNew("First", "instance", "x").resolve(incT0, end, end))
		if err := s.Acknowledge(ctx, ids[1], "alice", incT0.Add(70*time.Minute)); err != nil {
			t.Fatal(err)
		}

		idsOf := func(ins []dedupe.Incident) []int64 {
			out := []int64{}
			for _, in := range ins {
				out = append(out, in.ID)
			}
			return out
		}
		for _, c := range []struct {
			name string
			q    dedupe.IncidentQuery
			want []int64
		}{
			{"all, newest first", dedupe.IncidentQuery{}, []int64{ids[2], ids[1], ids[0]}},
			{"open", dedupe.IncidentQuery{State: dedupe.IncidentOpen}, []int64{ids[2]}},
			{"acknowledged", dedupe.IncidentQuery{State: dedupe.IncidentAcknowledged}, []int64{ids[1]}},
			{"resolved", dedupe.IncidentQuery{State: dedupe.IncidentResolved}, []int64{ids[0]}},
			{"since the second opened", dedupe.IncidentQuery{Since: incT0.Add(time.Hour)}, []int64{ids[2], ids[1]}},
			{"since after the last opened", dedupe.IncidentQuery{Since: incT0.Add(3 * time.Hour)}, []int64{}},
			{"limit 2", dedupe.IncidentQuery{Limit: 2}, []int64{ids[2], ids[1]}},
			{"resolved since the second", dedupe.IncidentQuery{State: dedupe.IncidentResolved, Since: incT0.Add(time.Hour)}, []int64{}},
		} {
			if got := idsOf(incList(t, s, c.q)); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s: incidents %v, want %v", c.name, got, c.want)
			}
		}
	})
}

// teamLabel gives each alert to the team its "team" label names.
type teamLabel struct{}

func (teamLabel) PolicyFor(labels map[string]string) dedupe.Policy {
	p := dedupe.DefaultPolicy
	p.Team = labels["team"]
	return p
}

func TestIncidentListByTeam(t *testing.T) {
	incContractWith(t, sqlstore.Options{Policies: teamLabel{}}, func(t *testing.T, s *sqlstore.Store) {
		ids := map[string]int64{}
		for i, team := range []string{"payments", "databases", ""} {
			at := incT0.Add(time.Duration(i) * time.Minute)
			res := incWrite(t, s, incNew("Down"+team, "team", team).fire(at, at))
			if len(res.Incidents) != 1 {
				t.Fatalf("team %q opened %+v, want one incident", team, res.Incidents)
			}
			ids[team] = res.Incidents[0].ID
		}
		for _, c := range []struct {
			q    dedupe.IncidentQuery
			want []int64
		}{
			{dedupe.IncidentQuery{Team: "payments"}, []int64{ids["payments"]}},
			{dedupe.IncidentQuery{Team: "databases", State: dedupe.IncidentOpen}, []int64{ids["databases"]}},
			{dedupe.IncidentQuery{Team: "databases", State: dedupe.IncidentResolved}, nil},
			{dedupe.IncidentQuery{Team: "nobody"}, nil},
			{dedupe.IncidentQuery{}, []int64{ids[""], ids["databases"], ids["payments"]}},
		} {
			var got []int64
			for _, in := range incList(t, s, c.q) {
				if c.q.Team != "" && in.Team != c.q.Team {
					t.Errorf("%+v listed incident %d of team %q", c.q, in.ID, in.Team)
				}
				got = append(got, in.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("incidents %+v: %v, want %v", c.q, got, c.want)
			}
		}
	})
}

func TestIncidentDetail(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		a := incNew("DiskFull", "instance", "db-1", "team", "storage")
		b := incNew("DiskFull", "instance", "db-2", "team", "storage")
		tb := incT0.Add(5 * time.Minute)
		incWrite(t, s, a.fire(incT0, incT0))
		incWrite(t, s, b.fire(tb, tb))
		id := incOnly(t, s).ID
		ackAt := incT0.Add(7 * time.Minute)
		if err := s.Acknowledge(ctx, id, "alice", ackAt); err != nil {
			t.Fatal(err)
		}
		endA, endB := incT0.Add(10*time.Minute), incT0.Add(20*time.Minute)
		incWrite(t, s, a.resolve(incT0, endA, endA))
		incWrite(t, s, b.resolve(tb, endB, endB))

		d := incDetail(t, s, id)
		if d.ID != id || d.State != dedupe.IncidentResolved || d.Alerts != 2 || d.Episodes != 2 {
			t.Errorf("incident %d: %s, %d alerts, %d episodes; want resolved, 2, 2", d.ID, d.State, d.Alerts, d.Episodes)
		}
		if len(d.EpisodeList) != 2 {
			t.Fatalf("got %d episodes, want 2", len(d.EpisodeList))
		}
		for i, c := range []struct {
			a          incAlert
			start, end time.Time
		}{{a, incT0, endA}, {b, tb, endB}} {
			e := d.EpisodeList[i]
			if e.Fingerprint != c.a.fp() || !incSameLabels(e.Labels, c.a.labels) || e.Alertname != "DiskFull" ||
				!e.StartsAt.Equal(c.start) || e.EndsAt == nil || !e.EndsAt.Equal(c.end) || e.State != dedupe.Resolved ||
				e.IncidentID == nil || *e.IncidentID != id {
				t.Errorf("episode %d: %+v, want %v from %v to %v in incident %d", i, e, c.a.labels, c.start, c.end, id)
			}
		}
		type entry struct {
			at    time.Time
			kind  string
			actor string
		}
		want := []entry{
			{incT0, dedupe.EventOpened, dedupe.ActorAlertmanager},
			{tb, dedupe.EventAlertAdded, dedupe.ActorAlertmanager},
			{ackAt, dedupe.EventAcknowledged, "alice"},
			{endB, dedupe.EventResolved, dedupe.ActorAlertmanager},
		}
		if len(d.Timeline) != len(want) {
			t.Fatalf("timeline %+v, want %d entries", d.Timeline, len(want))
		}
		for i, w := range want {
			if e := d.Timeline[i]; !e.At.Equal(w.at) || e.Kind != w.kind || e.Actor != w.actor {
				t.Errorf("timeline[%d] = %+v, want %s by %s at %v", i, e, w.kind, w.actor, w.at)
			}
		}
		if !strings.Contains(d.Timeline[0].Detail, `instance="db-1"`) {
			t.Errorf("opened detail %q should name the alert", d.Timeline[0].Detail)
		}

		_, err := s.Incident(ctx, id+1000)
		incWantCode(t, "Incident of an unknown id", err, quietpager.NotFound)
	})
}

// incRace runs f and g at the same moment and returns their results.
func incRace[T any](f, g func() (T, error)) (T, T, error, error) {
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		r1, r2      T
		e1, e2      error
	)
	ready.Add(2)
	done.Add(2)
	go func() { defer done.Done(); ready.Done(); <-start; r1, e1 = f() }()
	go func() { defer done.Done(); ready.Done(); <-start; r2, e2 = g() }()
	ready.Wait()
	close(start)
	done.Wait()
	return r1, r2, e1, e2
}

// Two replicas on one database receive the same group at the same moment.
func TestIncidentTwoReplicas(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, dsn string, db1 *migrations.DB) {
		ctx := context.Background()
		db2 := migrationstest.Open(t, dsn)
		s1, s2 := sqlstore.New(db1, sqlstore.Options{}), sqlstore.New(db2, sqlstore.Options{})
		writeOn := func(s *sqlstore.Store, recs ...dedupe.Received) func() (dedupe.WriteResult, error) {
			return func() (dedupe.WriteResult, error) { return s.Write(ctx, dedupe.Fold(recs)) }
		}
		opened := func(r dedupe.WriteResult) int {
			n := 0
			for _, c := range r.Incidents {
				if c.Opened {
					n++
				}
			}
			return n
		}
		const rounds = 20
		for i := range rounds {
			at := incT0.Add(time.Duration(i) * time.Minute)

			// The same batch: an HA pair's two copies landing on two replicas.
			gk := fmt.Sprintf(`{}:{cluster="same-%d"}`, i)
			var recs []dedupe.Received
			for j := range 3 {
				recs = append(recs, incNew("NodeDown", "instance", fmt.Sprintf("n%d-%d", i, j)).in(gk).fire(at, at))
			}
			r1, r2, e1, e2 := incRace(writeOn(s1, recs...), writeOn(s2, recs...))
			if e1 != nil || e2 != nil {
				t.Fatalf("round %d, same batch: errors %v, %v", i, e1, e2)
			}
			if n := opened(r1) + opened(r2); n != 1 {
				t.Errorf("round %d, same batch: %d writes report the incident opened (%+v, %+v), want 1", i, n, r1.Incidents, r2.Incidents)
			}
			if n := r1.NewEpisodes + r2.NewEpisodes; n != 3 {
				t.Errorf("round %d, same batch: %d new episodes in all, want 3", i, n)
			}

			// Different alerts of one group on each replica.
			gk = fmt.Sprintf(`{}:{cluster="split-%d"}`, i)
			x := incNew("NodeDown", "instance", fmt.Sprintf("x%d", i)).in(gk)
			y := incNew("NodeDown", "instance", fmt.Sprintf("y%d", i)).in(gk)
			r1, r2, e1, e2 = incRace(writeOn(s1, x.fire(at, at)), writeOn(s2, y.fire(at, at)))
			if e1 != nil || e2 != nil {
				t.Fatalf("round %d, split group: errors %v, %v", i, e1, e2)
			}
			if n := opened(r1) + opened(r2); n != 1 {
				t.Errorf("round %d, split group: %d writes report the incident opened (%+v, %+v), want 1", i, n, r1.Incidents, r2.Incidents)
			}
		}

		byGroup := map[string][]dedupe.Incident{}
		for _, in := range incList(t, s1, dedupe.IncidentQuery{}) {
			byGroup[in.GroupKey] = append(byGroup[in.GroupKey], in)
		}
		if len(byGroup) != 2*rounds {
			t.Errorf("incidents for %d groups, want %d", len(byGroup), 2*rounds)
		}
		for gk, ins := range byGroup {
			want := 3
			if strings.Contains(gk, "split") {
				want = 2
			}
			if len(ins) != 1 || ins[0].Alerts != want {
				t.Errorf("group %s: %d incidents (%+v), want one with %d alerts", gk, len(ins), ins, want)
				continue
			}
			if n := len(incEvents(incDetail(t, s1, ins[0].ID).Timeline, dedupe.EventOpened)); n != 1 {
				t.Errorf("group %s: %d opened events, want 1", gk, n)
			}
		}

		// Two people acknowledge the same incident at the same moment on
		// two replicas: one acknowledgement.
		id := incList(t, s1, dedupe.IncidentQuery{Limit: 1})[0].ID
		ackAt := incT0.Add(time.Hour)
		ack := func(s *sqlstore.Store, who string) func() (struct{}, error) {
			return func() (struct{}, error) { return struct{}{}, s.Acknowledge(ctx, id, who, ackAt) }
		}
		if _, _, e1, e2 := incRace(ack(s1, "alice"), ack(s2, "bob")); e1 != nil || e2 != nil {
			t.Errorf("concurrent acknowledgements: errors %v, %v", e1, e2)
		}
		if ev := incEvents(incDetail(t, s1, id).Timeline, dedupe.EventAcknowledged); len(ev) != 1 {
			t.Errorf("concurrent acknowledgements: %d acknowledged events, want 1", len(ev))
		}
	})
}
