package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// apiIncident and apiEvent are what quietpager's incident API returns.
type apiIncident struct {
	ID             int64      `json:"id"`
	State          string     `json:"state"`
	Title          string     `json:"title"`
	Alerts         int        `json:"alerts"`
	Firing         int        `json:"firing"`
	Episodes       int        `json:"episodes"`
	Flapping       int        `json:"flapping"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	Timeline       []apiEvent `json:"timeline"`
}

type apiEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail"`
}

func (in apiIncident) events(kind string) []apiEvent {
	var out []apiEvent
	for _, e := range in.Timeline {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (in apiIncident) kinds() []string {
	out := make([]string, len(in.Timeline))
	for i, e := range in.Timeline {
		out[i] = e.Kind
	}
	return out
}

func listIncidents(baseURL, token string) ([]apiIncident, error) {
	var out struct {
		Incidents []apiIncident `json:"incidents"`
	}
	err := getJSON(baseURL, "/api/v1/incidents", token, &out)
	return out.Incidents, err
}

func getIncident(baseURL, token string, id int64) (apiIncident, error) {
	var out apiIncident
	err := getJSON(baseURL, "/api/v1/incidents/"+strconv.FormatInt(id, 10), token, &out)
	return out, err
}

// flappingFingerprints lists the fingerprints GET /api/v1/alerts?flapping=true
// returns.
func flappingFingerprints(baseURL, token string) ([]string, error) {
	var out struct {
		Alerts []struct {
			Fingerprint string  `json:"fingerprint"`
			Flapping    bool    `json:"flapping"`
			FlapScore   float64 `json:"flap_score"`
		} `json:"alerts"`
	}
	if err := getJSON(baseURL, "/api/v1/alerts?flapping=true", token, &out); err != nil {
		return nil, err
	}
	var fps []string
	for _, a := range out.Alerts {
		if !a.Flapping {
			return nil, fmt.Errorf("flapping=true listed alert %s with flapping false", a.Fingerprint)
		}
		fps = append(fps, a.Fingerprint)
	}
	return fps, nil
}

// metricValue reads one unlabelled sample from quietpager's /metrics.
func metricValue(baseURL, name string) (float64, error) {
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// TestAlertmanagerFlappingAlertIsOneIncident has the real Alertmanager
// deliver one alert firing and resolving again and again, with flap
// detection tuned to notice within seconds: quietpager keeps it one
// incident, flags the alert flapping with one notice on the incident's
// timeline, holds the pages, and the incident can be acknowledged.
func TestAlertmanagerFlappingAlertIsOneIncident(t *testing.T) {
	bin := alertmanagerBinary(t)
	dsn := migrationstest.DSN(t, migrations.SQLite)
	token := createToken(t, dsn, "alertmanager-flap-e2e")
	qp := startServer(t, dsn, "--flap-tau", "1m", "--flap-high", "4", "--flap-low", "1",
		"--flap-quiet", "5s", "--reopen-window", "1m")
	amURL := startAlertmanager(t, bin, qp.URL, token)

	labels := map[string]string{"alertname": "QPFlappy", "instance": "web-1:9100", "severity": "page"}
	fp := dedupe.Fingerprint(labels)
	post := func(startsAt time.Time, endsAt *time.Time) {
		t.Helper()
		postToAlertmanager(t, amURL, []amPostableAlert{{
			Labels:       labels,
			Annotations:  map[string]string{"summary": "web-1 flaps"},
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: "http://prometheus.example/graph?g0.expr=up",
		}})
	}
	// episodeState is the state of the episode that started at startsAt,
	// "" while quietpager has not heard of it.
	episodeState := func(startsAt time.Time) (string, string) {
		eps, err := listEpisodes(qp.URL, token, fp)
		if err != nil {
			return "", err.Error()
		}
		for _, e := range eps {
			if e.StartsAt.Equal(startsAt) {
				return e.State, fmt.Sprintf("%+v", e)
			}
		}
		return "", fmt.Sprintf("no episode starting %s among %+v", startsAt, eps)
	}
	isFlapping := func() bool {
		fps, err := flappingFingerprints(qp.URL, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fps {
			if f == fp {
				return true
			}
			t.Errorf("flapping=true lists %s, which never flapped", f)
		}
		return false
	}

	// Fire and resolve through Alertmanager, each state lasting until
	// quietpager has seen it (Alertmanager sends a group's changes once
	// per group_interval), until quietpager flags the alert.
	// A new startsAt each cycle: Alertmanager starts a new alert only once
	// the previous one has resolved.
	fire := func(what string) time.Time {
		t.Helper()
		startsAt := time.Now().UTC().Truncate(time.Millisecond)
		post(startsAt, nil)
		waitFor(t, 10*time.Second, what+": quietpager to see the firing", func() (bool, string) {
			st, why := episodeState(startsAt)
			return st != "", why
		})
		return startsAt
	}
	resolve := func(what string, startsAt time.Time) {
		t.Helper()
		endsAt := time.Now().UTC().Truncate(time.Millisecond)
		post(startsAt, &endsAt)
		waitFor(t, 10*time.Second, what+": quietpager to see the resolve", func() (bool, string) {
			st, why := episodeState(startsAt)
			return st == "resolved", why
		})
	}
	deadline := time.Now().Add(40 * time.Second)
	cycles := 0
	var firingSince time.Time // zero while resolved
	for !isFlapping() {
		if time.Now().After(deadline) {
			t.Fatalf("alert not flagged flapping after %d fire/resolve cycles through Alertmanager", cycles)
		}
		if firingSince.IsZero() {
			cycles++
			firingSince = fire(fmt.Sprintf("cycle %d", cycles))
		} else {
			resolve(fmt.Sprintf("cycle %d", cycles), firingSince)
			firingSince = time.Time{}
		}
	}
	t.Logf("flagged flapping after %d cycles", cycles)
	if cycles < 2 {
		t.Errorf("flagged flapping after %d cycles; with --flap-high 4 that needs at least 4 state changes", cycles)
	}

	// One more firing while flapping: its page is held and it joins the
	// same incident.
	if !firingSince.IsZero() {
		resolve("after flagging", firingSince)
	}
	fire("while flapping")
	if held, err := metricValue(qp.URL, "quietpager_pages_held_flapping_total"); err != nil || held < 1 {
		t.Errorf("quietpager_pages_held_flapping_total = %v (%v) after a firing while flapping, want ≥ 1", held, err)
	}
	if started, err := metricValue(qp.URL, "quietpager_flapping_started_total"); err != nil || started != 1 {
		t.Errorf("quietpager_flapping_started_total = %v (%v), want 1", started, err)
	}

	list, err := listIncidents(qp.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d incidents for one flapping alert, want 1: %+v", len(list), list)
	}
	in, err := getIncident(qp.URL, token, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.Title != "QPFlappy" || in.State != "open" || in.Alerts != 1 || in.Episodes != cycles+1 || in.Flapping != 1 {
		t.Errorf("incident %+v, want QPFlappy open, 1 alert, %d episodes, 1 flapping", in, cycles+1)
	}
	if n := len(in.events("flapping_started")); n != 1 {
		t.Errorf("%d flapping_started entries, want 1: %v", n, in.kinds())
	} else if e := in.events("flapping_started")[0]; e.Actor != "quietpager" || !strings.Contains(e.Detail, "QPFlappy") {
		t.Errorf("flapping_started entry %+v, want by quietpager naming QPFlappy", e)
	}
	if n := len(in.events("opened")); n != 1 {
		t.Errorf("%d opened entries, want 1: %v", n, in.kinds())
	}

	// Acknowledge it.
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/ack", qp.URL, in.ID),
		strings.NewReader(`{"actor":"e2e"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/incidents/%d/ack: %d %s", in.ID, resp.StatusCode, body)
	}
	var acked apiIncident
	if err := json.Unmarshal(body, &acked); err != nil {
		t.Fatalf("ack answer is not JSON: %v: %s", err, body)
	}
	if acked.State != "acknowledged" || acked.AcknowledgedBy != "e2e" {
		t.Errorf("ack answered %+v, want acknowledged by e2e", acked)
	}
	in, err = getIncident(qp.URL, token, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.State != "acknowledged" || in.AcknowledgedBy != "e2e" || in.AcknowledgedAt == nil {
		t.Errorf("incident after ack: %+v, want acknowledged by e2e", in)
	}
	if acks := in.events("acknowledged"); len(acks) != 1 || acks[0].Actor != "e2e" {
		t.Errorf("timeline after ack %+v, want one acknowledged entry by e2e", in.Timeline)
	}
}
