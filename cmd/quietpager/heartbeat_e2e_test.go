package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// TestHeartbeatEndToEnd has the real Alertmanager send a Watchdog to a
// running quietpager, then kills Alertmanager: quietpager opens an
// incident for the missing heartbeat, and resolves it when the Watchdog
// arrives again.
func TestHeartbeatEndToEnd(t *testing.T) {
	bin := alertmanagerBinary(t)
	dsn := migrationstest.DSN(t, migrations.SQLite)
	token := createToken(t, dsn, "alertmanager-heartbeat")

	// A file may not say less than 1m; the store takes any interval, and
	// the test cannot wait minutes. Alertmanager repeats every 2s.
	const interval = 8 * time.Second
	ms, err := labels.ParseMatchers(`alertname="Watchdog"`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rotation.Config{Heartbeats: []rotation.Heartbeat{{Name: "prometheus-watchdog", Matchers: ms,
		Interval: interval, Labels: map[string]string{"severity": "critical"}}}}
	if _, err := rotationstore.New(migrationstest.Open(t, dsn)).Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}

	qp := startServer(t, dsn)
	amURL, killAlertmanager := startKillableAlertmanager(t, bin, qp.URL, token)
	now := time.Now().UTC().Truncate(time.Second)
	endsAt := now.Add(time.Hour)
	watchdog := map[string]string{"alertname": "Watchdog", "severity": "none"}
	postToAlertmanager(t, amURL, []amPostableAlert{{Labels: watchdog,
		Annotations: map[string]string{"summary": "The alerting pipeline works."}, StartsAt: now, EndsAt: &endsAt}})

	// Alertmanager keeps repeating the Watchdog for longer than the
	// interval, and quietpager hears it.
	const gauge = `quietpager_heartbeat_last_seen_seconds{heartbeat="prometheus-watchdog"}`
	var watchdogFP string
	waitFor(t, 30*time.Second, "the Watchdog to arrive repeatedly for longer than the interval", func() (bool, string) {
		alerts, err := listAlerts(qp.URL, token)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "Watchdog" {
				watchdogFP = a.Fingerprint
			}
		}
		if watchdogFP == "" {
			return false, fmt.Sprintf("no Watchdog among %d alerts", len(alerts))
		}
		eps, err := listEpisodes(qp.URL, token, watchdogFP)
		if err != nil || len(eps) == 0 {
			return false, fmt.Sprintf("episodes %v, %v", eps, err)
		}
		return eps[0].Notifications >= 6, fmt.Sprintf("%d notifications", eps[0].Notifications)
	})
	seen, err := metricValue(qp.URL, gauge)
	if err != nil || time.Since(time.Unix(int64(seen), 0)) > time.Minute {
		t.Errorf("%s = %v (%v), want a moment ago", gauge, seen, err)
	}
	if id, err := incidentTitled(qp.URL, token, rotation.HeartbeatAlertname); err == nil {
		in, _ := getIncident(qp.URL, token, id)
		t.Fatalf("the heartbeat is arriving, yet incident %+v is about it missing", in)
	}

	killAlertmanager()
	killedAt := time.Now()
	var id int64
	waitFor(t, 30*time.Second, "an incident about the missing heartbeat", func() (bool, string) {
		id, err = incidentTitled(qp.URL, token, rotation.HeartbeatAlertname)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	in, err := getIncident(qp.URL, token, id)
	if err != nil {
		t.Fatal(err)
	}
	if opened := in.events("opened"); in.State != "open" || in.Alerts != 1 || len(opened) != 1 || opened[0].At.Before(killedAt) {
		t.Errorf("incident %+v, want open with one alert, opened after Alertmanager died at %s", in, killedAt)
	}
	alerts, err := listAlerts(qp.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	var missing []apiAlert
	for _, a := range alerts {
		if a.Labels["alertname"] == rotation.HeartbeatAlertname {
			missing = append(missing, a)
		}
	}
	if len(missing) != 1 || missing[0].State != "firing" || missing[0].Labels["heartbeat"] != "prometheus-watchdog" ||
		missing[0].Labels["severity"] != "critical" || missing[0].Annotations["summary"] == "" {
		t.Errorf("heartbeat alerts %+v, want one firing, heartbeat=prometheus-watchdog, severity=critical, with a summary", missing)
	}

	// The Watchdog is back (a new Alertmanager, here its webhook): the
	// alert and the incident resolve.
	mustPostWebhook(t, qp.URL, token, webhookBody(t, firing(watchdog)), 200)
	waitFor(t, 30*time.Second, "the heartbeat incident to resolve", func() (bool, string) {
		in, err := getIncident(qp.URL, token, id)
		if err != nil {
			return false, err.Error()
		}
		return in.State == "resolved", in.State
	})
}
