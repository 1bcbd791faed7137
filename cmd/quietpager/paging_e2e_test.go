package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"

	"github.com/quietpager/quietpager/integrations/mailpittest"
)

const mailpitInstall = "go install github.com/axllent/mailpit@v1.33.1"

// recordingSlack is slacktest's fake Slack behind a front that records
// every Web API call. slacktest lacks chat.update and conversations.open,
// so those are added; failFirst makes the first calls of a method fail as
// Slack does when it has a bad moment (HTTP 200, ok false).
type recordingSlack struct {
	URL string // the front's base URL, with the trailing slash slack-go wants

	mu        sync.Mutex
	calls     []slackCall
	hits      map[string]int
	failFirst map[string]int
}

type slackCall struct {
	Method string
	Form   url.Values
}

func startRecordingSlack(t *testing.T) *recordingSlack {
	t.Helper()
	f := &recordingSlack{hits: map[string]int{}, failFirst: map[string]int{}}
	st := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			slackJSON(w, map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
		})
		c.Handle("/conversations.open", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			slackJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + r.Form.Get("users")}})
		})
	})
	st.Start()
	t.Cleanup(st.Stop)
	backend, err := url.Parse(st.GetAPIURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		method := strings.TrimPrefix(r.URL.Path, "/")
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{Method: method, Form: form})
		f.hits[method]++
		fail := f.hits[method] <= f.failFirst[method]
		f.mu.Unlock()
		if fail {
			slackJSON(w, map[string]any{"ok": false, "error": "internal_error"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	f.URL = front.URL + "/"
	return f
}

// blocksText is a message's Block Kit JSON with Go's HTML escapes
// (\u003c for <) undone, so that mentions and links can be searched.
func blocksText(t *testing.T, c slackCall) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &v); err != nil {
		t.Fatalf("%s blocks are not JSON: %v: %s", c.Method, err, c.Form.Get("blocks"))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func slackJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *recordingSlack) failFirstCalls(method string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFirst[method] = n
}

func (f *recordingSlack) callsTo(method string) []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// postsTo returns the chat.postMessage calls to channel.
func (f *recordingSlack) postsTo(channel string) []slackCall {
	var out []slackCall
	for _, c := range f.callsTo("chat.postMessage") {
		if c.Form.Get("channel") == channel {
			out = append(out, c)
		}
	}
	return out
}

func (f *recordingSlack) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, c := range f.calls {
		fmt.Fprintf(&b, "%s channel=%q ts=%q users=%q text=%q\n", c.Method, c.Form.Get("channel"), c.Form.Get("ts"), c.Form.Get("users"), c.Form.Get("text"))
	}
	return b.String()
}

// mailpitServer is a real SMTP server whose API reads the mail back.
type mailpitServer struct {
	api      string
	smtpAddr string
}

func startMailpitServer(t *testing.T) *mailpitServer {
	t.Helper()
	s, ok := mailpittest.Start(t)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	return &mailpitServer{api: s.API, smtpAddr: s.SMTPAddr()}
}

type mailpitAddr struct{ Name, Address string }

type mailpitMsg struct {
	ID      string
	To      []mailpitAddr
	Subject string
	Text    string
}

func (m *mailpitServer) getJSON(path string, v any) error {
	resp, err := http.Get(m.api + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (m *mailpitServer) messages() ([]mailpitMsg, error) {
	var list struct{ Messages []mailpitMsg }
	err := m.getJSON("/api/v1/messages", &list)
	return list.Messages, err
}

// pagedIncident is GET /api/v1/incidents/{id} with its pages.
type pagedIncident struct {
	apiIncident
	Team    string              `json:"team"`
	Urgency string              `json:"urgency"`
	Pages   []dedupe.PageRecord `json:"pages"`
}

func (in pagedIncident) page(person, channel string) (dedupe.PageRecord, bool) {
	for _, p := range in.Pages {
		if p.Person == person && p.Channel == channel {
			return p, true
		}
	}
	return dedupe.PageRecord{}, false
}

func getPagedIncident(baseURL, token string, id int64) (pagedIncident, error) {
	var out pagedIncident
	err := getJSON(baseURL, fmt.Sprintf("/api/v1/incidents/%d", id), token, &out)
	return out, err
}

// incidentTitled finds the incident with title through the list API.
func incidentTitled(baseURL, token, title string) (int64, error) {
	list, err := listIncidents(baseURL, token)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for _, in := range list {
		if in.Title == title {
			ids = append(ids, in.ID)
		}
	}
	switch len(ids) {
	case 0:
		return 0, fmt.Errorf("no incident titled %s among %d", title, len(list))
	case 1:
		return ids[0], nil
	default:
		return 0, fmt.Errorf("%d incidents titled %s, want one", len(ids), title)
	}
}

// pagingConfig is the on-call file: alice and bob take turns weekly, and
// the rotation started three and a half days ago in UTC, so alice is on
// call for days either side of the test.
func pagingConfig(now time.Time) string {
	start := now.UTC().Add(-84 * time.Hour).Format("2006-01-02T15:04")
	return `people:
  - name: alice
    email: alice@example.com
    slack_id: U0ALICE01
    time_zone: Europe/Berlin
  - name: bob
    email: bob@example.com
    slack_id: U0BOB0001
    time_zone: America/New_York
teams:
  - name: payments
    time_zone: Europe/Berlin
    slack_channel: C0PAYMENTS
    members: [alice, bob]
rotations:
  - name: payments-primary
    team: payments
    members: [alice, bob]
    shift: 1w
    start: "` + start + `"
    time_zone: UTC
escalation:
  - team: payments
    steps:
      - delay: 0m
        rotation: payments-primary
      - delay: 30m
        person: bob
routes:
  - name: disk-full
    matchers: ['alertname="DiskFull"']
    team: payments
    urgency: page
  - name: backups
    matchers: ['alertname="BackupSlow"']
    team: payments
    urgency: digest
  - name: everything-else
    default: true
    team: payments
    urgency: digest
`
}

func postAPI(baseURL, path, token, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestPagingEndToEnd: the real Alertmanager sends a DiskFull alert to
// quietpager, configured by `quietpager apply`; the person on call is paged
// in the team's Slack channel, by Slack DM and by e-mail (to a real SMTP
// server), once each although Alertmanager repeats the notification and
// the first DM attempt fails; acknowledging edits the Slack messages in
// place. An alert routed to a digest route pages nobody.
func TestPagingEndToEnd(t *testing.T) {
	amBin := alertmanagerBinary(t)
	mail := startMailpitServer(t)
	slack := startRecordingSlack(t)
	// Slack has a bad moment when quietpager opens the DM: the page job
	// fails, and River retries it --page-retry later.
	slack.failFirstCalls("conversations.open", 1)

	dsn := migrationstest.DSN(t, migrations.SQLite)
	file := filepath.Join(t.TempDir(), "oncall.yaml")
	if err := os.WriteFile(file, []byte(pagingConfig(time.Now())), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "apply", "-f", file, "--db", dsn); !strings.Contains(out, "applied") {
		t.Fatalf("apply printed %q, want the applied plan", out)
	}
	token := createToken(t, dsn, "alertmanager")
	const externalURL = "https://quietpager.example.com"
	qp := startServer(t, dsn,
		"--slack-bot-token", "xoxb-test",
		"--slack-api-url", slack.URL,
		"--smtp-addr", mail.smtpAddr,
		"--smtp-from", "pager@quietpager.example.com",
		"--smtp-tls=false",
		"--external-url", externalURL,
		"--page-retry", "100ms",
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Slack calls:\n%s", slack.summary())
		}
	})

	// The configuration is in force: alice is on call.
	var oncall struct {
		OnCall []struct{ Rotation, Person string } `json:"oncall"`
	}
	if err := getJSON(qp.URL, "/api/v1/oncall", token, &oncall); err != nil {
		t.Fatal(err)
	}
	if len(oncall.OnCall) != 1 || oncall.OnCall[0].Person != "alice" {
		t.Fatalf("GET /api/v1/oncall: %+v, want alice on call in payments-primary", oncall.OnCall)
	}

	amURL := startAlertmanager(t, amBin, qp.URL, token)
	startsAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	postToAlertmanager(t, amURL, []amPostableAlert{
		{
			Labels:      map[string]string{"alertname": "BackupSlow", "instance": "db1:9100", "severity": "warning"},
			Annotations: map[string]string{"summary": "Nightly backup is slow"},
			StartsAt:    startsAt,
		},
		{
			Labels:       map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
			Annotations:  map[string]string{"summary": "Disk almost full on db1"},
			StartsAt:     startsAt,
			GeneratorURL: "http://prometheus.example/graph?g0.expr=disk",
		},
	})

	// The page reaches alice on every channel, the DM on the retry.
	var id int64
	waitFor(t, 20*time.Second, "the DiskFull incident", func() (bool, string) {
		var err error
		id, err = incidentTitled(qp.URL, token, "DiskFull")
		return err == nil, fmt.Sprint(err)
	})
	var in pagedIncident
	waitFor(t, 20*time.Second, "pages to the team channel, alice's DM and alice's mail", func() (bool, string) {
		var err error
		in, err = getPagedIncident(qp.URL, token, id)
		if err != nil {
			return false, err.Error()
		}
		for _, want := range []struct{ person, channel string }{
			{"", dedupe.ChannelSlackTeam}, {"alice", dedupe.ChannelSlackDM}, {"alice", dedupe.ChannelEmail},
		} {
			if p, ok := in.page(want.person, want.channel); !ok || !p.Sent {
				return false, fmt.Sprintf("pages %+v", in.Pages)
			}
		}
		return true, ""
	})
	if in.Team != "payments" || in.Urgency != "page" || in.State != "open" {
		t.Errorf("incident %d: team %q, urgency %q, state %q; want payments, page, open", id, in.Team, in.Urgency, in.State)
	}
	for _, p := range in.Pages {
		if p.Person == "bob" {
			t.Errorf("bob paged (%+v) though he is neither on call nor due for 30 minutes", p)
		}
		if p.Step != 0 || p.Round != 0 {
			t.Errorf("page %+v, want step 0, round 0 only", p)
		}
	}
	teamPage, _ := in.page("", dedupe.ChannelSlackTeam)
	dmPage, _ := in.page("alice", dedupe.ChannelSlackDM)
	if teamPage.ReceiptChannel != "C0PAYMENTS" || teamPage.ReceiptID == "" {
		t.Errorf("team channel page receipt %q/%q, want C0PAYMENTS and a ts", teamPage.ReceiptChannel, teamPage.ReceiptID)
	}
	if dmPage.ReceiptChannel != "DU0ALICE01" || dmPage.ReceiptID == "" {
		t.Errorf("DM page receipt %q/%q, want alice's DM channel and a ts", dmPage.ReceiptChannel, dmPage.ReceiptID)
	}

	// Alertmanager repeats the notification every 2 s and the DM failed
	// once; wait out a few repeats, then count: one page per channel.
	waitFor(t, 20*time.Second, "two more notifications of DiskFull", func() (bool, string) {
		alerts, err := listAlerts(qp.URL, token)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["alertname"] != "DiskFull" {
				continue
			}
			eps, err := listEpisodes(qp.URL, token, a.Fingerprint)
			if err != nil {
				return false, err.Error()
			}
			return len(eps) == 1 && eps[0].Notifications >= 3, fmt.Sprintf("%+v", eps)
		}
		return false, fmt.Sprintf("no DiskFull among %+v", alerts)
	})
	teamPosts := slack.postsTo("C0PAYMENTS")
	if len(teamPosts) != 1 {
		t.Fatalf("%d posts to the team channel, want 1", len(teamPosts))
	}
	if text := teamPosts[0].Form.Get("text"); !strings.Contains(text, "<@U0ALICE01>") || !strings.Contains(text, "DiskFull") {
		t.Errorf("team channel message %q, want a mention of <@U0ALICE01> and the title", text)
	}
	if blocks := blocksText(t, teamPosts[0]); !strings.Contains(blocks, "<@U0ALICE01>") ||
		!strings.Contains(blocks, fmt.Sprintf("%s/incidents/%d", externalURL, id)) {
		t.Errorf("team channel blocks lack the mention or the incident link: %s", blocks)
	}
	opens := slack.callsTo("conversations.open")
	if len(opens) != 2 || opens[1].Form.Get("users") != "U0ALICE01" {
		t.Errorf("conversations.open calls %+v, want two (a failure, then the retry) for U0ALICE01", opens)
	}
	dms := slack.postsTo("DU0ALICE01")
	if len(dms) != 1 {
		t.Fatalf("%d DMs to alice, want 1", len(dms))
	} else if text := dms[0].Form.Get("text"); !strings.Contains(text, "DiskFull") {
		t.Errorf("DM text %q, want the title", text)
	}
	if n := len(slack.callsTo("chat.postMessage")); n != 2 {
		t.Errorf("%d chat.postMessage calls, want 2 (team channel and DM)", n)
	}

	msgs, err := mail.messages()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("mailpit holds %d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0].Address != "alice@example.com" {
		t.Errorf("mail to %+v, want alice@example.com", m.To)
	}
	if !strings.Contains(m.Subject, "DiskFull") || !strings.Contains(m.Subject, fmt.Sprintf("#%d", id)) {
		t.Errorf("mail subject %q, want the title and #%d", m.Subject, id)
	}
	var full mailpitMsg
	if err := mail.getJSON("/api/v1/message/"+m.ID, &full); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(full.Text, fmt.Sprintf("%s/incidents/%d", externalURL, id)) {
		t.Errorf("mail text lacks the incident link:\n%s", full.Text)
	}

	// One page is one "paged" entry on the timeline, retry or not.
	in, err = getPagedIncident(qp.URL, token, id)
	if err != nil {
		t.Fatal(err)
	}
	if paged := in.events(dedupe.EventPaged); len(paged) != 1 || !strings.Contains(paged[0].Detail, "alice") {
		t.Errorf("timeline %v has paged events %+v, want exactly one for alice", in.kinds(), paged)
	}

	// And one interruption of alice, in the table the weekly report reads.
	db, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var interruptions int
	err = db.SQL.QueryRow(`SELECT COUNT(*) FROM interruptions WHERE incident_id = ? AND person = 'alice'`, id).Scan(&interruptions)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if interruptions != 1 {
		t.Errorf("%d interruptions of alice recorded for incident %d, want 1", interruptions, id)
	}

	// The digest route's incident exists and paged nobody.
	digestID, err := incidentTitled(qp.URL, token, "BackupSlow")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := getPagedIncident(qp.URL, token, digestID)
	if err != nil {
		t.Fatal(err)
	}
	if digest.Urgency != "digest" || digest.Team != "payments" || len(digest.Pages) != 0 || len(digest.events(dedupe.EventPaged)) != 0 {
		t.Errorf("digest incident: urgency %q, team %q, pages %+v, timeline %v; want digest, payments, no pages",
			digest.Urgency, digest.Team, digest.Pages, digest.kinds())
	}
	for _, c := range slack.callsTo("chat.postMessage") {
		if strings.Contains(c.Form.Get("text"), "BackupSlow") {
			t.Errorf("Slack message about the digest alert: %q", c.Form.Get("text"))
		}
	}
	if msgs, err := mail.messages(); err != nil || len(msgs) != 1 {
		t.Errorf("mailpit holds %d messages (%v), want only the DiskFull page", len(msgs), err)
	}

	// Acknowledging edits both Slack messages in place.
	code, body, err := postAPI(qp.URL, fmt.Sprintf("/api/v1/incidents/%d/ack", id), token, `{"actor":"alice"}`)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST ack: %d %s %v", code, body, err)
	}
	waitFor(t, 15*time.Second, "chat.update of both messages", func() (bool, string) {
		return len(slack.callsTo("chat.update")) >= 2, slack.summary()
	})
	updated := map[string]slackCall{}
	for _, c := range slack.callsTo("chat.update") {
		updated[c.Form.Get("channel")+"/"+c.Form.Get("ts")] = c
	}
	for _, p := range []dedupe.PageRecord{teamPage, dmPage} {
		c, ok := updated[p.ReceiptChannel+"/"+p.ReceiptID]
		if !ok {
			t.Errorf("no chat.update of %s ts %s; updates: %v", p.ReceiptChannel, p.ReceiptID, updated)
			continue
		}
		if text := c.Form.Get("text"); !strings.HasPrefix(text, "Acknowledged: ") || !strings.Contains(text, "DiskFull") {
			t.Errorf("updated text %q, want it to say acknowledged", text)
		}
		if blocks := blocksText(t, c); !strings.Contains(blocks, "Acknowledged by alice") {
			t.Errorf("updated blocks lack \"Acknowledged by alice\": %s", blocks)
		}
	}
	if len(updated) != 2 {
		t.Errorf("chat.update touched %d messages, want the 2 pages: %v", len(updated), updated)
	}
	// The ack is told in the team page's thread, not in the channel.
	waitFor(t, 15*time.Second, "the ack in the page's thread", func() (bool, string) {
		return len(slack.callsTo("chat.postMessage")) >= 3, slack.summary()
	})
	posts := slack.callsTo("chat.postMessage")
	if len(posts) != 3 {
		t.Errorf("%d chat.postMessage calls after the ack, want 3 (page, DM, thread reply)", len(posts))
	}
	reply := posts[len(posts)-1]
	if reply.Form.Get("channel") != teamPage.ReceiptChannel || reply.Form.Get("thread_ts") != teamPage.ReceiptID ||
		reply.Form.Get("text") != "Acknowledged by alice" || reply.Form.Get("reply_broadcast") == "true" {
		t.Errorf("after the ack: chat.postMessage %v, want \"Acknowledged by alice\" in the thread of %s/%s",
			reply.Form, teamPage.ReceiptChannel, teamPage.ReceiptID)
	}
}
