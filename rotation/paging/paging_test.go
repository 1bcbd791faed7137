package paging_test

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/slack-go/slack/slacktest"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/paging"

	"github.com/quietpager/quietpager/integrations/mailpittest"
)

// ---------------------------------------------------------------------------
// Fakes and helpers.

// clock is the pager's injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// onCallStore serves one configuration and no overrides.
type onCallStore struct {
	mu  sync.Mutex
	cfg rotation.Config
}

func (s *onCallStore) Load(context.Context) (rotation.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg, nil
}

func (s *onCallStore) Overrides(context.Context, string, time.Time, time.Time) ([]rotation.Override, error) {
	return nil, nil
}

// fakeSlack is slacktest's server behind a front that records every call
// and can answer calls itself to inject failures.
type fakeSlack struct {
	st    *slacktest.Server
	front *httptest.Server

	mu    sync.Mutex
	calls []*slackCall
	hits  map[string]int
	// intercept, when set, may answer a call itself (returning true);
	// n counts calls to the method, from 1.
	intercept func(w http.ResponseWriter, method string, n int) bool
}

type slackCall struct {
	Method string
	Form   url.Values
	Passed bool // reached slacktest (not answered by intercept)
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{hits: map[string]int{}}
	f.st = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			writeJSON(w, map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
		})
		c.Handle("/conversations.open", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + r.Form.Get("users")}})
		})
	})
	f.st.Start()
	t.Cleanup(f.st.Stop)
	backend, err := url.Parse(f.st.GetAPIURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		method := strings.TrimPrefix(r.URL.Path, "/")
		call := &slackCall{Method: method, Form: form}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		f.hits[method]++
		n := f.hits[method]
		intercept := f.intercept
		f.mu.Unlock()
		if intercept != nil && intercept(w, method, n) {
			return
		}
		f.mu.Lock()
		call.Passed = true
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.front.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) setIntercept(fn func(w http.ResponseWriter, method string, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

func (f *fakeSlack) hitCount(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method]
}

// find returns copies of the recorded calls to method that match.
func (f *fakeSlack) find(method string, match func(slackCall) bool) []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackCall
	for _, c := range f.calls {
		if c.Method == method && (match == nil || match(*c)) {
			out = append(out, *c)
		}
	}
	return out
}

// posts counts the messages Slack accepted in channel about an incident
// (identified by the message metadata quietpager attaches).
func (f *fakeSlack) posts(channel string, incident int64) int {
	return len(f.find("chat.postMessage", func(c slackCall) bool {
		return c.Passed && c.Form.Get("channel") == channel && aboutIncident(c, incident)
	}))
}

func aboutIncident(c slackCall, incident int64) bool {
	var md struct {
		EventPayload struct {
			IncidentID int64 `json:"incident_id"`
		} `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(c.Form.Get("metadata")), &md); err == nil && md.EventPayload.IncidentID != 0 {
		return md.EventPayload.IncidentID == incident
	}
	return strings.Contains(c.Form.Get("blocks"), fmt.Sprintf("incident #%d\"", incident))
}

// mailpit is a real SMTP server whose API reads the mail back.
type mailpit struct {
	api      string
	smtpPort int
}

// startMailpit starts mailpit, or returns nil when it is not installed
// (failing instead when CI=true).
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	s, ok := mailpittest.Start(t)
	if !ok {
		t.Log("mailpit not on PATH: e-mail is not checked")
		return nil
	}
	return &mailpit{api: s.API, smtpPort: s.SMTPPort}
}

type mailpitMessage struct {
	ID        string
	MessageID string
	To        []struct{ Name, Address string }
	Subject   string
}

// messagesTo lists the messages mailpit holds for one address.
func (m *mailpit) messagesTo(t *testing.T, addr string) []mailpitMessage {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/messages?limit=500")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Messages []mailpitMessage }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var out []mailpitMessage
	for _, msg := range list.Messages {
		for _, to := range msg.To {
			if to.Address == addr {
				out = append(out, msg)
			}
		}
	}
	return out
}

// hookServer counts webhook deliveries by delivery id.
type hookServer struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.ids = append(h.ids, r.Header.Get(integrations.HeaderDelivery))
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) deliveries(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, id := range h.ids {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// world is what replicas share: the clock, the configuration, and the
// outside world (Slack, the mail server, the webhook receiver).
type world struct {
	t      *testing.T
	dsn    string
	clock  *clock
	oncall *onCallStore
	slack  *fakeSlack
	mail   *mailpit // nil without mailpit
	hook   *hookServer
	reg    *prometheus.Registry
	ny     *time.Location
	queue  string // the pager's River queue; empty: the default
}

// replica is one quietpager process: its database handle, incident store,
// pager and River client.
type replica struct {
	*world
	db     *migrations.DB
	store  *sqlstore.Store
	pager  *paging.Pager
	client *river.Client[*sql.Tx]
}

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// wednesday returns a Wednesday at least two days from now at hour:00 in
// New York: far enough ahead that jobs the pager schedules relative to it
// wait (River runs them on the wall clock) until a test makes them run.
func wednesday(hour int) time.Time {
	d := time.Now().In(newYork).AddDate(0, 0, 2)
	for d.Weekday() != time.Wednesday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, newYork)
}

// testConfig is team payments with channel C0PAYMENTS, a daily rotation
// "primary" (alice on call at now), and escalation [primary at 0, lead
// after 10m], no repeat.
func testConfig(now time.Time, webhookURL string) rotation.Config {
	return rotation.Config{
		People: []rotation.Person{
			{Name: "alice", Email: "alice@example.com", SlackID: "U0ALICE", TimeZone: newYork},
			{Name: "bob", Email: "bob@example.com", SlackID: "U0BOB", TimeZone: newYork},
			{Name: "lead", Email: "lead@example.com", SlackID: "U0LEAD", TimeZone: newYork},
		},
		Teams: []rotation.Team{{Name: "payments", TimeZone: newYork, SlackChannel: "C0PAYMENTS",
			WebhookURL: webhookURL, WebhookSecret: "s3cret", Members: []string{"alice", "bob", "lead"}}},
		Rotations: []rotation.Rotation{{Name: "primary", Team: "payments", Members: []string{"alice", "bob"},
			Shift: rotation.Shift{Days: 1}, Start: now.Add(-time.Hour), TimeZone: newYork}},
		Escalation: []rotation.EscalationPolicy{{Team: "payments", Steps: []rotation.Step{
			{Targets: []rotation.Target{{Rotation: "primary"}}},
			{Delay: 10 * time.Minute, Targets: []rotation.Target{{Person: "lead"}}},
		}}},
	}
}

// policy is the default policy with a team and an urgency.
func policy(team string, urgency rotation.Urgency) dedupe.Policies {
	p := dedupe.DefaultPolicy
	p.Team, p.Urgency = team, string(urgency)
	return dedupe.StaticPolicy(p)
}

func newWorld(t *testing.T, dsn string, now time.Time) *world {
	t.Helper()
	w := &world{t: t, dsn: dsn, clock: &clock{t: now}, slack: newFakeSlack(t), mail: startMailpit(t),
		hook: newHookServer(t), reg: prometheus.NewRegistry(), ny: newYork}
	w.oncall = &onCallStore{cfg: testConfig(now, w.hook.srv.URL+"/page")}
	return w
}

// replica starts one quietpager replica on the world's database.
func (w *world) replica(policies dedupe.Policies) *replica {
	t := w.t
	t.Helper()
	db := migrationstest.Open(t, w.dsn)
	metrics := integrations.NewMetrics(w.reg)
	o := paging.Options{
		OnCall:      w.oncall,
		ExternalURL: "https://quietpager.example.com/",
		Now:         w.clock.Now,
		Queue:       w.queue,
		Slack: integrations.NewSlack(integrations.SlackOptions{
			Token: "xoxb-test", APIURL: w.slack.front.URL + "/",
			Retry:   integrations.RetryOptions{Max: 1, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond},
			Breaker: integrations.BreakerOptions{Failures: 3, OpenFor: 300 * time.Millisecond},
			Metrics: metrics,
		}),
		Webhook: integrations.NewWebhook(integrations.WebhookOptions{
			Retry:   integrations.RetryOptions{Max: 1, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond},
			Metrics: metrics,
		}),
	}
	if w.mail != nil {
		o.Mail = integrations.NewMailer(integrations.MailOptions{Host: "127.0.0.1", Port: w.mail.smtpPort,
			From: "quietpager <pager@example.com>", Timeout: 5 * time.Second, Metrics: metrics})
	}
	pager := paging.New(o)
	store := sqlstore.New(db, sqlstore.Options{Policies: policies,
		OnIncidents: pager.Schedule, OnTransition: pager.Transitioned})
	pager.SetIncidents(store)
	workers := river.NewWorkers()
	pager.Register(workers)
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{cmp.Or(w.queue, river.QueueDefault): {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       paging.Backoff{Base: 50 * time.Millisecond},
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	pager.SetClient(client)
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(ctx); err != nil {
			t.Errorf("stop River: %v", err)
		}
	})
	return &replica{world: w, db: db, store: store, pager: pager, client: client}
}

// forEachDialect runs f on SQLite and, when configured, PostgreSQL.
func forEachDialect(t *testing.T, f func(t *testing.T, dsn string)) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f(t, migrationstest.DSN(t, d))
		})
	}
}

// alert is a firing alert of group at the clock's time.
func (w *world) alert(group string, ls map[string]string) dedupe.Received {
	now := w.clock.Now()
	all := map[string]string{"alertname": "HighErrorRate", "service": group}
	for k, v := range ls {
		all[k] = v
	}
	return dedupe.Received{Fingerprint: dedupe.Fingerprint(all), Labels: all, Receiver: "pager",
		GroupKey: "{}:{service=\"" + group + "\"}", StartsAt: now, ReceivedAt: now}
}

func (r *replica) write(recs ...dedupe.Received) dedupe.WriteResult {
	r.t.Helper()
	res, err := r.store.Write(context.Background(), dedupe.Fold(recs))
	if err != nil {
		r.t.Fatalf("Write: %v", err)
	}
	return res
}

// open writes a new firing alert of group and returns the incident it opened.
func (r *replica) open(group string) int64 {
	r.t.Helper()
	res := r.write(r.alert(group, nil))
	if len(res.Incidents) != 1 || !res.Incidents[0].Opened || !res.Incidents[0].Page {
		r.t.Fatalf("Write opened %+v, want one incident to page", res.Incidents)
	}
	return res.Incidents[0].ID
}

func (r *replica) incident(id int64) dedupe.IncidentDetail {
	r.t.Helper()
	in, err := r.store.Incident(context.Background(), id)
	if err != nil {
		r.t.Fatalf("Incident(%d): %v", id, err)
	}
	return in
}

// pageJob is a page job with its decoded arguments.
type pageJob struct {
	*rivertype.JobRow
	Args paging.PageArgs
}

// pageJobs lists the page jobs of an incident in insertion order.
func (r *replica) pageJobs(incident int64) []pageJob {
	r.t.Helper()
	res, err := r.client.JobList(context.Background(), river.NewJobListParams().Kinds("page").First(1000))
	if err != nil {
		r.t.Fatalf("JobList: %v", err)
	}
	var out []pageJob
	for _, j := range res.Jobs {
		var a paging.PageArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			r.t.Fatal(err)
		}
		if a.IncidentID == incident {
			out = append(out, pageJob{j, a})
		}
	}
	return out
}

// waitJob waits for the incident's page job of step (and urgency) to
// satisfy cond, and returns it.
func (r *replica) waitJob(incident int64, step int, urgent bool, what string, cond func(pageJob) bool) pageJob {
	r.t.Helper()
	var found pageJob
	waitFor(r.t, fmt.Sprintf("incident %d: step %d job %s", incident, step, what), func() bool {
		for _, j := range r.pageJobs(incident) {
			if j.Args.Step == step && j.Args.Urgent == urgent && cond(j) {
				found = j
				return true
			}
		}
		return false
	})
	return found
}

// describeJobs says what each job is and where it is.
func describeJobs(jobs []pageJob) string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("{step %d round %d urgent %v: %s, attempt %d/%d}",
			j.Args.Step, j.Args.Round, j.Args.Urgent, j.State, j.Attempt, j.MaxAttempts))
	}
	return "[" + strings.Join(out, " ") + "]"
}

func finished(j pageJob) bool {
	return j.State == rivertype.JobStateCompleted || j.State == rivertype.JobStateCancelled ||
		j.State == rivertype.JobStateDiscarded
}

// snoozed: the job ran and put itself back to sleep.
func snoozed(j pageJob) bool {
	return j.State == rivertype.JobStateScheduled && j.AttemptedAt != nil
}

func waiting(j pageJob) bool { return j.State == rivertype.JobStateScheduled }

// runNow makes a waiting job run at once, as if its time had come.
func (r *replica) runNow(id int64) {
	r.t.Helper()
	if _, err := r.client.JobRetry(context.Background(), id); err != nil {
		r.t.Fatalf("JobRetry(%d): %v", id, err)
	}
}

// sentPages returns "step/person/channel" of the incident's sent pages.
func sentPages(in dedupe.IncidentDetail) []string {
	var out []string
	for _, p := range in.Pages {
		if p.Sent {
			out = append(out, fmt.Sprintf("%d/%s/%s", p.Step, p.Person, p.Channel))
		}
	}
	slices.Sort(out)
	return out
}

// firstPages is what step 0 sends: the team channel and webhook, and alice
// by Slack DM and, with mailpit, e-mail.
func (w *world) firstPages() []string {
	want := []string{"0//slack_channel", "0//webhook", "0/alice/slack_dm"}
	if w.mail != nil {
		want = append(want, "0/alice/email")
	}
	slices.Sort(want)
	return want
}

func events(in dedupe.IncidentDetail, kind string) []dedupe.Event {
	var out []dedupe.Event
	for _, e := range in.Timeline {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, lv ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				for i := 0; i+1 < len(lv); i += 2 {
					if lp.GetName() == lv[i] && lp.GetValue() != lv[i+1] {
						continue next
					}
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// ---------------------------------------------------------------------------
// Tests.

// An incident that opens pages the person on call once on every channel,
// records the interruption, and schedules the next escalation step.
func TestIncidentOpensPage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10) // business hours in New York
		w := newWorld(t, dsn, now)
		r := w.replica(policy("payments", rotation.UrgencyPage))

		id := r.open("checkout")
		next := r.waitJob(id, 1, false, "scheduled", waiting)
		r.waitJob(id, 0, false, "finished", finished)
		if want := now.Add(10 * time.Minute); !next.ScheduledAt.Equal(want) {
			t.Errorf("step 2 scheduled at %v, want %v (10m after the incident opened)", next.ScheduledAt, want)
		}
		if next.Args.Round != 0 {
			t.Errorf("next job %+v, want step 1 of round 0", next.Args)
		}
		jobs := r.pageJobs(id)
		if len(jobs) != 2 || jobs[0].Args.Step != 0 || jobs[0].State != rivertype.JobStateCompleted {
			t.Errorf("page jobs %s, want the first one completed and the next one scheduled", describeJobs(jobs))
		}

		in := r.incident(id)
		if got, want := sentPages(in), w.firstPages(); !slices.Equal(got, want) {
			t.Fatalf("sent pages %v, want %v", got, want)
		}
		for _, p := range in.Pages {
			if p.ReceiptID == "" {
				t.Errorf("page %+v has no receipt", p)
			}
			switch p.Channel {
			case dedupe.ChannelSlackTeam:
				if p.ReceiptChannel != "C0PAYMENTS" {
					t.Errorf("channel page receipt %+v", p)
				}
			case dedupe.ChannelSlackDM:
				if p.ReceiptChannel != "DU0ALICE" {
					t.Errorf("DM receipt %+v", p)
				}
			case dedupe.ChannelEmail:
				if p.ReceiptChannel != "alice@example.com" || p.ReceiptID != fmt.Sprintf("<page-%d-1-0-0-alice@quietpager>", id) {
					t.Errorf("e-mail receipt %+v", p)
				}
			}
		}

		// Slack: one channel post mentioning alice, one DM to alice.
		posts := w.slack.find("chat.postMessage", func(c slackCall) bool { return c.Form.Get("channel") == "C0PAYMENTS" })
		if len(posts) != 1 {
			t.Fatalf("%d channel posts, want 1", len(posts))
		}
		if text := posts[0].Form.Get("text"); !strings.Contains(text, "<@U0ALICE>") || !strings.Contains(text, "HighErrorRate") {
			t.Errorf("channel post %q does not mention alice and the alert", text)
		}
		if !strings.Contains(posts[0].Form.Get("blocks"), fmt.Sprintf("https://quietpager.example.com/incidents/%d", id)) {
			t.Errorf("channel post lacks the incident link: %s", posts[0].Form.Get("blocks"))
		}
		if n := w.slack.posts("DU0ALICE", id); n != 1 {
			t.Errorf("%d DMs to alice, want 1", n)
		}
		if n := len(w.slack.find("chat.postMessage", nil)); n != 2 {
			t.Errorf("%d Slack posts in all, want 2 (channel and DM)", n)
		}
		if n := w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", id)); n != 1 {
			t.Errorf("%d webhook deliveries, want 1", n)
		}
		if w.mail != nil {
			msgs := w.mail.messagesTo(t, "alice@example.com")
			if len(msgs) != 1 {
				t.Fatalf("%d e-mails to alice, want 1", len(msgs))
			}
			if !strings.Contains(msgs[0].Subject, "HighErrorRate") {
				t.Errorf("subject %q", msgs[0].Subject)
			}
			if n := len(w.mail.messagesTo(t, "lead@example.com")) + len(w.mail.messagesTo(t, "bob@example.com")); n != 0 {
				t.Errorf("%d e-mails to people not on call", n)
			}
		}

		paged := events(in, dedupe.EventPaged)
		if len(paged) != 1 {
			t.Fatalf("paged events %+v, want one", paged)
		}
		if d := paged[0].Detail; !strings.Contains(d, "alice") || !strings.Contains(d, string(rotation.Business)) {
			t.Errorf("paged event %q, want alice in business hours", d)
		}
		if !paged[0].At.Equal(now) {
			t.Errorf("paged at %v, want the injected now %v", paged[0].At, now)
		}
	})
}

// A pager with its own queue (replay's) puts every job there, the first
// page, the next step and the Slack update, so that a server working the
// default queue on the same database never runs them.
func TestQueue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, wednesday(10))
		w.queue = "replay"
		r := w.replica(policy("payments", rotation.UrgencyPage))
		id := r.open("checkout")
		r.waitJob(id, 0, false, "finished", finished)
		r.waitJob(id, 1, false, "scheduled", waiting)
		if err := r.store.Acknowledge(context.Background(), id, "alice", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := r.client.JobList(context.Background(), river.NewJobListParams().First(100))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, j := range res.Jobs {
			kinds[j.Kind] = true
			if j.Queue != "replay" {
				t.Errorf("%s job on queue %q, want replay", j.Kind, j.Queue)
			}
		}
		if !kinds["page"] || !kinds["page_update"] {
			t.Errorf("jobs of kinds %v, want page and page_update", kinds)
		}
		if got := sentPages(r.incident(id)); !slices.Equal(got, w.firstPages()) {
			t.Errorf("sent pages %v, want %v: the replay queue's worker runs them", got, w.firstPages())
		}
	})
}

// Nobody acknowledges: the next step pages the lead. An acknowledgement or
// a resolve before the step is due stops it, and edits the Slack messages
// in place.
func TestEscalation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10)
		w := newWorld(t, dsn, now)
		r := w.replica(policy("payments", rotation.UrgencyPage))

		ignored, acked, resolved := r.open("ignored"), r.open("acked"), r.open("resolved")
		next := map[int64]pageJob{}
		for _, id := range []int64{ignored, acked, resolved} {
			next[id] = r.waitJob(id, 1, false, "scheduled", waiting)
			r.waitJob(id, 0, false, "finished", finished) // the next step is scheduled before this one delivers
		}

		w.clock.Set(now.Add(5 * time.Minute))
		if err := r.store.Acknowledge(context.Background(), acked, "alice", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := r.store.Resolve(context.Background(), resolved, "alice", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		// Both Slack messages of each are edited in place.
		for _, c := range []struct {
			id    int64
			state string
		}{{acked, "Acknowledged"}, {resolved, "Resolved"}} {
			for _, p := range r.incident(c.id).Pages {
				if p.Channel != dedupe.ChannelSlackTeam && p.Channel != dedupe.ChannelSlackDM {
					continue
				}
				waitFor(t, fmt.Sprintf("chat.update of %s in %s", p.ReceiptID, p.ReceiptChannel), func() bool {
					return len(w.slack.find("chat.update", func(u slackCall) bool {
						return u.Form.Get("channel") == p.ReceiptChannel && u.Form.Get("ts") == p.ReceiptID &&
							aboutIncident(u, c.id) && strings.Contains(u.Form.Get("text"), c.state+": ")
					})) == 1
				})
			}
		}

		// Ten minutes later the second step falls due.
		w.clock.Set(now.Add(10 * time.Minute))
		for _, id := range []int64{ignored, acked, resolved} {
			r.runNow(next[id].ID)
		}
		for _, id := range []int64{ignored, acked, resolved} {
			r.waitJob(id, 1, false, "finished", finished)
		}

		want := append(w.firstPages(), "1/lead/slack_dm")
		if w.mail != nil {
			want = append(want, "1/lead/email")
		}
		slices.Sort(want)
		in := r.incident(ignored)
		if got := sentPages(in); !slices.Equal(got, want) {
			t.Errorf("unacknowledged incident: sent %v, want %v", got, want)
		}
		if n := w.slack.posts("DU0LEAD", ignored); n != 1 {
			t.Errorf("%d DMs to the lead, want 1", n)
		}
		paged := events(in, dedupe.EventPaged)
		if len(paged) != 2 || !strings.Contains(paged[1].Detail, "lead") || !strings.Contains(paged[1].Detail, "step 2") {
			t.Errorf("paged events %+v, want alice then lead (step 2)", paged)
		}
		if n := len(r.pageJobs(ignored)); n != 2 {
			t.Errorf("%d page jobs, want 2: the policy does not repeat", n)
		}
		if w.mail != nil {
			if n := len(w.mail.messagesTo(t, "lead@example.com")); n != 1 {
				t.Errorf("%d e-mails to the lead, want 1 (only the unacknowledged incident)", n)
			}
		}
		for _, id := range []int64{acked, resolved} {
			if got := sentPages(r.incident(id)); !slices.Equal(got, w.firstPages()) {
				t.Errorf("incident %d: sent %v after it was handled, want only the first step", id, got)
			}
			if n := w.slack.posts("DU0LEAD", id); n != 0 {
				t.Errorf("incident %d: the lead was paged after it was handled", id)
			}
		}
	})
}

// A business-hours incident at 03:00 local waits for 08:00; it pages then
// only if it is still open. A critical alert joining it pages at once.
func TestBusinessHoursHold(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		night := wednesday(3) // 03:00 in New York, alice's zone
		morning := time.Date(night.Year(), night.Month(), night.Day(), 8, 0, 0, 0, newYork)
		w := newWorld(t, dsn, night)
		r := w.replica(policy("payments", rotation.UrgencyBusinessHours))

		stillOpen, fixed, critical := r.open("still-open"), r.open("fixed"), r.open("critical")
		held := map[int64]pageJob{}
		for _, id := range []int64{stillOpen, fixed, critical} {
			started := time.Now()
			held[id] = r.waitJob(id, 0, false, "snoozed", snoozed)
			// River sleeps on the wall clock: the job wakes as far ahead
			// as 08:00 local is from the injected 03:00.
			wake := held[id].ScheduledAt.Sub(started)
			if d := wake - morning.Sub(night); d < -time.Minute || d > time.Minute {
				t.Errorf("incident %d: held job wakes in %v, want %v (08:00 local)", id, wake, morning.Sub(night))
			}
			if pages := r.incident(id).Pages; len(pages) != 0 {
				t.Errorf("incident %d: pages %+v during the hold", id, pages)
			}
		}
		if n := len(w.slack.find("chat.postMessage", nil)); n != 0 {
			t.Errorf("%d Slack posts at 03:00 for business-hours incidents", n)
		}

		// A critical alert joins: page now, hold or not.
		res := r.write(w.alert("critical", map[string]string{"severity": "critical", "instance": "b"}))
		if len(res.Incidents) != 1 || res.Incidents[0].ID != critical || !res.Incidents[0].Critical {
			t.Fatalf("critical alert: changes %+v, want incident %d critical", res.Incidents, critical)
		}
		r.waitJob(critical, 0, true, "finished", finished)
		in := r.incident(critical)
		if got := sentPages(in); !slices.Equal(got, w.firstPages()) {
			t.Errorf("critical: sent %v, want %v", got, w.firstPages())
		}
		if paged := events(in, dedupe.EventPaged); len(paged) != 1 || !strings.Contains(paged[0].Detail, string(rotation.Sleep)) {
			t.Errorf("critical: paged events %+v, want one in sleep hours", paged)
		}

		// The one fixed overnight needs nobody.
		if err := r.store.Resolve(context.Background(), fixed, "bob", night.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		// 08:00: the held jobs wake.
		w.clock.Set(morning)
		for _, id := range []int64{stillOpen, fixed, critical} {
			r.runNow(held[id].ID)
		}
		for _, id := range []int64{stillOpen, fixed, critical} {
			r.waitJob(id, 0, false, "finished", finished)
		}

		in = r.incident(stillOpen)
		if got := sentPages(in); !slices.Equal(got, w.firstPages()) {
			t.Errorf("still open at 08:00: sent %v, want %v", got, w.firstPages())
		}
		if paged := events(in, dedupe.EventPaged); len(paged) != 1 || !strings.Contains(paged[0].Detail, string(rotation.Business)) {
			t.Errorf("still open at 08:00: paged events %+v, want one in business hours", paged)
		}
		if n := w.slack.posts("DU0ALICE", stillOpen); n != 1 {
			t.Errorf("%d DMs to alice for the incident still open, want 1", n)
		}
		if pages := r.incident(fixed).Pages; len(pages) != 0 {
			t.Errorf("resolved overnight, yet paged at 08:00: %+v", pages)
		}
		if n := w.slack.posts("C0PAYMENTS", fixed) + w.slack.posts("DU0ALICE", fixed); n != 0 {
			t.Errorf("%d Slack posts for the incident resolved overnight", n)
		}
		// The critical incident was paged at night; waking at 08:00 sends
		// nothing again.
		if n := w.slack.posts("C0PAYMENTS", critical); n != 1 {
			t.Errorf("critical: %d channel posts, want 1", n)
		}
		if n := w.slack.posts("DU0ALICE", critical); n != 1 {
			t.Errorf("critical: %d DMs to alice, want 1", n)
		}
		if n := w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", critical)); n != 1 {
			t.Errorf("critical: %d webhook deliveries, want 1", n)
		}
		if w.mail != nil {
			if n := len(w.mail.messagesTo(t, "alice@example.com")); n != 2 {
				t.Errorf("%d e-mails to alice, want 2 (critical at night, still-open at 08:00)", n)
			}
		}
	})
}

// An incident whose new episodes all come from a flapping alert pages
// nobody.
func TestFlappingHold(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10)
		w := newWorld(t, dsn, now)
		r := w.replica(policy("payments", rotation.UrgencyPage))

		// Five firing periods in ten minutes, the last still firing: nine
		// state changes, above the default threshold of six.
		base := w.alert("flappy", map[string]string{"alertname": "Flappy"})
		var recs []dedupe.Received
		for i := range 5 {
			start := now.Add(time.Duration(-10+2*i) * time.Minute)
			rec := base
			rec.StartsAt, rec.ReceivedAt = start, start
			recs = append(recs, rec)
			if i < 4 {
				rec.Resolved, rec.EndsAt = true, start.Add(time.Minute)
				rec.ReceivedAt = rec.EndsAt
				recs = append(recs, rec)
			}
		}
		res := r.write(recs...)
		if len(res.Incidents) != 1 || !res.Incidents[0].Opened || res.Incidents[0].Page || res.Held == 0 {
			t.Fatalf("flapping batch: %+v, want one incident opened, held", res)
		}
		id := res.Incidents[0].ID
		if in := r.incident(id); in.Flapping == 0 || in.State != dedupe.IncidentOpen {
			t.Fatalf("incident %+v, want open with a flapping alert", in.Incident)
		}
		if jobs := r.pageJobs(id); len(jobs) != 0 {
			t.Errorf("page jobs %s for a flapping incident", describeJobs(jobs))
		}

		// A healthy incident after it pages; by then the flapping one
		// would have too.
		other := r.open("healthy")
		r.waitJob(other, 1, false, "scheduled", waiting)
		r.waitJob(other, 0, false, "finished", finished) // the next step is scheduled before this one delivers
		if pages := r.incident(id).Pages; len(pages) != 0 {
			t.Errorf("flapping incident paged: %+v", pages)
		}
		if n := w.slack.posts("C0PAYMENTS", id); n != 0 {
			t.Errorf("%d channel posts about the flapping incident", n)
		}
		if len(r.pageJobs(id)) != 0 {
			t.Error("a page job appeared for the flapping incident")
		}
	})
}

// Slack fails: the page retries with backoff, the breaker opens, the job
// becomes a dead letter; replayed after Slack recovers, it delivers what
// had not been delivered, and nothing twice.
func TestSlackFailureDeadLetterReplay(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10)
		w := newWorld(t, dsn, now)
		r := w.replica(policy("payments", rotation.UrgencyPage))
		ctx := context.Background()

		var failing atomic.Bool
		failing.Store(true)
		w.slack.setIntercept(func(rw http.ResponseWriter, method string, n int) bool {
			if method != "chat.postMessage" || !failing.Load() {
				return false
			}
			if n%3 == 2 {
				rw.Header().Set("Retry-After", "1")
				rw.WriteHeader(http.StatusTooManyRequests)
				writeJSON(rw, map[string]any{"ok": false, "error": "ratelimited"})
				return true
			}
			http.Error(rw, "slack is down", http.StatusInternalServerError)
			return true
		})

		id := r.open("checkout")
		var letter paging.DeadLetter
		waitFor(t, "the page to become a dead letter", func() bool {
			list, err := r.pager.DeadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range list {
				if d.IncidentID == id {
					letter = d
					return true
				}
			}
			return false
		})
		if letter.Kind != "page" || letter.Attempts != 6 || letter.DiscardedAt.IsZero() {
			t.Errorf("dead letter %+v, want a page job discarded after 6 attempts", letter)
		}
		if !strings.Contains(letter.LastError, "slack") {
			t.Errorf("dead letter's last error %q does not say Slack failed", letter.LastError)
		}
		job, err := r.client.JobGet(ctx, letter.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(job.Errors) != 6 {
			t.Errorf("job recorded %d errors, want one per attempt (6)", len(job.Errors))
		}
		// The breaker opened: later attempts failed without calling Slack.
		if v := metricValue(t, w.reg, "quietpager_deliveries_total", "channel", "slack", "result", "circuit_open"); v < 1 {
			t.Errorf("slack circuit_open deliveries = %v, want the breaker to have opened", v)
		}
		// Without a breaker: 6 attempts × 2 messages × 2 tries = 24 calls.
		if n := w.slack.hitCount("chat.postMessage"); n >= 24 {
			t.Errorf("Slack was called %d times while failing: the breaker did not hold back", n)
		}
		in := r.incident(id)
		want := []string{"0//webhook"}
		if w.mail != nil {
			want = append(want, "0/alice/email")
		}
		slices.Sort(want)
		if got := sentPages(in); !slices.Equal(got, want) {
			t.Errorf("before replay: sent %v, want %v", got, want)
		}
		for _, p := range in.Pages {
			if !p.Sent && p.Error == "" {
				t.Errorf("failed page %+v records no error", p)
			}
		}
		// Escalation does not wait for a failing destination: the next
		// step was scheduled before the deliveries were tried.
		if jobs := r.pageJobs(id); len(jobs) != 2 {
			t.Errorf("page jobs %v, want the discarded first step and the scheduled second", jobs)
		}

		// Replays that make no sense.
		if err := r.pager.Replay(ctx, 987654321); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("Replay(unknown) = %v, want NotFound", err)
		}

		// Slack recovers; wait for the breaker's open period to pass, then
		// replay.
		failing.Store(false)
		waitFor(t, "the Slack breaker to let a probe through", func() bool {
			return metricValue(t, w.reg, "quietpager_breaker_state", "destination", "slack") != 2
		})
		if err := r.pager.Replay(ctx, letter.ID); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		next := r.waitJob(id, 1, false, "scheduled", waiting)
		r.waitJob(id, 0, false, "finished", finished) // the next step is scheduled before this one delivers
		in = r.incident(id)
		if got := sentPages(in); !slices.Equal(got, w.firstPages()) {
			t.Errorf("after replay: sent %v, want %v", got, w.firstPages())
		}
		if n := w.slack.posts("C0PAYMENTS", id); n != 1 {
			t.Errorf("%d channel posts delivered, want exactly 1", n)
		}
		if n := w.slack.posts("DU0ALICE", id); n != 1 {
			t.Errorf("%d DMs delivered, want exactly 1", n)
		}
		if n := w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", id)); n != 1 {
			t.Errorf("%d webhook deliveries, want exactly 1", n)
		}
		if w.mail != nil {
			if n := len(w.mail.messagesTo(t, "alice@example.com")); n != 1 {
				t.Errorf("%d e-mails to alice, want exactly 1: the replay re-sent what had succeeded", n)
			}
		}
		list, err := r.pager.DeadLetters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("dead letters after a successful replay: %+v", list)
		}
		// Alice was interrupted once; the timeline says so once.
		if paged := events(in, dedupe.EventPaged); len(paged) != 1 {
			var d []string
			for _, e := range paged {
				d = append(d, e.Detail)
			}
			t.Errorf("timeline has %d \"paged\" events for one page to alice, want 1: %q", len(paged), d)
		}

		if err := r.pager.Replay(ctx, next.ID); quietpager.ErrorCode(err) != quietpager.Conflict {
			t.Errorf("Replay(scheduled job) = %v, want Conflict", err)
		}
		if err := r.pager.Replay(ctx, letter.ID); quietpager.ErrorCode(err) != quietpager.Conflict {
			t.Errorf("Replay(completed job) = %v, want Conflict", err)
		}
	})
}

// Two replicas write the same new groups at the same moment: one incident
// each, one first page job each, one set of pages.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	dsn := migrationstest.DSN(t, migrations.Postgres) // skips without PostgreSQL
	now := wednesday(10)
	w := newWorld(t, dsn, now)
	a := w.replica(policy("payments", rotation.UrgencyPage))
	b := w.replica(policy("payments", rotation.UrgencyPage))

	groups := []string{"g1", "g2", "g3", "g4", "g5"}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 2*len(groups))
	for _, g := range groups {
		batch := dedupe.Fold([]dedupe.Received{w.alert(g, nil)})
		for _, r := range []*replica{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := r.store.Write(context.Background(), batch); err != nil {
					errs <- err
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Write: %v", err)
	}

	list, err := a.store.Incidents(context.Background(), dedupe.IncidentQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(groups) {
		t.Fatalf("%d incidents for %d groups written twice", len(list), len(groups))
	}
	for _, in := range list {
		a.waitJob(in.ID, 1, false, "scheduled", waiting)
		a.waitJob(in.ID, 0, false, "finished", finished) // the next step is scheduled before this one delivers
		var first int
		for _, j := range a.pageJobs(in.ID) {
			if j.Args.Step == 0 {
				first++
			}
		}
		if first != 1 {
			t.Errorf("incident %d: %d first-step page jobs, want 1", in.ID, first)
		}
		if n := len(a.pageJobs(in.ID)); n != 2 {
			t.Errorf("incident %d: %d page jobs, want 2 (first step, next step)", in.ID, n)
		}
		if got := sentPages(a.incident(in.ID)); !slices.Equal(got, w.firstPages()) {
			t.Errorf("incident %d: sent %v, want %v", in.ID, got, w.firstPages())
		}
		if n := w.slack.posts("C0PAYMENTS", in.ID); n != 1 {
			t.Errorf("incident %d: %d channel posts, want 1", in.ID, n)
		}
		if n := w.slack.posts("DU0ALICE", in.ID); n != 1 {
			t.Errorf("incident %d: %d DMs, want 1", in.ID, n)
		}
		if n := w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", in.ID)); n != 1 {
			t.Errorf("incident %d: %d webhook deliveries, want 1", in.ID, n)
		}
	}
	if w.mail != nil {
		if n := len(w.mail.messagesTo(t, "alice@example.com")); n != len(groups) {
			t.Errorf("%d e-mails to alice for %d incidents", n, len(groups))
		}
	}
}

func matcher(t *testing.T, name, value string) *labels.Matcher {
	t.Helper()
	m, err := labels.NewMatcher(labels.MatchEqual, name, value)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Routes give each alert its route's team, urgency, grouping and flap
// thresholds; digest routes and unrouted alerts page nobody.
func TestRoutes(t *testing.T) {
	t.Parallel()
	now := wednesday(10)
	dbFlap := flap.Options{Tau: 30 * time.Minute, High: 4, Low: 1, Quiet: 5 * time.Minute}
	cfg := testConfig(now, "")
	cfg.Teams = append(cfg.Teams, rotation.Team{Name: "database", SlackChannel: "C0DB"})
	cfg.Routes = []rotation.Route{
		{Name: "db", Matchers: []*labels.Matcher{matcher(t, "team", "db")}, Team: "database",
			Urgency: rotation.UrgencyBusinessHours, GroupBy: []string{"cluster"}, ReopenWindow: time.Hour, Flap: dbFlap},
		{Name: "noise", Matchers: []*labels.Matcher{matcher(t, "alertname", "DiskAlmostFull")}, Team: "payments",
			Urgency: rotation.UrgencyDigest},
		{Name: "rest", Team: "payments", Urgency: rotation.UrgencyPage, Default: true},
	}
	oncall := &onCallStore{cfg: cfg}
	routes := &paging.Routes{Store: oncall, Defaults: dedupe.DefaultPolicy, Logger: slog.New(slog.DiscardHandler)}

	// Before the configuration is loaded: defaults, nobody paged.
	if p := routes.PolicyFor(map[string]string{"team": "db"}); p.Team != "" || p.Urgency != "" {
		t.Errorf("before Refresh: %+v, want the defaults", p)
	}
	if err := routes.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := routes.PolicyFor(map[string]string{"alertname": "ReplicationLag", "team": "db", "cluster": "eu1"})
	if p.Team != "database" || p.Urgency != "business-hours" || !slices.Equal(p.GroupBy, []string{"cluster"}) ||
		p.ReopenWindow != time.Hour || p.Flap != dbFlap {
		t.Errorf("db route: %+v", p)
	}
	p = routes.PolicyFor(map[string]string{"alertname": "DiskAlmostFull"})
	if p.Team != "payments" || p.Urgency != "digest" || len(p.GroupBy) != 0 ||
		p.ReopenWindow != dedupe.DefaultPolicy.ReopenWindow || p.Flap != flap.Defaults {
		t.Errorf("noise route: %+v, want the defaults but for team and urgency", p)
	}
	p = routes.PolicyFor(map[string]string{"alertname": "HighErrorRate"})
	if p.Team != "payments" || p.Urgency != "page" {
		t.Errorf("default route: %+v", p)
	}

	forEachDialect(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, now)
		w.oncall = oncall
		r := w.replica(routes)

		// Digest: an incident, no page.
		res := r.write(w.alert("disk", map[string]string{"alertname": "DiskAlmostFull"}))
		if len(res.Incidents) != 1 || res.Incidents[0].Urgency != "digest" {
			t.Fatalf("digest alert: %+v", res.Incidents)
		}
		digest := res.Incidents[0].ID
		if jobs := r.pageJobs(digest); len(jobs) != 0 {
			t.Errorf("digest incident has page jobs %s", describeJobs(jobs))
		}
		// Grouped by cluster: two alerts of one cluster, from different
		// Alertmanager groups, are one incident of team database.
		res = r.write(w.alert("db-a", map[string]string{"team": "db", "cluster": "eu1"}),
			w.alert("db-b", map[string]string{"team": "db", "cluster": "eu1"}))
		if len(res.Incidents) != 1 || res.Incidents[0].Team != "database" || res.Incidents[0].Urgency != "business-hours" {
			t.Errorf("db alerts: %+v, want one incident of team database", res.Incidents)
		}

		// No routes configured: no team, nobody to page.
		unrouted := &paging.Routes{Store: &onCallStore{cfg: testConfig(now, "")}, Defaults: dedupe.DefaultPolicy}
		if err := unrouted.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		plain := sqlstore.New(r.db, sqlstore.Options{Policies: unrouted,
			OnIncidents: r.pager.Schedule, OnTransition: r.pager.Transitioned})
		res, err := plain.Write(context.Background(), dedupe.Fold([]dedupe.Received{
			w.alert("unrouted", map[string]string{"alertname": "Unrouted"})}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Incidents) != 1 || res.Incidents[0].Team != "" {
			t.Fatalf("unrouted alert: %+v, want an incident without a team", res.Incidents)
		}
		lone := res.Incidents[0].ID
		if jobs := r.pageJobs(lone); len(jobs) != 0 {
			t.Errorf("incident without a team has page jobs %s", describeJobs(jobs))
		}

		// A routed incident after them pages; by then they would have too.
		other := r.open("checkout")
		r.waitJob(other, 1, false, "scheduled", waiting)
		r.waitJob(other, 0, false, "finished", finished) // the next step is scheduled before this one delivers
		for _, id := range []int64{digest, lone} {
			if pages := r.incident(id).Pages; len(pages) != 0 {
				t.Errorf("incident %d paged: %+v", id, pages)
			}
			if len(r.pageJobs(id)) != 0 {
				t.Errorf("incident %d has page jobs", id)
			}
		}
	})
}

// An incident that resolves and fires again within the reopen window
// pages again: somebody has to look at it again.
func TestReopenedIncidentPagesAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10)
		w := newWorld(t, dsn, now)
		r := w.replica(policy("payments", rotation.UrgencyPage))

		first := w.alert("checkout", nil)
		id := r.open("checkout")
		r.waitJob(id, 0, false, "finished", finished)

		// Alertmanager resolves it a minute later ...
		resolved := first
		resolved.Resolved, resolved.EndsAt = true, now.Add(time.Minute)
		resolved.ReceivedAt = resolved.EndsAt
		r.write(resolved)
		if in := r.incident(id); in.State != dedupe.IncidentResolved {
			t.Fatalf("incident %s after its alert resolved, want resolved", in.State)
		}
		// ... and it fires again two minutes after that.
		w.clock.Set(now.Add(3 * time.Minute))
		res := r.write(w.alert("checkout", nil))
		if len(res.Incidents) != 1 || res.Incidents[0].ID != id || !res.Incidents[0].Reopened || !res.Incidents[0].Page {
			t.Fatalf("firing again: %+v, want incident %d reopened", res.Incidents, id)
		}
		waitFor(t, "the reopened incident's first page job to finish", func() bool {
			n := 0
			for _, j := range r.pageJobs(id) {
				if j.Args.Step == 0 && finished(j) {
					n++
				}
			}
			return n == 2
		})
		if n := w.slack.posts("C0PAYMENTS", id); n != 2 {
			t.Errorf("%d channel posts for an incident that opened and reopened, want 2", n)
		}
		if n := w.slack.posts("DU0ALICE", id); n != 2 {
			t.Errorf("%d DMs to alice for an incident that opened and reopened, want 2", n)
		}
		if w.mail != nil {
			if n := len(w.mail.messagesTo(t, "alice@example.com")); n != 2 {
				t.Errorf("%d e-mails to alice for an incident that opened and reopened, want 2", n)
			}
		}
	})
}

// A delivery that can never work (a Slack user that does not exist) is not
// retried, and does not stop the escalation: the lead is still paged when
// alice does not answer the pages that did reach her.
func TestPermanentFailureStillEscalates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10)
		w := newWorld(t, dsn, now)
		w.oncall.cfg.People[0].SlackID = "U0GONE" // alice
		w.slack.setIntercept(func(rw http.ResponseWriter, method string, n int) bool {
			if method == "conversations.open" {
				writeJSON(rw, map[string]any{"ok": false, "error": "user_not_found"})
				return true
			}
			return false
		})
		r := w.replica(policy("payments", rotation.UrgencyPage))

		id := r.open("checkout")
		r.waitJob(id, 0, false, "finished", finished)
		in := r.incident(id)
		want := []string{"0//slack_channel", "0//webhook"}
		if w.mail != nil {
			want = append(want, "0/alice/email")
		}
		slices.Sort(want)
		if got := sentPages(in); !slices.Equal(got, want) {
			t.Errorf("sent %v, want %v", got, want)
		}
		if n := w.slack.hitCount("conversations.open"); n != 1 {
			t.Errorf("Slack asked %d times to open a DM with a user that does not exist, want once (a permanent error)", n)
		}
		var next int
		for _, j := range r.pageJobs(id) {
			if j.Args.Step == 1 {
				next++
			}
		}
		if next != 1 {
			t.Errorf("alice's Slack ID is wrong and so the escalation to the lead was never scheduled (page jobs %s)", describeJobs(r.pageJobs(id)))
		}
	})
}

// A critical alert that joins while the incident's first page is still
// going out must not page a second time.
func TestCriticalJoinDuringPage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		now := wednesday(10) // business hours: no hold
		w := newWorld(t, dsn, now)
		w.slack.setIntercept(func(rw http.ResponseWriter, method string, n int) bool {
			if method == "chat.postMessage" {
				time.Sleep(300 * time.Millisecond) // a slow Slack
			}
			return false
		})
		r := w.replica(policy("payments", rotation.UrgencyBusinessHours))

		id := r.open("checkout")
		res := r.write(w.alert("checkout", map[string]string{"severity": "critical", "instance": "b"}))
		if len(res.Incidents) != 1 || !res.Incidents[0].Critical {
			t.Fatalf("critical alert: %+v", res.Incidents)
		}
		r.waitJob(id, 0, false, "finished", finished)
		r.waitJob(id, 0, true, "finished", finished)
		if n := w.slack.posts("C0PAYMENTS", id); n != 1 {
			t.Errorf("%d channel posts, want 1", n)
		}
		if n := w.slack.posts("DU0ALICE", id); n != 1 {
			t.Errorf("%d DMs to alice, want 1", n)
		}
		if w.mail != nil {
			if n := len(w.mail.messagesTo(t, "alice@example.com")); n != 1 {
				t.Errorf("%d e-mails to alice, want 1", n)
			}
		}
	})
}

// TestAbandonedClaimIsRetried: a replica killed between claiming a page and
// recording its outcome leaves the claim behind ("sending"). A later run of
// the job (River rescues it) must not count that page as done: it retries
// until the claim is stale, then delivers it, once.
func TestAbandonedClaimIsRetried(t *testing.T) {
	t.Parallel()
	now := wednesday(10)
	w := newWorld(t, migrationstest.DSN(t, migrations.SQLite), now)
	w.oncall.cfg.Escalation[0].Steps[0].Delay = time.Minute // the job waits, so the claim can be planted first
	r := w.replica(policy("payments", rotation.UrgencyPage))
	id := r.open("g1")
	job := r.waitJob(id, 0, false, "snoozed until the first step is due", snoozed)

	w.clock.Set(now.Add(time.Minute))
	claimed, _, err := r.store.ClaimPage(context.Background(), dedupe.PageRecord{IncidentID: id, Opening: 1,
		Channel: dedupe.ChannelWebhook, At: w.clock.Now()}, 5*time.Minute)
	if err != nil || !claimed {
		t.Fatalf("ClaimPage: claimed %v, err %v", claimed, err)
	}
	r.runNow(job.ID)
	r.waitJob(id, 0, false, "retrying while the dead run's claim is fresh", func(j pageJob) bool {
		if j.State == rivertype.JobStateCompleted {
			t.Fatalf("the job completed with the webhook page claimed by a dead run and never sent (%d deliveries)",
				w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", id)))
		}
		return j.Attempt >= 2 && !finished(j) // failed once, trying again
	})
	w.clock.Set(now.Add(7 * time.Minute)) // the claim is stale now
	r.waitJob(id, 0, false, "completed", func(j pageJob) bool { return j.State == rivertype.JobStateCompleted })
	if n := w.hook.deliveries(fmt.Sprintf("page-%d-1-0-0", id)); n != 1 {
		t.Errorf("%d webhook deliveries, want 1", n)
	}
	if n := w.slack.posts("C0PAYMENTS", id); n != 1 {
		t.Errorf("%d channel posts, want 1", n)
	}
}

// A dead letter whose page was scheduled again since (a retried earlier
// step schedules its next step anew) is superseded: replaying it succeeds
// by removing it, so it is not counted twice, and the live job stays.
func TestReplaySupersededDeadLetter(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, wednesday(10))
		r := w.replica(policy("payments", rotation.UrgencyPage))
		ctx := context.Background()
		id := r.open("checkout")
		r.waitJob(id, 1, false, "scheduled", waiting)
		// The second step's job gives up...
		jobs := r.pageJobs(id)
		var step1 int64
		for _, j := range jobs {
			if j.Args.Step == 1 {
				step1 = j.ID
			}
		}
		if err := r.db.Gorm.Exec(`UPDATE river_job SET state = 'discarded', finalized_at = CURRENT_TIMESTAMP WHERE id = ?`, step1).Error; err != nil {
			t.Fatal(err)
		}
		// ...and a retry of the first step schedules it again.
		later := w.clock.Now().Add(24 * time.Hour)
		twin, err := r.client.Insert(ctx, paging.PageArgs{IncidentID: id, Opening: 1, Step: 1}, &river.InsertOpts{ScheduledAt: later})
		if err != nil {
			t.Fatal(err)
		}
		if twin.UniqueSkippedAsDuplicate {
			t.Fatal("the twin was not inserted: the discarded job still counts as live")
		}
		if err := r.pager.Replay(ctx, step1); err != nil {
			t.Fatalf("Replay(superseded) = %v, want nil", err)
		}
		if _, err := r.client.JobGet(ctx, step1); !errors.Is(err, river.ErrNotFound) {
			t.Errorf("superseded dead letter after replay: %v; want it removed", err)
		}
		if list, err := r.pager.DeadLetters(ctx); err != nil || len(list) != 0 {
			t.Errorf("dead letters after replay: %+v, %v; want none", list, err)
		}
		if job, err := r.client.JobGet(ctx, twin.Job.ID); err != nil || job.State != rivertype.JobStateScheduled {
			t.Errorf("the live job after replay: %v; want it still scheduled", err)
		}
	})
}
