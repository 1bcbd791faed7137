package slackbot_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/integrations/alertmanagertest"
	"github.com/quietpager/quietpager/integrations/slackbot"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// now is Wednesday 25 November 2026, 10:00 UTC. The rotation started 3.5
// days before, so alice is on call until Saturday 28th 22:00, then bob for
// a week, then alice again from 5 December 22:00.
var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const oncallYAML = `people:
  - name: alice
    slack_id: U0ALICE
    time_zone: Europe/Berlin
  - name: bob
    slack_id: U0BOB
    time_zone: America/New_York
  - name: carol
    email: carol@example.com
    time_zone: UTC
teams:
  - name: payments
    time_zone: Europe/Berlin
    slack_channel: C0PAY
    members: [alice, bob, carol]
  - name: search
    time_zone: UTC
    members: [carol]
rotations:
  - name: payments-primary
    team: payments
    members: [alice, bob]
    shift: 1w
    start: "2026-11-21T22:00"
    time_zone: UTC
escalation:
  - team: payments
    steps:
      - delay: 0m
        rotation: payments-primary
routes:
  - name: everything
    default: true
    team: payments
    urgency: page
`

// world is a bot on a real database, talking to slacktest's fake Slack,
// with a recorder behind every response_url.
type world struct {
	t         *testing.T
	db        *migrations.DB
	incidents *dedupestore.Store
	oncall    *rotationstore.Store
	slack     *integrations.Slack
	responses *responses
	lookups   *counter
	bot       *slackbot.Bot
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[k]++
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func newWorld(t *testing.T, db *migrations.DB, edit ...func(*slackbot.Options)) *world {
	t.Helper()
	w := &world{t: t, db: db, lookups: &counter{n: map[string]int{}}}
	w.oncall = rotationstore.New(db)
	cfg, err := rotation.ParseConfig([]byte(oncallYAML), "oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.oncall.Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	w.incidents = dedupestore.New(db, dedupestore.Options{Policies: dedupe.StaticPolicy(dedupe.Policy{
		ReopenWindow: 10 * time.Minute, Flap: flap.Defaults, Team: "payments", Urgency: "page"})})

	st := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/users.lookupByEmail", func(rw http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			email := r.Form.Get("email")
			w.lookups.add(email)
			rw.Header().Set("Content-Type", "application/json")
			if email == "carol@example.com" {
				_ = json.NewEncoder(rw).Encode(map[string]any{"ok": true, "user": map[string]any{"id": "U0CAROL", "name": "carol"}})
				return
			}
			_ = json.NewEncoder(rw).Encode(map[string]any{"ok": false, "error": "users_not_found"})
		})
	})
	st.Start()
	t.Cleanup(st.Stop)
	w.slack = integrations.NewSlack(integrations.SlackOptions{Token: "xoxb-test", APIURL: st.GetAPIURL(),
		Retry: integrations.RetryOptions{Max: -1}})
	w.responses = newResponses(t)

	o := slackbot.Options{Incidents: w.incidents, OnCall: w.oncall, Slack: w.slack,
		Noise:       reports.New(reports.Options{History: reportstore.New(db), OnCall: w.oncall, Now: func() time.Time { return now }}),
		ExternalURL: "https://qp.example.com",
		Now:         func() time.Time { return now }, ReplyWithin: 10 * time.Second}
	for _, f := range edit {
		f(&o)
	}
	w.bot = slackbot.New(o)
	t.Cleanup(func() { w.bot.Stop(context.Background()) })
	return w
}

// withAlertmanager starts a real Alertmanager and returns its URL and the
// option that makes the bot silence there. The bot then runs on the real
// clock: Alertmanager refuses silences that have ended already.
func withAlertmanager(t *testing.T, bin string) (string, func(*slackbot.Options)) {
	t.Helper()
	am := alertmanagertest.Start(t, bin, alertmanagertest.NullConfig)
	return am, func(o *slackbot.Options) {
		o.Silencer = integrations.NewAlertmanager(integrations.AlertmanagerOptions{URL: am})
		o.Now = time.Now
	}
}

// command runs the slash command as the Slack user and returns the
// immediate answer.
func (w *world) command(user, text string) slack.Msg {
	w.t.Helper()
	return w.bot.Command(context.Background(), slack.SlashCommand{UserID: user, Text: text,
		ResponseURL: w.responses.URL})
}

// click presses a button as the Slack user and returns what the bot then
// said through the response_url.
func (w *world) click(user, actionID, value string) slack.WebhookMessage {
	w.t.Helper()
	w.bot.Interact(context.Background(), slack.InteractionCallback{
		Type: slack.InteractionTypeBlockActions, User: slack.User{ID: user}, ResponseURL: w.responses.URL,
		ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionID, Value: value}}},
	})
	return w.responses.next(w.t)
}

// open writes a firing alert, alone in its group, and returns the id of
// its incident.
func (w *world) open(labels map[string]string, at time.Time) int64 {
	w.t.Helper()
	res, err := w.incidents.Write(context.Background(), dedupe.Fold([]dedupe.Received{{
		Fingerprint: dedupe.Fingerprint(labels), Labels: labels, Annotations: map[string]string{}, Receiver: "r", GroupKey: "{}:" + dedupe.Fingerprint(labels),
		StartsAt: at, ReceivedAt: at}}))
	if err != nil {
		w.t.Fatal(err)
	}
	if len(res.Incidents) != 1 {
		w.t.Fatalf("write opened %+v, want one incident", res.Incidents)
	}
	return res.Incidents[0].ID
}

func (w *world) incident(id int64) dedupe.IncidentDetail {
	w.t.Helper()
	in, err := w.incidents.Incident(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return in
}

// responses records what is posted to a response_url.
type responses struct {
	URL string
	ch  chan slack.WebhookMessage
}

func newResponses(t *testing.T) *responses {
	t.Helper()
	r := &responses{ch: make(chan slack.WebhookMessage, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		var m slack.WebhookMessage
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			t.Errorf("response_url got a body that is not JSON: %v", err)
		}
		r.ch <- m
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/respond"
	return r
}

func (r *responses) next(t *testing.T) slack.WebhookMessage {
	t.Helper()
	select {
	case m := <-r.ch:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("nothing was posted to the response_url within 15s")
		return slack.WebhookMessage{}
	}
}

// none fails the test if anything is waiting at the response_url.
func (r *responses) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.ch:
		t.Errorf("unexpected response_url post: %+v", m)
	default:
	}
}

func wantText(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q lacks %q", what, got, w)
		}
	}
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
