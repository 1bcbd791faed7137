package web_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/integrations/alertmanagertest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// incidentUI is the web UI with docs/examples/oncall.yaml applied and its
// routes choosing each alert's team, as serve wires it; users root
// (admin), alice (member of payments), carol (member of databases) and
// victor (viewer).
type incidentUI struct {
	*uiServer
	Store *dedupestore.Store
	clock atomic.Int64 // the injected clock, Unix nanoseconds
}

func newIncidentUI(t *testing.T, opts ...func(*web.Options)) *incidentUI {
	t.Helper()
	ctx := context.Background()
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	log := slog.New(slog.DiscardHandler)
	oncall := rotationstore.New(db)
	routes := &paging.Routes{Store: oncall, Defaults: dedupe.DefaultPolicy, Logger: log}
	store := dedupestore.New(db, dedupestore.Options{Policies: routes})
	batcher := ingest.NewBatcher(ingest.BatcherOptions{Writer: store, Writers: 1,
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Logger: log})
	batcher.Start()
	t.Cleanup(batcher.Stop)

	s := &incidentUI{uiServer: &uiServer{Accounts: accountstore.New(db), OnCall: oncall}, Store: store}
	s.clock.Store(time.Now().UnixNano())
	s.server = newServerOn(t, db, append([]func(*web.Options){func(o *web.Options) {
		o.Accounts, o.Audit, o.OnCall, o.SessionTTL = s.Accounts, s.Accounts, s.OnCall, 7*24*time.Hour
		o.Submit, o.Alerts, o.Incidents = batcher, store, store
		o.Now = func() time.Time { return time.Unix(0, s.clock.Load()) }
	}}, opts...)...)
	s.applyExample()
	if err := routes.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s.addUser("root", account.Admin, "")
	s.addUser("alice", account.Member, "alice")
	s.addUser("carol", account.Member, "carol")
	s.addUser("victor", account.Viewer, "")
	return s
}

// advance moves the injected clock on.
func (s *incidentUI) advance(d time.Duration) { s.clock.Add(int64(d)) }

// open sends one firing alert through the webhook and returns the id of
// the incident it opened.
func (s *server) open(labels map[string]string) int64 {
	s.t.Helper()
	s.mustPost(notification(s.t, labels["alertname"], hookAlert{labels: labels, startsAt: time.Now().Add(-time.Minute)}))
	for _, in := range s.incidents("state=open") {
		if in.Title == labels["alertname"] {
			return in.ID
		}
	}
	s.t.Fatalf("no open incident for %v", labels)
	return 0
}

var (
	diskFull = map[string]string{"alertname": "DiskFull", "team": "payments", "severity": "critical",
		"instance": "db-1", "cluster": "eu-1"}
	replicationLag = map[string]string{"alertname": "ReplicationLag", "team": "dbs", "severity": "critical",
		"instance": "pg-1"}
)

// text is the page's text as a person reads it: entities decoded.
func (p page) text() string { return html.UnescapeString(p.Body) }

// wantPage fails unless the page has status and every one of want.
func wantPage(t *testing.T, what string, p page, status int, want ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, p.Status, status, p.Body)
	}
	for _, w := range want {
		if !strings.Contains(p.text(), w) {
			t.Errorf("%s: page lacks %q: %s", what, w, p.Body)
		}
	}
}

// wantNot fails if the page has any of unwanted.
func wantNot(t *testing.T, what string, p page, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(p.text(), u) {
			t.Errorf("%s: page has %q, it should not", what, u)
		}
	}
}

func TestIncidentsPageListsAndFilters(t *testing.T) {
	s := newIncidentUI(t)
	a, b := s.open(diskFull), s.open(replicationLag)
	c := s.open(map[string]string{"alertname": "QueueFull", "team": "payments", "severity": "critical"})
	s.mustTransition(a, "ack", []byte(`{"actor":"alice"}`))
	s.mustTransition(c, "resolve", []byte(`{"actor":"alice"}`))
	br := s.login("victor") // viewers read incidents too

	link := func(id int64) string { return fmt.Sprintf(`href="/incidents/%d"`, id) }
	all := br.get("/incidents")
	wantPage(t, "all incidents", all, http.StatusOK, link(a), link(b), link(c), "DiskFull", "ReplicationLag", "QueueFull",
		`class="state-acknowledged"`, `class="state-open"`, `class="state-resolved"`, "payments", "databases", "1/1")
	if i, j, k := strings.Index(all.Body, link(c)), strings.Index(all.Body, link(b)), strings.Index(all.Body, link(a)); i > j || j > k {
		t.Errorf("list is not newest first (#%d, #%d, #%d)", c, b, a)
	}
	// Opened times in the team's zone: payments is Europe/Berlin,
	// databases America/New_York.
	wantPage(t, "zones", all, http.StatusOK, time.Now().In(mustZone("Europe/Berlin")).Format("MST"),
		time.Now().In(mustZone("America/New_York")).Format("MST"))

	for _, q := range []struct {
		query string
		has   []string
		lacks []string
	}{
		{"team=payments", []string{link(a), link(c)}, []string{link(b)}},
		{"team=databases", []string{link(b)}, []string{link(a), link(c)}},
		{"state=acknowledged", []string{link(a)}, []string{link(b), link(c)}},
		{"state=open", []string{link(b)}, []string{link(a), link(c)}},
		{"state=resolved", []string{link(c)}, []string{link(a), link(b)}},
		{"state=open&team=payments", []string{"No incidents that are open for team payments."}, []string{link(a), link(c)}},
	} {
		p := br.get("/incidents?" + q.query)
		wantPage(t, q.query, p, http.StatusOK, q.has...)
		wantNot(t, q.query, p, q.lacks...)
	}
	// The API filters by team too.
	ids := func(in []dedupe.Incident) (out []int64) {
		for _, i := range in {
			out = append(out, i.ID)
		}
		return out
	}
	if got := ids(s.incidents("team=payments")); !slices.Equal(got, []int64{c, a}) {
		t.Errorf("GET /api/v1/incidents?team=payments lists %v, want [%d %d]", got, c, a)
	}
	if got := ids(s.incidents("team=databases&state=open")); !slices.Equal(got, []int64{b}) {
		t.Errorf("GET /api/v1/incidents?team=databases&state=open lists %v, want [%d]", got, b)
	}

	// A day and a half later the resolved one falls out of the last 24
	// hours, but not out of the default week; the unfinished ones stay.
	s.advance(36 * time.Hour)
	p := br.get("/incidents?since=24h")
	wantPage(t, "since=24h", p, http.StatusOK, link(a), link(b))
	wantNot(t, "since=24h", p, link(c))
	wantPage(t, "resolved since=24h", br.get("/incidents?state=resolved&since=24h"), http.StatusOK,
		"No incidents that are resolved (resolved ones from the last 24h).")
	wantPage(t, "default window", br.get("/incidents"), http.StatusOK, link(a), link(b), link(c))
	wantPage(t, "since=30d", br.get("/incidents?since=30d"), http.StatusOK, link(c), `<option selected>30d</option>`)

	for _, q := range []string{"state=sleeping", "since=forever", "since=-1h"} {
		wantPage(t, q, br.get("/incidents?"+q), http.StatusBadRequest)
	}
}

func TestIncidentPageShowsTimelineAlertsAndPages(t *testing.T) {
	s := newIncidentUI(t)
	id := s.open(diskFull)
	ctx := context.Background()
	// One page that reached alice by e-mail, one that failed on the team's webhook.
	for _, pg := range []dedupe.PageRecord{
		{IncidentID: id, Opening: 1, Person: "alice", Channel: dedupe.ChannelEmail, Sent: true, At: time.Now()},
		{IncidentID: id, Opening: 1, Channel: dedupe.ChannelWebhook, Error: "gateway said 502", At: time.Now()},
	} {
		if _, _, err := s.Store.ClaimPage(ctx, pg, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Store.RecordPage(ctx, pg); err != nil {
			t.Fatal(err)
		}
	}

	br := s.login("alice")
	p := br.get(fmt.Sprintf("/incidents/%d", id))
	wantPage(t, "incident page", p, http.StatusOK,
		fmt.Sprintf("#%d DiskFull", id), `class="state state-open"`, "team payments",
		"Timeline", "opened", "alertmanager", `alert DiskFull`,
		`alertname="DiskFull"`, `cluster="eu-1"`, `instance="db-1"`, `severity="critical"`, `team="payments"`,
		"alice", "email", "sent", "the team", "webhook", "failed: gateway said 502",
		"<button>Acknowledge</button>", "Resolve")
	wantNot(t, "incident page without Alertmanager", p, "Silence 1h", "Changes")

	// A viewer and a member of another team see the incident but no buttons.
	for _, name := range []string{"victor", "carol"} {
		p := s.login(name).get(fmt.Sprintf("/incidents/%d", id))
		wantPage(t, name, p, http.StatusOK, "DiskFull")
		wantNot(t, name, p, "Acknowledge", "Resolve")
	}

	for _, path := range []string{"/incidents/987654", "/incidents/abc"} {
		wantPage(t, path, br.get(path), http.StatusNotFound, "no incident")
	}
}

var auditRow = regexp.MustCompile(`<tr><td>[^<]+</td><td>(\w+)</td><td>(\w+)</td></tr>`)

func TestAcknowledgeAndResolveFromIncidentPage(t *testing.T) {
	s := newIncidentUI(t)
	id := s.open(diskFull)
	path := fmt.Sprintf("/incidents/%d", id)
	br := s.login("alice")
	br.get(path)

	r := br.post(path+"/ack", nil)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, path+"?flash=") {
		t.Fatalf("acknowledge: %d to %q, want 303 back to the incident", r.Status, r.Location)
	}
	p := br.get(r.Location)
	wantPage(t, "after acknowledging", p, http.StatusOK, `class="state state-acknowledged"`,
		fmt.Sprintf("Incident #%d acknowledged.", id), "acknowledged", "by alice", "Changes")
	wantNot(t, "after acknowledging", p, "<button>Acknowledge</button>")
	if m := auditRow.FindAllStringSubmatch(p.Body, -1); len(m) != 1 || m[0][1] != "alice" || m[0][2] != "acknowledged" {
		t.Errorf("audit rows %v, want alice acknowledged", m)
	}
	d := s.incident(id)
	if d.State != dedupe.IncidentAcknowledged || d.AcknowledgedBy != "alice" {
		t.Errorf("API after the form: %s by %q, want acknowledged by alice", d.State, d.AcknowledgedBy)
	}
	if ev := d.Timeline[len(d.Timeline)-1]; ev.Kind != dedupe.EventAcknowledged || ev.Actor != "alice" {
		t.Errorf("last timeline entry %+v, want acknowledged by alice", ev)
	}

	// Again: nothing changes, nothing more in the audit log.
	r = br.post(path+"/ack", nil)
	wantPage(t, "acknowledged again", br.get(r.Location), http.StatusOK, "was already acknowledged")
	entries, err := s.Accounts.AuditOf(context.Background(), "incident", fmt.Sprint(id), 10)
	if err != nil || len(entries) != 1 {
		t.Errorf("audit entries %+v (%v), want one", entries, err)
	}

	r = br.post(path+"/resolve", nil)
	wantPage(t, "after resolving", br.get(r.Location), http.StatusOK, `class="state state-resolved"`, "by alice")
	if d := s.incident(id); d.State != dedupe.IncidentResolved || d.ResolvedBy != "alice" {
		t.Errorf("API after resolving: %s by %q", d.State, d.ResolvedBy)
	}
	wantPage(t, "acknowledging a resolved incident", br.post(path+"/ack", nil), http.StatusConflict,
		"is resolved; it cannot be acknowledged")
	entries, _ = s.Accounts.AuditOf(context.Background(), "incident", fmt.Sprint(id), 10)
	if len(entries) != 2 || entries[0].Action != "resolved" || entries[0].Actor != "alice" {
		t.Errorf("audit entries %+v, want resolved then acknowledged by alice", entries)
	}
}

func TestIncidentFormsRefused(t *testing.T) {
	s := newIncidentUI(t)
	id := s.open(diskFull)
	path := fmt.Sprintf("/incidents/%d", id)
	for _, c := range []struct {
		user, action string
		form         url.Values
		status       int
		says         string
	}{
		{"carol", "ack", nil, http.StatusForbidden, "carol may not change team payments"},
		{"carol", "resolve", nil, http.StatusForbidden, "may not change"},
		{"victor", "ack", nil, http.StatusForbidden, "(role viewer)"},
		{"alice", "ack", url.Values{"csrf_token": {"forged"}}, http.StatusForbidden, "reload the page"},
		{"alice", "silence", url.Values{"duration": {"1h"}}, http.StatusServiceUnavailable, "--alertmanager-url"},
	} {
		br := s.login(c.user)
		br.get(path)
		wantPage(t, c.user+" "+c.action, br.post(path+"/"+c.action, c.form), c.status, c.says)
	}
	if d := s.incident(id); d.State != dedupe.IncidentOpen || len(d.Timeline) != 1 {
		t.Errorf("after refused forms the incident is %s with timeline %+v, want open and untouched", d.State, d.Timeline)
	}
	if entries, _ := s.Accounts.AuditOf(context.Background(), "incident", fmt.Sprint(id), 10); len(entries) != 0 {
		t.Errorf("refused forms wrote audit entries: %+v", entries)
	}
	wantPage(t, "unknown incident", s.login("root").post("/incidents/987654/ack", nil), http.StatusNotFound)
}

func TestIncidentWithoutTeamOnlyAdminsAct(t *testing.T) {
	s := newUIServer(t) // no routes: incidents have no team
	s.applyExample()
	s.addUser("alice", account.Member, "alice")
	s.addUser("root", account.Admin, "")
	id := s.open(map[string]string{"alertname": "Orphan", "instance": "x"})
	path := fmt.Sprintf("/incidents/%d", id)

	alice := s.login("alice")
	wantNot(t, "member on a team-less incident", alice.get(path), "Acknowledge")
	wantPage(t, "member acks a team-less incident", alice.post(path+"/ack", nil), http.StatusForbidden)
	root := s.login("root")
	wantPage(t, "admin's page", root.get(path), http.StatusOK, "<button>Acknowledge</button>", "none</span>")
	if r := root.post(path+"/ack", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("admin acks: %d %s", r.Status, r.Body)
	}
	if d := s.incident(id); d.AcknowledgedBy != "root" {
		t.Errorf("acknowledged by %q, want root", d.AcknowledgedBy)
	}
}

func TestSilenceFromIncidentPage(t *testing.T) {
	bin := alertmanagertest.Binary(t)
	am := alertmanagertest.Start(t, bin, alertmanagertest.NullConfig)
	silencer := &integrations.IncidentSilencer{Max: 24 * time.Hour,
		Alertmanager: integrations.NewAlertmanager(integrations.AlertmanagerOptions{URL: am})}
	s := newIncidentUI(t, func(o *web.Options) {
		o.Silencer, o.ExternalURL = silencer, "https://qp.example.com"
	})
	silencer.Incidents = s.Store
	id := s.open(diskFull)
	path := fmt.Sprintf("/incidents/%d", id)
	silences := func() []alertmanagertest.Silence {
		t.Helper()
		list, err := alertmanagertest.Silences(am)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	// Refused: another team's member, a bad duration, one over the maximum.
	carol := s.login("carol")
	carol.get(path)
	wantPage(t, "carol silences", carol.post(path+"/silence", url.Values{"duration": {"1h"}}), http.StatusForbidden)
	alice := s.login("alice")
	wantPage(t, "silence buttons", alice.get(path), http.StatusOK, "<button class=\"secondary\">Silence 1h</button>", "Silence 4h")
	wantPage(t, "bad duration", alice.post(path+"/silence", url.Values{"duration": {"forever"}}), http.StatusBadRequest, "like 1h or 4h")
	wantPage(t, "too long", alice.post(path+"/silence", url.Values{"duration": {"2d"}}), http.StatusBadRequest, "at most 1d")
	if n := len(silences()); n != 0 {
		t.Fatalf("refused silences reached Alertmanager: %d", n)
	}

	r := alice.post(path+"/silence", url.Values{"duration": {"4h"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("silence: %d %s", r.Status, r.Body)
	}
	list := silences()
	if len(list) != 1 {
		t.Fatalf("Alertmanager has %d silences, want 1", len(list))
	}
	sl := list[0]
	d := s.incident(id)
	if fmt.Sprint(sl.MatcherMap()) != fmt.Sprint(d.CommonLabels) || sl.CreatedBy != "alice" || sl.Status.State != "active" ||
		!strings.Contains(sl.Comment, "https://qp.example.com"+path) {
		t.Errorf("silence %+v, want matchers %v by alice linking the incident", sl, d.CommonLabels)
	}
	// Alertmanager moves a start in the past to when it got the request,
	// so the length is checked on what quietpager asked and recorded.
	if len(d.Silences) != 1 || d.Silences[0].ID != sl.ID || d.Silences[0].CreatedBy != "alice" ||
		d.Silences[0].EndsAt.Sub(d.Silences[0].CreatedAt) != 4*time.Hour || !d.Silences[0].EndsAt.Truncate(time.Millisecond).Equal(sl.EndsAt.Truncate(time.Millisecond)) {
		t.Errorf("incident's silences %+v, want Alertmanager's %s by alice for 4h, ending %v", d.Silences, sl.ID, sl.EndsAt)
	}
	wantPage(t, "after silencing", alice.get(r.Location), http.StatusOK, "silenced", sl.ID, "Changes", "silenced: for 4h until")
	entries, _ := s.Accounts.AuditOf(context.Background(), "incident", fmt.Sprint(id), 10)
	if len(entries) != 1 || entries[0].Action != "silenced" || !strings.Contains(entries[0].Detail, sl.ID) {
		t.Errorf("audit entries %+v, want alice's silence", entries)
	}
}
