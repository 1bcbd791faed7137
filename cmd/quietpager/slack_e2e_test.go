package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations/alertmanagertest"
	"github.com/quietpager/quietpager/integrations/slackbot/slackbottest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

const slackSecret = "e2e-signing-secret"

// postSlack sends form to quietpager as Slack does, signed with secret.
func postSlack(t *testing.T, baseURL, path, secret string, form url.Values) (int, string) {
	t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, baseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = slackbottest.Headers(secret, time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// click presses a page button as a Slack user.
func click(t *testing.T, baseURL, secret, user, action string, incident int64, page dedupe.PageRecord, responseURL string) int {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "response_url": responseURL,
		"container": map[string]any{"type": "message", "message_ts": page.ReceiptID, "channel_id": page.ReceiptChannel},
		"channel":   map[string]string{"id": page.ReceiptChannel},
		"actions": []map[string]string{{"action_id": action, "block_id": "quietpager_actions", "type": "button",
			"value": fmt.Sprint(incident), "action_ts": fmt.Sprint(time.Now().Unix())}},
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body := postSlack(t, baseURL, "/slack/interactions", secret, url.Values{"payload": {string(payload)}})
	if code != http.StatusOK && secret == slackSecret {
		t.Fatalf("click %s: %d %s", action, code, body)
	}
	return code
}

// responseRecorder is what Slack's response_url would receive.
type responseRecorder struct {
	URL string
	mu  sync.Mutex
	got []string
}

func startResponseRecorder(t *testing.T) *responseRecorder {
	r := &responseRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m struct{ Text string }
		_ = json.NewDecoder(req.Body).Decode(&m)
		r.mu.Lock()
		r.got = append(r.got, m.Text)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *responseRecorder) texts() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, "\n")
}

// TestSlackButtonsEndToEnd: the real Alertmanager fires DiskFull at
// quietpager, which pages alice in Slack; the page's buttons, clicked as
// Slack sends clicks (signed), silence the alert in that same Alertmanager
// (read back from its API), mark the incident not actionable, acknowledge
// and resolve it; every click edits the page in place (chat.update) and is
// told in the page's thread, as is the storm growing. A forged click
// changes nothing; the slash command answers over HTTP.
func TestSlackButtonsEndToEnd(t *testing.T) {
	amBin := alertmanagertest.Binary(t)
	slack := startRecordingSlack(t)
	responses := startResponseRecorder(t)
	dsn := migrationstest.DSN(t, migrations.SQLite)
	file := filepath.Join(t.TempDir(), "oncall.yaml")
	if err := os.WriteFile(file, []byte(pagingConfig(time.Now())), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "apply", "-f", file, "--db", dsn)
	token := createToken(t, dsn, "alertmanager")

	// Alertmanager sends webhooks to quietpager and takes its silences:
	// quietpager's address is chosen first.
	qpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	amURL := startAlertmanager(t, amBin, "http://"+qpAddr, token)
	qp := startServer(t, dsn, "--listen", qpAddr,
		"--slack-bot-token", "xoxb-test", "--slack-api-url", slack.URL,
		"--slack-signing-secret", slackSecret, "--alertmanager-url", amURL,
		"--external-url", "https://quietpager.example.com", "--page-retry", "100ms")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Slack calls:\n%s\nresponse_url:\n%s", slack.summary(), responses.texts())
		}
	})

	startsAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	diskFull := func(instance string) amPostableAlert {
		return amPostableAlert{Labels: map[string]string{"alertname": "DiskFull", "instance": instance, "severity": "critical"},
			Annotations: map[string]string{}, StartsAt: startsAt}
	}
	postToAlertmanager(t, amURL, []amPostableAlert{diskFull("db1:9100")})
	var id int64
	waitFor(t, 20*time.Second, "the DiskFull incident", func() (bool, string) {
		var err error
		id, err = incidentTitled(qp.URL, token, "DiskFull")
		return err == nil, fmt.Sprint(err)
	})
	var teamPage dedupe.PageRecord
	waitFor(t, 20*time.Second, "the page in the team channel", func() (bool, string) {
		in, err := getPagedIncident(qp.URL, token, id)
		if err != nil {
			return false, err.Error()
		}
		p, ok := in.page("", dedupe.ChannelSlackTeam)
		teamPage = p
		return ok && p.Sent, fmt.Sprintf("pages %+v", in.Pages)
	})
	thread := func(text string) func() (bool, string) {
		return func() (bool, string) {
			for _, c := range slack.callsTo("chat.postMessage") {
				if c.Form.Get("thread_ts") == teamPage.ReceiptID && c.Form.Get("channel") == teamPage.ReceiptChannel &&
					strings.Contains(c.Form.Get("text"), text) {
					return true, ""
				}
			}
			return false, slack.summary()
		}
	}
	edited := func(text string) func() (bool, string) {
		return func() (bool, string) {
			for _, c := range slack.callsTo("chat.update") {
				if c.Form.Get("ts") == teamPage.ReceiptID && c.Form.Get("channel") == teamPage.ReceiptChannel &&
					strings.Contains(blocksText(t, c), text) {
					return true, ""
				}
			}
			return false, slack.summary()
		}
	}

	// The storm grows: a second disk fills up. The page is edited and the
	// thread told, once, after a short delay that gathers the storm.
	postToAlertmanager(t, amURL, []amPostableAlert{diskFull("db2:9100")})
	waitFor(t, 20*time.Second, "the second alert to join", func() (bool, string) {
		in, err := getPagedIncident(qp.URL, token, id)
		return err == nil && in.Alerts == 2, fmt.Sprintf("%+v %v", in.apiIncident, err)
	})

	// The slash command, over HTTP, lists the incident with its buttons.
	code, body := postSlack(t, qp.URL, "/slack/commands", slackSecret, url.Values{"command": {"/oncall"},
		"text": {"incidents"}, "user_id": {"U0BOB0001"}, "response_url": {responses.URL}})
	if code != http.StatusOK || !strings.Contains(body, "DiskFull") || !strings.Contains(body, `"action_id":"ack"`) {
		t.Errorf("/oncall incidents: %d %s", code, body)
	}

	// A forged click is refused and changes nothing.
	if code := click(t, qp.URL, "forged", "U0ALICE01", "ack", id, teamPage, responses.URL); code != http.StatusUnauthorized {
		t.Errorf("forged click: %d, want 401", code)
	}

	// Silence 1h: one silence in Alertmanager on the incident's common labels.
	click(t, qp.URL, slackSecret, "U0ALICE01", "silence_1h", id, teamPage, responses.URL)
	var silences []alertmanagertest.Silence
	waitFor(t, 20*time.Second, "the silence in Alertmanager", func() (bool, string) {
		var err error
		silences, err = alertmanagertest.Silences(amURL)
		return err == nil && len(silences) == 1, fmt.Sprintf("%+v %v", silences, err)
	})
	s := silences[0]
	if fmt.Sprint(s.MatcherMap()) != "map[alertname:DiskFull severity:critical]" || s.CreatedBy != "alice" ||
		s.Status.State != "active" || !strings.Contains(s.Comment, fmt.Sprintf("https://quietpager.example.com/incidents/%d", id)) {
		t.Errorf("silence %+v, want DiskFull's common labels, by alice, active, linking the incident", s)
	}
	if d := s.EndsAt.Sub(s.StartsAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("silence lasts %s, want 1h", d)
	}
	waitFor(t, 20*time.Second, "the page to show the silence", edited("Silenced by alice until"))
	waitFor(t, 20*time.Second, "the silence in the thread", thread("Silenced by alice until"))

	click(t, qp.URL, slackSecret, "U0BOB0001", "not_actionable", id, teamPage, responses.URL)
	waitFor(t, 20*time.Second, "the page to show the feedback", edited("Not actionable: bob"))

	click(t, qp.URL, slackSecret, "U0ALICE01", "ack", id, teamPage, responses.URL)
	waitFor(t, 20*time.Second, "the page to show the ack", edited("Acknowledged by alice"))
	waitFor(t, 20*time.Second, "the ack in the thread", thread("Acknowledged by alice"))

	click(t, qp.URL, slackSecret, "U0ALICE01", "resolve", id, teamPage, responses.URL)
	waitFor(t, 20*time.Second, "the page to show the resolve", edited("Resolved by alice"))
	waitFor(t, 20*time.Second, "the storm update in the thread", thread("Update: DiskFull: 2 of 2 alerts firing"))

	var in struct {
		pagedIncident
		Silences []dedupe.Silence  `json:"silences"`
		Feedback []dedupe.Feedback `json:"feedback"`
	}
	if err := getJSON(qp.URL, fmt.Sprintf("/api/v1/incidents/%d", id), token, &in); err != nil {
		t.Fatal(err)
	}
	if in.State != "resolved" || in.AcknowledgedBy != "alice" {
		t.Errorf("incident %s, acknowledged by %q; want resolved, acknowledged by alice", in.State, in.AcknowledgedBy)
	}
	if len(in.Silences) != 1 || in.Silences[0].ID != s.ID || len(in.Feedback) != 1 || in.Feedback[0].Actor != "bob" {
		t.Errorf("incident silences %+v, feedback %+v", in.Silences, in.Feedback)
	}
	for _, kind := range []string{dedupe.EventSilenced, dedupe.EventNotActionable, dedupe.EventAcknowledged, dedupe.EventResolved} {
		if len(in.events(kind)) != 1 {
			t.Errorf("timeline has %d %s events, want 1: %v", len(in.events(kind)), kind, in.kinds())
		}
	}
	// Nothing went to the channel itself after the page: every update is
	// an edit or in the thread.
	for _, c := range slack.postsTo(teamPage.ReceiptChannel) {
		if c.Form.Get("thread_ts") == "" && !strings.Contains(c.Form.Get("text"), "DiskFull") {
			t.Errorf("a message in the channel outside the thread: %q", c.Form.Get("text"))
		}
	}
	if n := len(slack.postsTo(teamPage.ReceiptChannel)) - len(threadPosts(slack, teamPage)); n != 1 {
		t.Errorf("%d top-level messages in the team channel, want the one page", n)
	}
	waitFor(t, 10*time.Second, "the confirmations at the response_url", func() (bool, string) {
		got := responses.texts()
		return strings.Contains(got, "for 1h") && strings.Contains(got, "not actionable") &&
			strings.Contains(got, "Acknowledged") && strings.Contains(got, "Resolved"), got
	})
}

func threadPosts(slack *recordingSlack, page dedupe.PageRecord) []slackCall {
	var out []slackCall
	for _, c := range slack.postsTo(page.ReceiptChannel) {
		if c.Form.Get("thread_ts") == page.ReceiptID {
			out = append(out, c)
		}
	}
	return out
}
