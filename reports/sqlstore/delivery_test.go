package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/slack-go/slack/slacktest"

	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/integrations/mailpittest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// mailbox reads mailpit back.
type mailbox struct {
	t   testing.TB
	api string
}

type mailSummary struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address string }
}

func (m mailbox) get(path string, v any) {
	m.t.Helper()
	resp, err := http.Get(m.api + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		m.t.Fatal(err)
	}
}

func (m mailbox) list() []mailSummary {
	var l struct{ Messages []mailSummary }
	m.get("/api/v1/messages?limit=500", &l)
	return l.Messages
}

// waitFor polls until cond holds or fails the test after 20 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slackChannel is slacktest with chat.postMessage recorded.
type slackChannel struct {
	URL   string
	mu    sync.Mutex
	posts []string // channel: text
}

func newSlack(t testing.TB) *slackChannel {
	s := &slackChannel{}
	st := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			s.mu.Lock()
			s.posts = append(s.posts, r.Form.Get("channel")+": "+r.Form.Get("text"))
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": "1.000001"})
		})
	})
	st.Start()
	t.Cleanup(st.Stop)
	s.URL = st.GetAPIURL()
	return s
}

func (s *slackChannel) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.posts...)
}

// twoTeams adds team web in New York (carol) to applyConfig's db.
func twoTeams(t testing.TB, db *migrations.DB) *rotationstore.Store {
	store := applyConfig(t, db)
	cfg, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ny := zone(t, "America/New_York")
	cfg.People = append(cfg.People, rotation.Person{Name: "carol", Email: "carol@example.com", TimeZone: ny})
	cfg.Teams = append(cfg.Teams, rotation.Team{Name: "web", TimeZone: ny, SlackChannel: "#web", Members: []string{"carol"}})
	if _, err := store.Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	return store
}

type clock struct{ us atomic.Int64 }

func (c *clock) Now() time.Time      { return time.UnixMicro(c.us.Load()).UTC() }
func (c *clock) Set(t time.Time)     { c.us.Store(t.UnixMicro()) }
func newClock(t time.Time) *clock    { c := &clock{}; c.Set(t); return c }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// replica is one quietpager's delivery on its own River client.
func replica(t testing.TB, db *migrations.DB, d *reports.Delivery) *river.Client[*sql.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	d.Register(workers)
	c, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		PeriodicJobs:      []*river.PeriodicJob{d.PeriodicJob()},
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, c) })
	return c
}

func stop(t testing.TB, c *river.Client[*sql.Tx]) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Logf("stop: %v", err)
	}
}

func newDelivery(t testing.TB, db *migrations.DB, oncall *rotationstore.Store, mp *mailpittest.Server, slackURL string, now func() time.Time) *reports.Delivery {
	svc := reports.New(reports.Options{History: sqlstore.New(db), OnCall: oncall, Now: now})
	return reports.NewDelivery(reports.DeliveryOptions{
		Reports: svc, Sends: sqlstore.New(db),
		Mail:        integrations.NewMailer(integrations.MailOptions{Host: "127.0.0.1", Port: mp.SMTPPort, From: "quietpager@example.com"}),
		Slack:       integrations.NewSlack(integrations.SlackOptions{Token: "xoxb-test", APIURL: slackURL}),
		ExternalURL: "https://qp.example/", Now: now, Interval: 100 * time.Millisecond,
	})
}

// Two replicas send the reports of Monday 26 October 2026: team db
// (Berlin) at 09:00 CET, team web (New York) at 09:00 EDT, five hours
// later. One replica stops between the two and a new one starts. Each
// member gets one e-mail and each channel one summary.
func TestWeeklyReportsSentOncePerTeamAcrossReplicasAndRestart(t *testing.T) {
	mp, ok := mailpittest.Start(t)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		box := mailbox{t, mp.API}
		resp, err := http.NewRequest(http.MethodDelete, mp.API+"/api/v1/messages", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := http.DefaultClient.Do(resp); err != nil {
			t.Fatal(err)
		} else {
			r.Body.Close()
		}
		slack := newSlack(t)
		goldenWeek(t, db)
		oncall := twoTeams(t, db)
		clk := newClock(at(t, "2026-10-26T07:55:00Z")) // 08:55 in Berlin: not yet
		a := newDelivery(t, db, oncall, mp, slack.URL, clk.Now)
		b := newDelivery(t, db, oncall, mp, slack.URL, clk.Now)
		ctx := context.Background()
		if err := a.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(box.list()); n != 0 {
			t.Fatalf("%d e-mails before Monday 09:00", n)
		}

		clk.Set(at(t, "2026-10-26T08:05:00Z")) // 09:05 in Berlin, 04:05 in New York
		ra := replica(t, db, a)
		rb := replica(t, db, b)
		// Both replicas also run the job by hand, at the same time.
		var wg sync.WaitGroup
		for _, d := range []*reports.Delivery{a, b, a, b} {
			wg.Go(func() {
				if err := d.SendDue(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		waitFor(t, "db's two e-mails", func() bool { return len(box.list()) >= 2 })
		stop(t, ra)

		clk.Set(at(t, "2026-10-26T13:05:00Z")) // 09:05 in New York
		c := newDelivery(t, db, oncall, mp, slack.URL, clk.Now)
		rc := replica(t, db, c)
		waitFor(t, "web's e-mail", func() bool { return len(box.list()) >= 3 })
		for _, d := range []*reports.Delivery{b, c} {
			if err := d.SendDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Stopping waits for running jobs: nothing more can arrive.
		stop(t, rb)
		stop(t, rc)

		got := map[string]int{}
		for _, m := range box.list() {
			for _, to := range m.To {
				got[to.Address+" "+m.Subject]++
			}
		}
		want := map[string]int{
			"alice@example.com [quietpager] db 2026-W43: 8 interruptions, 4 interrupted nights":  1,
			"bob@example.com [quietpager] db 2026-W43: 8 interruptions, 4 interrupted nights":    1,
			"carol@example.com [quietpager] web 2026-W43: 0 interruptions, 0 interrupted nights": 1,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("e-mails\n got %v\nwant %v", got, want)
		}
		posts := slack.all()
		if len(posts) != 2 || !strings.HasPrefix(posts[0], "#db: *Weekly report for db, 2026-W43*: 15 pages") ||
			!strings.Contains(posts[0], "<https://qp.example/reports?team=db&week=2026-W43|Full report>") ||
			!strings.HasPrefix(posts[1], "#web: *Weekly report for web, 2026-W43*") {
			t.Errorf("Slack posts: %q", posts)
		}
	})
}

// The weekly e-mail, read back from a real SMTP server, carries both parts
// and the same figures as the JSON report.
func TestWeeklyEmailMatchesJSON(t *testing.T) {
	mp, ok := mailpittest.Start(t)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	goldenWeek(t, db)
	oncall := applyConfig(t, db)
	now := func() time.Time { return at(t, "2026-10-26T08:05:00Z") }
	d := newDelivery(t, db, oncall, mp, newSlack(t).URL, now)
	ctx := context.Background()
	week := reports.Week{Year: 2026, Num: 43}
	sent, err := d.Send(ctx, "db", week)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sent.Recipients) != "[mailto:alice@example.com mailto:bob@example.com slack:#db]" {
		t.Errorf("sent to %v", sent.Recipients)
	}
	if again, err := d.Send(ctx, "db", week); err != nil || len(again.Recipients) != 0 || len(again.Skipped) != 3 {
		t.Errorf("second send: %+v, %v; want all skipped", again, err)
	}

	// The JSON report, as the API serves it.
	w, err := reports.New(reports.Options{History: sqlstore.New(db), OnCall: oncall, Now: now}).Weekly(ctx, "db", week)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := reports.WriteJSON(&js, w); err != nil {
		t.Fatal(err)
	}
	var back reports.Weekly
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	f := back.Figures

	box := mailbox{t, mp.API}
	var msg struct {
		mailSummary
		Text, HTML string
	}
	for _, m := range box.list() {
		if m.To[0].Address == "alice@example.com" {
			box.get("/api/v1/message/"+m.ID, &msg)
		}
	}
	msg.Text = strings.ReplaceAll(msg.Text, "\r\n", "\n") // SMTP's line ends
	if msg.Text == "" || msg.HTML == "" {
		t.Fatalf("want a plain-text and an HTML part: %+v", msg)
	}
	if !strings.HasPrefix(msg.MessageID, "report-2026-W43-") {
		t.Errorf("Message-ID %q", msg.MessageID)
	}
	for _, want := range []string{
		fmt.Sprintf("Pages                  %d\n", f.Pages),
		fmt.Sprintf("Incidents              %d (", f.Incidents),
		fmt.Sprintf("Interruptions          %d (business hours %d, off hours %d, sleep hours %d)",
			f.Interruptions.Total, f.Interruptions.Business, f.Interruptions.Off, f.Interruptions.Sleep),
		fmt.Sprintf("Interrupted nights     %d (longest run %d)", f.InterruptedNights, f.LongestNightRun),
		fmt.Sprintf("Weekend interruptions  %d\n", f.WeekendInterruptions),
		fmt.Sprintf("Time on call           %gh\n", time.Duration(f.OnCall).Hours()),
		fmt.Sprintf("Time to acknowledge    mean %s, p90 %s (%d acknowledged)", f.TimeToAck.Mean, f.TimeToAck.P90, f.TimeToAck.Count),
		fmt.Sprintf("Escalations            %d\n", f.Escalations),
		fmt.Sprintf("burnout risk: %s (%s)", back.People[0].Risk.Level, back.People[0].Risk.Reason),
		"Full report: https://qp.example/reports?team=db&week=2026-W43",
	} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, msg.Text)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("<td>Pages</td><td align=\"right\"><b>%d</b>", f.Pages),
		fmt.Sprintf("<td>Interruptions</td><td align=\"right\"><b>%d</b></td><td>business hours %d, off hours %d, sleep hours %d",
			f.Interruptions.Total, f.Interruptions.Business, f.Interruptions.Off, f.Interruptions.Sleep),
		fmt.Sprintf("<td>Interrupted nights</td><td align=\"right\"><b>%d</b></td><td>longest run %d", f.InterruptedNights, f.LongestNightRun),
		fmt.Sprintf("<b>%s</b>: %s", back.People[0].Risk.Level, back.People[0].Risk.Reason),
		`bgcolor="#c0392b"`, // the sleep-hours bars
	} {
		if !strings.Contains(msg.HTML, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
}
