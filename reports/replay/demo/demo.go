// Package demo is quietpager's demo: an on-call configuration (two teams,
// people in three time zones, rotations, escalation and routes) and a month
// of Alertmanager traffic and people's actions, generated from a fixed seed
// so that the same end time always gives the same history: a flapping disk
// alert, a nightly backup alert, transient CPU spikes, an alert storm, and
// genuine incidents that people acknowledged.
package demo

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/reports/replay"
)

// OnCall is the demo's on-call configuration (YAML, as `quietpager apply`
// reads it).
//
//go:embed oncall.yaml
var OnCall []byte

// Seed fixes the demo history.
const Seed = 20261128

// Days is how much history the demo holds.
const Days = 30

var (
	berlin  = mustZone("Europe/Berlin")
	newYork = mustZone("America/New_York")
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// episode is one firing period of one alert, as Alertmanager reports it:
// a firing notification after group_wait and a resolved one after it ends.
type episode struct {
	labels   map[string]string
	group    []string // label names Alertmanager groups by
	start    time.Time
	duration time.Duration
}

// alertEvent is one state Alertmanager sends for an alert.
type alertEvent struct {
	at       time.Time
	labels   map[string]string
	group    []string
	start    time.Time
	resolved time.Time // zero: firing
}

// History writes the month of history ending at end as replay lines
// (docs/replay.md) to w.
func History(w io.Writer, end time.Time) error {
	end = end.Truncate(time.Minute)
	start := end.AddDate(0, 0, -Days)
	rng := rand.New(rand.NewPCG(Seed, 0))
	var eps []episode
	var lines []replay.Line

	// One day more on each side, cut to the month below, so that the first
	// and the last day are as full as the others.
	for day := start.In(berlin).AddDate(0, 0, -1); day.Before(end.AddDate(0, 0, 1)); day = day.AddDate(0, 0, 1) {
		date := func(loc *time.Location, h, m int) time.Time {
			d := day.In(loc)
			return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, loc)
		}
		// The nightly backup: 02:00 Berlin ± 5 minutes, 20–40 minutes, and
		// somebody marks it not actionable now and then.
		backup := date(berlin, 2, 0).Add(time.Duration(rng.IntN(11)-5) * time.Minute)
		eps = append(eps, episode{labels: map[string]string{"alertname": "BackupJobSlow", "team": "payments",
			"severity": "critical", "cluster": "eu-1", "job": "pg-backup"}, group: []string{"alertname", "cluster"},
			start: backup, duration: time.Duration(20+rng.IntN(21)) * time.Minute})
		if rng.IntN(4) == 0 {
			lines = append(lines, action(backup.Add(45*time.Minute), replay.ActionNotActionable, "alice", eps[len(eps)-1].labels))
		}
		// Transient CPU spikes: two or three a day, gone within 1–3 minutes.
		for range 2 + rng.IntN(2) {
			at := date(berlin, 0, 0).Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			eps = append(eps, episode{labels: map[string]string{"alertname": "HighCPU", "team": "payments",
				"severity": "critical", "cluster": "eu-1", "instance": fmt.Sprintf("api-%d", 1+rng.IntN(6))},
				group: []string{"alertname", "cluster"}, start: at, duration: time.Duration(60+rng.IntN(120)) * time.Second})
		}
		// The flapping disk: every fourth day, an evening of 10–14 flaps.
		if day.YearDay()%4 == 0 {
			at := date(newYork, 19, 0).Add(time.Duration(rng.IntN(120)) * time.Minute)
			labels := map[string]string{"alertname": "DiskSpaceLow", "team": "db", "severity": "warning",
				"instance": "db-3", "mountpoint": "/var/lib/postgresql"}
			for range 10 + rng.IntN(5) {
				d := time.Duration(2+rng.IntN(4)) * time.Minute
				eps = append(eps, episode{labels: labels, group: []string{"alertname"}, start: at, duration: d})
				at = at.Add(d + time.Duration(2+rng.IntN(4))*time.Minute)
			}
		}
	}
	// Genuine incidents, acknowledged by the person on call and fixed.
	genuine := []struct {
		alertname, team, by string
		zone                *time.Location
	}{
		{"HighErrorRate", "payments", "alice", berlin}, {"PaymentsLatencyHigh", "payments", "bob", berlin},
		{"ReplicationLag", "db", "carol", newYork}, {"HighErrorRate", "payments", "erin", berlin},
		{"ReplicationLag", "db", "erin", newYork}, {"CheckoutFailures", "payments", "alice", berlin},
		{"ConnectionPoolExhausted", "db", "carol", newYork}, {"PaymentsLatencyHigh", "payments", "bob", berlin},
	}
	for i, g := range genuine {
		day := start.Add(time.Duration(2+i*Days/len(genuine)) * 24 * time.Hour).In(g.zone)
		at := time.Date(day.Year(), day.Month(), day.Day(), rng.IntN(24), rng.IntN(60), 0, 0, g.zone)
		labels := map[string]string{"alertname": g.alertname, "team": g.team, "severity": "critical", "cluster": "eu-1"}
		eps = append(eps, episode{labels: labels, group: []string{"alertname", "cluster"}, start: at,
			duration: time.Duration(30+rng.IntN(60)) * time.Minute})
		lines = append(lines, action(at.Add(time.Duration(2+rng.IntN(6))*time.Minute), replay.ActionAcknowledge, g.by, labels))
	}
	// The storm: a network partition takes 60 database hosts down at once,
	// one Alertmanager group, one incident; carol acknowledges it.
	storm := start.Add(17*24*time.Hour + 14*time.Hour + 23*time.Minute)
	for i := range 60 {
		eps = append(eps, episode{labels: map[string]string{"alertname": "InstanceDown", "team": "db",
			"severity": "critical", "cluster": "us-east", "instance": fmt.Sprintf("db-%02d", i)},
			group: []string{"alertname", "cluster"}, start: storm, duration: 42 * time.Minute})
	}
	lines = append(lines, action(storm.Add(4*time.Minute), replay.ActionAcknowledge, "carol",
		map[string]string{"alertname": "InstanceDown", "team": "db", "severity": "critical", "cluster": "us-east", "instance": "db-00"}))

	webhooks, err := deliveries(eps, end)
	if err != nil {
		return err
	}
	lines = append(lines, webhooks...)
	var kept []replay.Line
	for _, l := range lines {
		if l.At.Before(end) && !l.At.Before(start) {
			kept = append(kept, l)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].At.Before(kept[j].At) })
	enc := json.NewEncoder(w)
	for _, l := range kept {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

func action(at time.Time, kind, by string, labels map[string]string) replay.Line {
	return replay.Line{At: at.UTC(), Action: kind, By: by, Labels: labels}
}

// groupWait is how long Alertmanager waits before its first notification of
// a group.
const groupWait = 30 * time.Second

// deliveries turns episodes into the webhooks Alertmanager would send: one
// per group and instant, firing after group_wait, resolved when the alert
// ends (which is in the past at end: episodes still firing then stay
// firing).
func deliveries(eps []episode, end time.Time) ([]replay.Line, error) {
	var events []alertEvent
	for _, e := range eps {
		events = append(events, alertEvent{at: e.start.Add(groupWait), labels: e.labels, group: e.group, start: e.start})
		if stop := e.start.Add(e.duration); stop.Before(end) {
			events = append(events, alertEvent{at: stop.Add(groupWait), labels: e.labels, group: e.group, start: e.start, resolved: stop})
		}
	}
	type key struct {
		at    int64
		group string
	}
	byKey := map[key]*ingest.Payload{}
	var order []key
	for _, ev := range events {
		gk := "{}:{"
		for i, name := range ev.group {
			if i > 0 {
				gk += ", "
			}
			gk += fmt.Sprintf("%s=%q", name, ev.labels[name])
		}
		gk += "}"
		k := key{ev.at.UnixMicro(), gk}
		p, ok := byKey[k]
		if !ok {
			p = &ingest.Payload{Version: ingest.PayloadVersion, GroupKey: gk}
			p.Receiver, p.Status, p.ExternalURL = "quietpager", string(model.AlertFiring), "http://alertmanager.example.com:9093"
			byKey[k] = p
			order = append(order, k)
		}
		a := template.Alert{Status: string(model.AlertFiring), Labels: ev.labels, StartsAt: ev.start.UTC(),
			Annotations: template.KV{"summary": ev.labels["alertname"] + " on " + ev.labels["instance"] + ev.labels["cluster"]}}
		if !ev.resolved.IsZero() {
			a.Status, a.EndsAt = string(model.AlertResolved), ev.resolved.UTC()
		}
		p.Alerts = append(p.Alerts, a)
	}
	lines := make([]replay.Line, 0, len(order))
	for _, k := range order {
		p := byKey[k]
		if len(p.Alerts.Firing()) == 0 {
			p.Status = string(model.AlertResolved)
		}
		body, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		lines = append(lines, replay.Line{At: time.UnixMicro(k.at).UTC(), Webhook: body})
	}
	return lines, nil
}
