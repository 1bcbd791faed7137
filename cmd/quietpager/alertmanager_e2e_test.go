package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quietpager/quietpager/integrations/alertmanagertest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// alertmanagerBinary finds the alertmanager binary on PATH; without it the
// test fails on CI and is skipped elsewhere.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	return alertmanagertest.Binary(t)
}

// startAlertmanager runs the real Alertmanager binary on loopback, with
// clustering off, sending its webhooks to quietpager at qpURL with token.
// It returns Alertmanager's base URL; the process is killed when the test
// ends.
func startAlertmanager(t *testing.T, bin, qpURL, token string) string {
	t.Helper()
	amURL, _ := startKillableAlertmanager(t, bin, qpURL, token)
	return amURL
}

// startKillableAlertmanager is startAlertmanager that also returns a kill
// function, for a test in which Alertmanager dies.
func startKillableAlertmanager(t *testing.T, bin, qpURL, token string) (amURL string, kill func()) {
	t.Helper()
	return alertmanagertest.StartKillable(t, bin, fmt.Sprintf(`route:
  receiver: web.hook
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: web.hook
    webhook_configs:
      - url: %s/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, qpURL, token))
}

// amPostableAlert is an alert as Alertmanager's API v2 takes it.
type amPostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL"`
}

func postToAlertmanager(t *testing.T, amURL string, alerts []amPostableAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST alertmanager /api/v2/alerts: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST alertmanager /api/v2/alerts: %s %s", resp.Status, b)
	}
}

// TestAlertmanagerEndToEnd has the real Alertmanager deliver firing
// alerts, repeat notifications and resolves to quietpager, and checks what
// quietpager's API then shows.
func TestAlertmanagerEndToEnd(t *testing.T) {
	bin := alertmanagerBinary(t)
	dsn := migrationstest.DSN(t, migrations.SQLite)
	token := createToken(t, dsn, "alertmanager-e2e")
	qp := startServer(t, dsn)
	amURL := startAlertmanager(t, bin, qp.URL, token)

	startsAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	alerts := []amPostableAlert{
		{
			Labels:       map[string]string{"alertname": "QPDiskFull", "instance": "db1:9100", "severity": "page"},
			Annotations:  map[string]string{"summary": "Disk almost full on db1", "runbook_url": "https://runbooks.example/disk"},
			StartsAt:     startsAt,
			GeneratorURL: "http://prometheus.example/graph?g0.expr=disk",
		},
		{
			Labels:       map[string]string{"alertname": "QPDiskFull", "instance": "db2:9100", "severity": "page"},
			Annotations:  map[string]string{"summary": "Disk almost full on db2"},
			StartsAt:     startsAt,
			GeneratorURL: "http://prometheus.example/graph?g0.expr=disk",
		},
		{
			Labels:       map[string]string{"alertname": "QPHighLatency", "service": "checkout", "severity": "ticket"},
			Annotations:  map[string]string{"summary": "p99 above 2s"},
			StartsAt:     startsAt,
			GeneratorURL: "http://prometheus.example/graph?g0.expr=latency",
		},
	}
	postToAlertmanager(t, amURL, alerts)

	// Alertmanager's own fingerprints, from its API.
	amFingerprints := map[string]string{} // instance or service -> fingerprint
	key := func(ls map[string]string) string { return ls["alertname"] + "/" + ls["instance"] + ls["service"] }
	waitFor(t, 10*time.Second, "alertmanager to list the alerts", func() (bool, string) {
		var got []struct {
			Fingerprint string            `json:"fingerprint"`
			Labels      map[string]string `json:"labels"`
		}
		resp, err := http.Get(amURL + "/api/v2/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			return false, err.Error()
		}
		for _, a := range got {
			amFingerprints[key(a.Labels)] = a.Fingerprint
		}
		return len(amFingerprints) == len(alerts), fmt.Sprintf("%v", amFingerprints)
	})

	// The alerts arrive firing, with their labels, annotations and the
	// receiver's name as configured (Alertmanager sends it regexp-quoted).
	var stored map[string]apiAlert
	waitFor(t, 10*time.Second, "the three alerts to reach quietpager", func() (bool, string) {
		list, err := listAlerts(qp.URL, token)
		if err != nil {
			return false, err.Error()
		}
		stored = map[string]apiAlert{}
		for _, a := range list {
			stored[key(a.Labels)] = a
		}
		return len(stored) == len(alerts), fmt.Sprintf("%d alerts: %+v", len(list), list)
	})
	for _, want := range alerts {
		k := key(want.Labels)
		got := stored[k]
		if !maps.Equal(got.Labels, want.Labels) {
			t.Errorf("%s: labels %v, want %v", k, got.Labels, want.Labels)
		}
		if !maps.Equal(got.Annotations, want.Annotations) {
			t.Errorf("%s: annotations %v, want %v", k, got.Annotations, want.Annotations)
		}
		if got.GeneratorURL != want.GeneratorURL {
			t.Errorf("%s: generator_url %q, want %q", k, got.GeneratorURL, want.GeneratorURL)
		}
		if got.Receiver != "web.hook" {
			t.Errorf("%s: receiver %q, want %q", k, got.Receiver, "web.hook")
		}
		if got.State != "firing" {
			t.Errorf("%s: state %q, want firing", k, got.State)
		}
		if got.Fingerprint != amFingerprints[k] {
			t.Errorf("%s: quietpager fingerprint %q, Alertmanager's %q", k, got.Fingerprint, amFingerprints[k])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Repeat notifications (every repeat_interval) fold into the one
	// episode each alert has; they never start a new one.
	const wantNotifications = 3
	for _, want := range alerts {
		k := key(want.Labels)
		fp := amFingerprints[k]
		waitFor(t, 15*time.Second, fmt.Sprintf("%d notifications of %s", wantNotifications, k), func() (bool, string) {
			eps, err := listEpisodes(qp.URL, token, fp)
			if err != nil {
				return false, err.Error()
			}
			if len(eps) != 1 {
				t.Fatalf("%s: %d episodes after repeat notifications, want 1: %+v", k, len(eps), eps)
			}
			e := eps[0]
			if e.State != "firing" || !e.StartsAt.Equal(startsAt) || e.EndsAt != nil {
				t.Fatalf("%s: episode %+v, want firing since %s with no end", k, e, startsAt)
			}
			return e.Notifications >= wantNotifications, fmt.Sprintf("%+v", e)
		})
	}

	// Resolve them in Alertmanager: it sends the resolves (send_resolved).
	endsAt := time.Now().Add(-time.Second).UTC().Truncate(time.Second)
	for i := range alerts {
		alerts[i].EndsAt = &endsAt
	}
	postToAlertmanager(t, amURL, alerts)
	for _, want := range alerts {
		k := key(want.Labels)
		fp := amFingerprints[k]
		waitFor(t, 10*time.Second, "the resolve of "+k, func() (bool, string) {
			eps, err := listEpisodes(qp.URL, token, fp)
			if err != nil {
				return false, err.Error()
			}
			if len(eps) != 1 {
				t.Fatalf("%s: %d episodes after the resolve, want 1: %+v", k, len(eps), eps)
			}
			return eps[0].State == "resolved", fmt.Sprintf("%+v", eps[0])
		})
		eps, err := listEpisodes(qp.URL, token, fp)
		if err != nil {
			t.Fatal(err)
		}
		if e := eps[0]; e.EndsAt == nil || !e.EndsAt.Equal(endsAt) || e.Notifications <= wantNotifications {
			t.Errorf("%s: resolved episode %+v, want ends_at %s and more than %d notifications", k, e, endsAt, wantNotifications)
		}
	}
	list, err := listAlerts(qp.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.State != "resolved" || a.Episodes != 1 {
			t.Errorf("%s: state %q with %d episodes, want resolved with 1", key(a.Labels), a.State, a.Episodes)
		}
	}
}
