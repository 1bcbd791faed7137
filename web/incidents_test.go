package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
)

// hookAlert is one alert of a webhook built by notification.
type hookAlert struct {
	labels   map[string]string
	startsAt time.Time
	endsAt   time.Time // zero while firing
}

// notification is a version 4 webhook body for the group
// {}:{alertname="<alertname>"} of receiver web\.hook, carrying alerts;
// an alert with an endsAt is resolved.
func notification(t testing.TB, alertname string, alerts ...hookAlert) []byte {
	t.Helper()
	out := make([]map[string]any, len(alerts))
	status := "resolved"
	for i, a := range alerts {
		st, ends := "resolved", a.endsAt.UTC().Format(time.RFC3339Nano)
		if a.endsAt.IsZero() {
			st, ends, status = "firing", "0001-01-01T00:00:00Z", "firing"
		}
		out[i] = map[string]any{
			"status":       st,
			"labels":       a.labels,
			"annotations":  map[string]string{"summary": alertname + " fires"},
			"startsAt":     a.startsAt.UTC().Format(time.RFC3339Nano),
			"endsAt":       ends,
			"generatorURL": "http://prometheus:9090/graph",
			"fingerprint":  dedupe.Fingerprint(a.labels),
		}
	}
	b, err := json.Marshal(map[string]any{
		"receiver": "web\\.hook", "status": status, "alerts": out,
		"groupLabels": map[string]string{"alertname": alertname}, "commonLabels": map[string]string{"alertname": alertname},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093",
		"version": "4", "groupKey": `{}:{alertname="` + alertname + `"}`, "truncatedAlerts": 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// hostAlerts returns firing alerts alertname{instance="host-i:9100"} for
// i in [from, to), all started at startsAt.
func hostAlerts(alertname string, from, to int, startsAt time.Time) []hookAlert {
	out := make([]hookAlert, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, hookAlert{startsAt: startsAt, labels: map[string]string{
			"alertname": alertname, "instance": fmt.Sprintf("host-%d:9100", i), "severity": "page"}})
	}
	return out
}

func (s *server) mustPost(body []byte) {
	s.t.Helper()
	if r := s.post(s.Token, body); r.Status != http.StatusOK {
		s.t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
}

// incidents lists incidents through the API; query is already encoded.
func (s *server) incidents(query string) []dedupe.Incident {
	s.t.Helper()
	r := s.get("/api/v1/incidents?" + query)
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/incidents?%s: %d %s", query, r.Status, r.Body)
	}
	var out struct {
		Incidents []dedupe.Incident `json:"incidents"`
	}
	r.JSON(s.t, &out)
	if out.Incidents == nil {
		s.t.Errorf("GET /api/v1/incidents?%s: %s, want a JSON list (never null)", query, r.Body)
	}
	return out.Incidents
}

// incident reads one incident with its episodes and timeline.
func (s *server) incident(id int64) dedupe.IncidentDetail {
	s.t.Helper()
	r := s.get("/api/v1/incidents/" + strconv.FormatInt(id, 10))
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/incidents/%d: %d %s", id, r.Status, r.Body)
	}
	var d dedupe.IncidentDetail
	r.JSON(s.t, &d)
	return d
}

// transition POSTs /api/v1/incidents/{id}/{verb} with the server's token
// and body (nil for none).
func (s *server) transition(id, verb string, body []byte) response {
	s.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + s.Token}
	var rd io.Reader
	if body != nil {
		h["Content-Type"] = "application/json"
		rd = bytes.NewReader(body)
	}
	return s.do(s.request(http.MethodPost, "/api/v1/incidents/"+id+"/"+verb, rd, h))
}

// mustTransition is transition expecting 200 with the updated incident.
func (s *server) mustTransition(id int64, verb string, body []byte) dedupe.IncidentDetail {
	s.t.Helper()
	r := s.transition(strconv.FormatInt(id, 10), verb, body)
	if r.Status != http.StatusOK {
		s.t.Fatalf("POST /api/v1/incidents/%d/%s: %d %s", id, verb, r.Status, r.Body)
	}
	var d dedupe.IncidentDetail
	r.JSON(s.t, &d)
	if d.ID != id {
		s.t.Errorf("POST /api/v1/incidents/%d/%s answered incident %d", id, verb, d.ID)
	}
	return d
}

// metric reads one unlabelled sample from /metrics; a metric that is not
// there yet reads as 0.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	r := s.do(s.request(http.MethodGet, "/metrics", nil, nil))
	if r.Status != http.StatusOK {
		s.t.Fatalf("/metrics: %d", r.Status)
	}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.t.Fatalf("/metrics: %s: %v", sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

func events(d dedupe.IncidentDetail, kind string) []dedupe.Event {
	var out []dedupe.Event
	for _, e := range d.Timeline {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func kinds(d dedupe.IncidentDetail) []string {
	out := make([]string, len(d.Timeline))
	for i, e := range d.Timeline {
		out[i] = e.Kind
	}
	return out
}

// byTitle finds the incident titled title; it fails the test if there is
// not exactly one.
func byTitle(t *testing.T, list []dedupe.Incident, title string) dedupe.Incident {
	t.Helper()
	var found []dedupe.Incident
	for _, in := range list {
		if in.Title == title {
			found = append(found, in)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d incidents titled %q, want 1: %+v", len(found), title, list)
	}
	return found[0]
}

func titles(list []dedupe.Incident) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.Title
	}
	return out
}

func TestIncidentsListFilters(t *testing.T) {
	s := newServer(t)
	started := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	s.mustPost(notification(t, "DiskFull", hostAlerts("DiskFull", 0, 2, started)...))
	s.mustPost(notification(t, "HighLatency", hostAlerts("HighLatency", 0, 3, started)...))
	s.mustPost(notification(t, "BackupFailed", hostAlerts("BackupFailed", 0, 1, started)...))

	all := s.incidents("")
	if got, want := titles(all), []string{"BackupFailed", "HighLatency", "DiskFull"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("incidents %v, want %v (newest first)", got, want)
	}
	disk := byTitle(t, all, "DiskFull")
	if disk.State != dedupe.IncidentOpen || disk.Alerts != 2 || disk.Firing != 2 || disk.Episodes != 2 ||
		disk.Flapping != 0 || disk.Receiver != "web.hook" || disk.GroupKey != `{}:{alertname="DiskFull"}` ||
		disk.AcknowledgedAt != nil || disk.ResolvedAt != nil || disk.OpenedAt.IsZero() {
		t.Errorf("DiskFull incident read back wrong: %+v", disk)
	}
	if len(disk.CommonLabels) != 2 || disk.CommonLabels["alertname"] != "DiskFull" || disk.CommonLabels["severity"] != "page" {
		t.Errorf("DiskFull common labels %v, want alertname and severity only", disk.CommonLabels)
	}
	if !strings.Contains(disk.Summary, "2 of 2 alerts firing") {
		t.Errorf("DiskFull summary %q does not say 2 of 2 alerts firing", disk.Summary)
	}
	latency := byTitle(t, all, "HighLatency")
	backup := byTitle(t, all, "BackupFailed")
	if latency.Alerts != 3 || backup.Alerts != 1 {
		t.Errorf("alerts per incident: HighLatency %d (want 3), BackupFailed %d (want 1)", latency.Alerts, backup.Alerts)
	}

	s.mustTransition(latency.ID, "ack", nil)
	s.mustTransition(backup.ID, "resolve", nil)

	now := time.Now().UTC()
	q := url.QueryEscape
	tests := []struct {
		query string
		want  []string
	}{
		{"state=open", []string{"DiskFull"}},
		{"state=acknowledged", []string{"HighLatency"}},
		{"state=resolved", []string{"BackupFailed"}},
		{"since=1h", []string{"BackupFailed", "HighLatency", "DiskFull"}},
		{"since=90m&state=open", []string{"DiskFull"}},
		{"since=" + q(now.Add(-time.Hour).Format(time.RFC3339)), []string{"BackupFailed", "HighLatency", "DiskFull"}},
		{"since=" + q(now.Add(time.Hour).Format(time.RFC3339)), []string{}},
		{"since=" + q(now.Add(-time.Hour).In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339)), []string{"BackupFailed", "HighLatency", "DiskFull"}},
		// opened at or after: the incident opened at that very moment is in.
		{"since=" + q(latency.OpenedAt.Format(time.RFC3339Nano)), []string{"BackupFailed", "HighLatency"}},
		{"limit=1", []string{"BackupFailed"}},
		{"limit=2&state=acknowledged", []string{"HighLatency"}},
	}
	for _, tt := range tests {
		got := titles(s.incidents(tt.query))
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("GET /api/v1/incidents?%s = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestIncidentsRejectBadQueries(t *testing.T) {
	s := newServer(t)
	s.mustPost(payload(t, "DiskFull", 1, 0))
	tests := []struct {
		query   string
		message string
	}{
		{"state=closed", "state"},
		{"state=OPEN", "state"},
		{"state=firing", "state"},
		{"since=yesterday", "since"},
		{"since=-1h", "since"},
		{"since=0s", "since"},
		{"since=2026-13-01T00:00:00Z", "since"},
		{"since=2026-11-03", "since"},
		{"limit=0", "limit"},
		{"limit=-5", "limit"},
		{"limit=ten", "limit"},
		{"limit=10001", "limit"},
	}
	for _, tt := range tests {
		r := s.get("/api/v1/incidents?" + tt.query)
		if r.Status != http.StatusBadRequest {
			t.Errorf("GET /api/v1/incidents?%s: %d, want 400: %s", tt.query, r.Status, r.Body)
			continue
		}
		if msg := r.ErrorMessage(t); !strings.Contains(msg, tt.message) {
			t.Errorf("GET /api/v1/incidents?%s: error %q does not mention %q", tt.query, msg, tt.message)
		}
	}
}

func TestIncidentsAPIRequiresToken(t *testing.T) {
	s := newServer(t)
	s.mustPost(payload(t, "DiskFull", 1, 0))
	id := strconv.FormatInt(s.incidents("")[0].ID, 10)
	for _, rq := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/incidents"},
		{http.MethodGet, "/api/v1/incidents/" + id},
		{http.MethodPost, "/api/v1/incidents/" + id + "/ack"},
		{http.MethodPost, "/api/v1/incidents/" + id + "/resolve"},
	} {
		for _, auth := range []string{"", "Bearer qp_wrong"} {
			h := map[string]string{}
			if auth != "" {
				h["Authorization"] = auth
			}
			r := s.do(s.request(rq.method, rq.path, nil, h))
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q: %d, want 401", rq.method, rq.path, auth, r.Status)
				continue
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", rq.method, rq.path)
			}
			r.ErrorMessage(t)
		}
	}
	// Nothing changed.
	if in := s.incidents("")[0]; in.State != dedupe.IncidentOpen {
		t.Errorf("incident %s after unauthorised requests: state %s, want open", id, in.State)
	}
}

func TestIncidentDetail(t *testing.T) {
	s := newServer(t)
	started := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	alerts := hostAlerts("DiskFull", 0, 2, started)
	s.mustPost(notification(t, "DiskFull", alerts...))
	list := s.incidents("")
	if len(list) != 1 {
		t.Fatalf("%d incidents, want 1: %+v", len(list), list)
	}
	d := s.incident(list[0].ID)
	if d.ID != list[0].ID || d.Title != "DiskFull" || d.State != dedupe.IncidentOpen || d.Alerts != 2 {
		t.Errorf("incident read back wrong: %+v", d.Incident)
	}
	if len(d.EpisodeList) != 2 {
		t.Fatalf("%d episodes, want 2: %+v", len(d.EpisodeList), d.EpisodeList)
	}
	want := map[string]map[string]string{}
	for _, a := range alerts {
		want[dedupe.Fingerprint(a.labels)] = a.labels
	}
	for _, e := range d.EpisodeList {
		ls, ok := want[e.Fingerprint]
		if !ok {
			t.Errorf("episode of unknown alert %s: %+v", e.Fingerprint, e)
			continue
		}
		if fmt.Sprint(e.Labels) != fmt.Sprint(ls) || e.Alertname != "DiskFull" || e.State != dedupe.Firing ||
			!e.StartsAt.Equal(started) || e.EndsAt != nil || e.Flapping || e.IncidentID == nil || *e.IncidentID != d.ID {
			t.Errorf("episode read back wrong: %+v, want labels %v", e, ls)
		}
	}
	if len(d.Timeline) != 1 {
		t.Fatalf("timeline %+v, want one entry", d.Timeline)
	}
	if e := d.Timeline[0]; e.Kind != dedupe.EventOpened || e.Actor != dedupe.ActorAlertmanager ||
		!strings.Contains(e.Detail, "2 alerts") || e.At.IsZero() {
		t.Errorf("timeline entry %+v, want opened by alertmanager with 2 alerts", e)
	}

	for _, id := range []string{"999", "0", "-1", "abc", "1.5", "9223372036854775808"} {
		r := s.get("/api/v1/incidents/" + id)
		if r.Status != http.StatusNotFound {
			t.Errorf("GET /api/v1/incidents/%s: %d, want 404: %s", id, r.Status, r.Body)
			continue
		}
		r.ErrorMessage(t)
	}
}

func TestIncidentAcknowledgeAndResolve(t *testing.T) {
	s := newServer(t)
	started := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	s.mustPost(notification(t, "DiskFull", hostAlerts("DiskFull", 0, 2, started)...))
	s.mustPost(notification(t, "BackupFailed", hostAlerts("BackupFailed", 0, 1, started)...))
	s.mustPost(notification(t, "CertExpiry", hostAlerts("CertExpiry", 0, 1, started)...))
	all := s.incidents("")
	disk, backup, cert := byTitle(t, all, "DiskFull").ID, byTitle(t, all, "BackupFailed").ID, byTitle(t, all, "CertExpiry").ID

	// Acknowledge with an actor.
	d := s.mustTransition(disk, "ack", []byte(`{"actor":"alice"}`))
	if d.State != dedupe.IncidentAcknowledged || d.AcknowledgedBy != "alice" || d.AcknowledgedAt == nil || d.ResolvedAt != nil {
		t.Errorf("after ack: %+v, want acknowledged by alice", d.Incident)
	}
	acks := events(d, dedupe.EventAcknowledged)
	if len(acks) != 1 || acks[0].Actor != "alice" {
		t.Errorf("timeline after ack: %+v, want one acknowledged entry by alice", d.Timeline)
	}
	if got := s.incident(disk); got.State != dedupe.IncidentAcknowledged || got.AcknowledgedBy != "alice" {
		t.Errorf("GET after ack: %+v", got.Incident)
	}

	// Again, by someone else: nothing changes.
	ackedAt := *d.AcknowledgedAt
	d = s.mustTransition(disk, "ack", []byte(`{"actor":"bob"}`))
	if d.State != dedupe.IncidentAcknowledged || d.AcknowledgedBy != "alice" || !d.AcknowledgedAt.Equal(ackedAt) {
		t.Errorf("after a second ack: %+v, want still acknowledged by alice at %s", d.Incident, ackedAt)
	}
	if n := len(events(d, dedupe.EventAcknowledged)); n != 1 {
		t.Errorf("%d acknowledged entries after acknowledging twice, want 1: %+v", n, d.Timeline)
	}

	// An acknowledged incident still collects the new alerts of its group.
	s.mustPost(notification(t, "DiskFull", hostAlerts("DiskFull", 0, 3, started)...))
	d = s.incident(disk)
	if d.State != dedupe.IncidentAcknowledged || d.Alerts != 3 || len(events(d, dedupe.EventAlertAdded)) != 1 {
		t.Errorf("acknowledged incident after a new alert: %+v, timeline %v", d.Incident, kinds(d))
	}
	if n := len(s.incidents("")); n != 3 {
		t.Errorf("%d incidents after a new alert joined an acknowledged one, want 3", n)
	}

	// Resolve without a body: the actor is the token's name.
	d = s.mustTransition(disk, "resolve", nil)
	if d.State != dedupe.IncidentResolved || d.ResolvedBy != "token:alertmanager" || d.ResolvedAt == nil ||
		d.AcknowledgedBy != "alice" {
		t.Errorf("after resolve: %+v, want resolved by token:alertmanager, still acknowledged by alice", d.Incident)
	}
	res := events(d, dedupe.EventResolved)
	if len(res) != 1 || res[0].Actor != "token:alertmanager" {
		t.Errorf("timeline after resolve: %+v, want one resolved entry by token:alertmanager", d.Timeline)
	}
	d = s.mustTransition(disk, "resolve", []byte(`{"actor":"carol"}`))
	if d.ResolvedBy != "token:alertmanager" || len(events(d, dedupe.EventResolved)) != 1 {
		t.Errorf("after resolving twice: resolved by %q, timeline %+v; want one resolve by token:alertmanager",
			d.ResolvedBy, d.Timeline)
	}

	// Acknowledging a resolved incident is a conflict and changes nothing.
	r := s.transition(strconv.FormatInt(disk, 10), "ack", []byte(`{"actor":"dave"}`))
	if r.Status != http.StatusConflict {
		t.Errorf("ack after resolve: %d, want 409: %s", r.Status, r.Body)
	} else if msg := r.ErrorMessage(t); !strings.Contains(msg, "resolved") {
		t.Errorf("ack after resolve: error %q does not say the incident is resolved", msg)
	}
	if got := s.incident(disk); got.State != dedupe.IncidentResolved || len(got.Timeline) != len(d.Timeline) {
		t.Errorf("a refused ack changed the incident: %+v, timeline %v", got.Incident, kinds(got))
	}

	// Resolve straight from open, with an actor; then ack is a conflict.
	d = s.mustTransition(backup, "resolve", []byte(`{"actor":"carol"}`))
	if d.State != dedupe.IncidentResolved || d.ResolvedBy != "carol" || d.AcknowledgedAt != nil {
		t.Errorf("backup after resolve: %+v, want resolved by carol, never acknowledged", d.Incident)
	}
	if r := s.transition(strconv.FormatInt(backup, 10), "ack", nil); r.Status != http.StatusConflict {
		t.Errorf("ack of resolved backup incident: %d, want 409: %s", r.Status, r.Body)
	}

	// Acknowledge without a body.
	d = s.mustTransition(cert, "ack", nil)
	if d.AcknowledgedBy != "token:alertmanager" {
		t.Errorf("ack without a body: acknowledged by %q, want token:alertmanager", d.AcknowledgedBy)
	}
	if e := events(d, dedupe.EventAcknowledged); len(e) != 1 || e[0].Actor != "token:alertmanager" {
		t.Errorf("timeline after ack without a body: %+v", d.Timeline)
	}
	// An empty JSON object or an empty actor also means the token.
	d = s.mustTransition(cert, "ack", []byte(`{}`))
	if d.AcknowledgedBy != "token:alertmanager" || len(events(d, dedupe.EventAcknowledged)) != 1 {
		t.Errorf("ack with {}: %+v, timeline %v", d.Incident, kinds(d))
	}

	// Unknown incidents, malformed ids and malformed bodies.
	for _, verb := range []string{"ack", "resolve"} {
		for _, id := range []string{"999", "0", "abc"} {
			r := s.transition(id, verb, nil)
			if r.Status != http.StatusNotFound {
				t.Errorf("POST /api/v1/incidents/%s/%s: %d, want 404: %s", id, verb, r.Status, r.Body)
				continue
			}
			r.ErrorMessage(t)
		}
		for _, body := range []string{`{`, `{"actor":5}`, `[]`, `not json`, `"alice"`} {
			r := s.transition(strconv.FormatInt(cert, 10), verb, []byte(body))
			if r.Status != http.StatusBadRequest {
				t.Errorf("POST /api/v1/incidents/%d/%s with body %s: %d, want 400: %s", cert, verb, body, r.Status, r.Body)
				continue
			}
			r.ErrorMessage(t)
		}
	}
	if got := s.incident(cert); got.State != dedupe.IncidentAcknowledged {
		t.Errorf("malformed requests changed the incident: %+v", got.Incident)
	}

	// A new alert in the group of a resolved incident, within the reopen
	// window, reopens it: open again, the acknowledgement cleared.
	s.mustPost(notification(t, "DiskFull", hostAlerts("DiskFull", 0, 4, started)...))
	d = s.incident(disk)
	if d.State != dedupe.IncidentOpen || d.AcknowledgedAt != nil || d.AcknowledgedBy != "" ||
		d.ResolvedAt != nil || d.Alerts != 4 || len(events(d, dedupe.EventReopened)) != 1 {
		t.Errorf("after a new alert in the resolved incident's group: %+v, timeline %v; want reopened", d.Incident, kinds(d))
	}
	if n := len(s.incidents("")); n != 3 {
		t.Errorf("%d incidents after a reopen, want 3", n)
	}
}

// A storm of one group is one incident, however many notifications it
// takes: Alertmanager sends the whole group every time, growing.
func TestIncidentStormIsOneIncident(t *testing.T) {
	s := newServer(t)
	started := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	before := s.metric("quietpager_incidents_opened_total")
	for i, n := range []int{500, 600, 700, 800, 900, 1000} {
		r := s.post(s.Token, notification(t, "Storm", hostAlerts("Storm", 0, n, started)...))
		if r.Status != http.StatusOK {
			t.Fatalf("notification %d (%d alerts): %d %s", i+1, n, r.Status, r.Body)
		}
	}
	list := s.incidents("")
	if len(list) != 1 {
		t.Fatalf("%d incidents after a storm of one group, want 1: %v", len(list), titles(list))
	}
	in := list[0]
	if in.Alerts != 1000 || in.Firing != 1000 || in.Episodes != 1000 || in.State != dedupe.IncidentOpen {
		t.Errorf("storm incident: %+v, want 1000 alerts, firing, 1000 episodes, open", in)
	}
	if !strings.Contains(in.Summary, "1000 of 1000") {
		t.Errorf("storm summary %q", in.Summary)
	}
	d := s.incident(in.ID)
	if len(d.EpisodeList) != 1000 {
		t.Errorf("%d episodes listed, want 1000", len(d.EpisodeList))
	}
	// The five later notifications came within a minute: one entry counts
	// their alerts.
	added := events(d, dedupe.EventAlertAdded)
	if o := len(events(d, dedupe.EventOpened)); o != 1 || len(added) != 1 || len(d.Timeline) != 2 {
		t.Errorf("storm timeline %v: want one opened and one alert_added", kinds(d))
	} else if !strings.HasPrefix(added[0].Detail, "500 alerts") {
		t.Errorf("alert_added detail %q should count 500 alerts", added[0].Detail)
	}
	if got := s.metric("quietpager_incidents_opened_total"); got != before+1 {
		t.Errorf("quietpager_incidents_opened_total went from %v to %v over a storm, want +1", before, got)
	}
	if got := s.storedCount(); got != 1000 {
		t.Errorf("%d alerts stored, want 1000", got)
	}
}

// apiAlert is an alert as GET /api/v1/alerts shows it, hints left raw:
// they hold durations spelled as rule files spell them.
type apiAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	State       string            `json:"state"`
	Episodes    int               `json:"episodes"`
	Flapping    *bool             `json:"flapping"`
	FlapScore   *float64          `json:"flap_score"`
	Hints       map[string]any    `json:"hints"`
}

func (s *server) rawAlerts(query string) []apiAlert {
	s.t.Helper()
	r := s.get("/api/v1/alerts?" + query)
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/alerts?%s: %d %s", query, r.Status, r.Body)
	}
	var out struct {
		Alerts []apiAlert `json:"alerts"`
	}
	r.JSON(s.t, &out)
	for _, a := range out.Alerts {
		if a.Flapping == nil || a.FlapScore == nil || a.Hints == nil {
			s.t.Errorf("alert %s lacks flapping, flap_score or hints: %+v", a.Fingerprint, a)
		}
	}
	return out.Alerts
}

// An alert that fires for a minute every ten minutes starts flapping at its
// fourth resolve (docs/flapping.md, defaults): from then on its pages are
// held, its incident stays open, and the alert list shows it as flapping
// with the rule hints.
func TestAlertsFlappingFilterAndHints(t *testing.T) {
	s := newServer(t)
	now := time.Now().UTC().Truncate(time.Second)
	base := now.Add(-75 * time.Minute)

	steady := hookAlert{startsAt: base, labels: map[string]string{"alertname": "Steady", "instance": "db-1", "severity": "page"}}
	s.mustPost(notification(t, "Steady", steady))

	flappy := map[string]string{"alertname": "Flappy", "instance": "web-1", "severity": "page"}
	fp := dedupe.Fingerprint(flappy)
	const cycles = 7
	opened0 := s.metric("quietpager_incidents_opened_total")
	var held []float64 // pages held, after each cycle's firing
	for i := range cycles {
		start := base.Add(time.Duration(i) * 10 * time.Minute)
		s.mustPost(notification(t, "Flappy", hookAlert{labels: flappy, startsAt: start}))
		held = append(held, s.metric("quietpager_pages_held_flapping_total"))
		if i == 0 {
			if got := s.metric("quietpager_incidents_opened_total"); got != opened0+1 {
				t.Errorf("quietpager_incidents_opened_total %v → %v after the first firing, want +1", opened0, got)
			}
		}
		s.mustPost(notification(t, "Flappy", hookAlert{labels: flappy, startsAt: start, endsAt: start.Add(time.Minute)}))
	}
	// The 4th resolve starts flapping: the firings of cycles 5, 6 and 7 are held.
	if want := []float64{0, 0, 0, 0, 1, 2, 3}; fmt.Sprint(held) != fmt.Sprint(want) {
		t.Errorf("quietpager_pages_held_flapping_total after each firing: %v, want %v", held, want)
	}
	if got := s.metric("quietpager_flapping_started_total"); got != 1 {
		t.Errorf("quietpager_flapping_started_total %v, want 1", got)
	}
	if got := s.metric("quietpager_incidents_opened_total"); got <= opened0+1 {
		t.Errorf("quietpager_incidents_opened_total %v → %v, want reopens counted too", opened0, got)
	}

	flapping := s.rawAlerts("flapping=true")
	if len(flapping) != 1 || flapping[0].Fingerprint != fp {
		t.Fatalf("flapping=true listed %+v, want only Flappy (%s)", flapping, fp)
	}
	a := flapping[0]
	if !*a.Flapping || *a.FlapScore < 6 || a.Episodes != cycles || a.State != "resolved" {
		t.Errorf("flapping alert: flapping %v, score %v, %d episodes, state %s; want flapping, score ≥ 6, %d episodes, resolved",
			*a.Flapping, *a.FlapScore, a.Episodes, a.State, cycles)
	}
	if f, ok := a.Hints["for"].(string); !ok || f != "2m" {
		t.Errorf("hints.for = %#v, want \"2m\" (1-minute transient episodes); hints %v", a.Hints["for"], a.Hints)
	}
	if k, ok := a.Hints["keep_firing_for"].(string); !ok || k != "10m" {
		t.Errorf("hints.keep_firing_for = %#v, want \"10m\" (9-minute gaps); hints %v", a.Hints["keep_firing_for"], a.Hints)
	}
	if a.Hints["episodes"] != float64(cycles) || a.Hints["transient"] != float64(cycles) {
		t.Errorf("hints %v, want %d episodes, all transient", a.Hints, cycles)
	}

	notFlapping := s.rawAlerts("flapping=false")
	if len(notFlapping) != 1 || notFlapping[0].Labels["alertname"] != "Steady" || *notFlapping[0].Flapping {
		t.Errorf("flapping=false listed %+v, want only Steady", notFlapping)
	} else if _, ok := notFlapping[0].Hints["for"]; ok {
		t.Errorf("Steady (one firing episode) got a for: hint: %v", notFlapping[0].Hints)
	}
	if all := s.rawAlerts(""); len(all) != 2 {
		t.Errorf("%d alerts listed without a filter, want 2", len(all))
	}
	if got := s.rawAlerts("flapping=true&match=" + url.QueryEscape(`alertname="Steady"`)); len(got) != 0 {
		t.Errorf("flapping=true with a matcher for Steady listed %+v", got)
	}

	for _, bad := range []string{"maybe", "yes", "2"} {
		r := s.get("/api/v1/alerts?flapping=" + bad)
		if r.Status != http.StatusBadRequest {
			t.Errorf("flapping=%s: %d, want 400: %s", bad, r.Status, r.Body)
		} else if msg := r.ErrorMessage(t); !strings.Contains(msg, "flapping") {
			t.Errorf("flapping=%s: error %q does not mention flapping", bad, msg)
		}
	}

	// One incident, held open by the flapping although its alert resolved,
	// with one flapping notice.
	var inc dedupe.Incident
	for _, in := range s.incidents("") {
		if in.Title == "Flappy" {
			if inc.ID != 0 {
				t.Fatalf("more than one Flappy incident: %v", titles(s.incidents("")))
			}
			inc = in
		}
	}
	d := s.incident(inc.ID)
	if d.State != dedupe.IncidentOpen || d.Flapping != 1 || d.Episodes != cycles || d.Firing != 0 {
		t.Errorf("Flappy incident %+v, want open with 1 flapping alert, %d episodes, none firing", d.Incident, cycles)
	}
	if n := len(events(d, dedupe.EventFlappingStarted)); n != 1 {
		t.Errorf("%d flapping_started entries, want 1: %v", n, kinds(d))
	}
	if n := len(events(d, dedupe.EventOpened)); n != 1 {
		t.Errorf("%d opened entries, want 1: %v", n, kinds(d))
	}
	if !strings.Contains(d.Summary, "1 flapping") {
		t.Errorf("summary %q does not mention the flapping alert", d.Summary)
	}
	for _, e := range d.EpisodeList {
		if !e.Flapping {
			t.Errorf("episode %+v of a flapping alert not marked flapping", e)
		}
	}
}

// BenchmarkStormWebhook sends webhooks of 500 new alerts in one group
// (one new incident each) to a fresh server.
func BenchmarkStormWebhook(b *testing.B) {
	const alerts = 500
	srv := newServer(b)
	base, token := srv.URL, srv.Token
	// Each iteration renames the alerts so that they are new: the
	// placeholder has the width of the counter that replaces it, and the
	// payload carries no fingerprints, so quietpager computes them from the
	// renamed labels.
	tmpl := payload(b, "Storm00000000", alerts, 0)
	client := &http.Client{}
	i := 0
	for b.Loop() {
		i++
		body := bytes.ReplaceAll(tmpl, []byte("Storm00000000"), fmt.Appendf(nil, "Storm%08d", i))
		req, err := http.NewRequest(http.MethodPost, base+"/hooks/alertmanager", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("webhook %d: %d %s", i, resp.StatusCode, msg)
		}
	}
	b.ReportMetric(float64(alerts*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
