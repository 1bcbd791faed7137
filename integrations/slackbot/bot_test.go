package slackbot_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/integrations/alertmanagertest"
	"github.com/quietpager/quietpager/integrations/slackbot"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
)

func TestHelpAndUsage(t *testing.T) {
	w := newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)),
		func(o *slackbot.Options) { o.Command = "/pager" })
	help := w.command("U0ALICE", "help")
	if help.ResponseType != slack.ResponseTypeEphemeral {
		t.Errorf("help is %q, want ephemeral", help.ResponseType)
	}
	for _, sub := range []string{"who [team]", "incidents [team]", "ack <incident>", "resolve <incident>",
		"take [duration | until <time>]", "swap @person <YYYY-MM-DD>", "silence <incident> <duration>", "noisy [team]", "help"} {
		wantText(t, "help", help.Text, "`/pager "+sub+"`")
	}
	if empty := w.command("U0ALICE", ""); empty.Text != help.Text {
		t.Errorf("no subcommand answered %q, want the help", empty.Text)
	}
	for _, c := range []struct{ text, want string }{
		{"frobnicate", "`/pager who [team]`"}, // the whole list
		{"ack banana", "Usage: `/pager ack <incident>`"},
		{"silence 4", "Usage: `/pager silence <incident> <duration>`"},
		{"take tomorrow", "Usage: `/pager take [duration | until <time>]`"},
		{"swap <@U0BOB>", "Usage: `/pager swap @person <YYYY-MM-DD>`"},
		{"who a b", "Usage: `/pager who [team]`"},
	} {
		m := w.command("U0ALICE", c.text)
		if m.ResponseType != slack.ResponseTypeEphemeral {
			t.Errorf("%q answered %q, want ephemeral", c.text, m.ResponseType)
		}
		wantText(t, c.text, m.Text, c.want)
	}
	if m := w.command("U0ALICE", "ack <!channel>"); strings.Contains(m.Text, "<!channel>") {
		t.Errorf("the reply echoes a mention unescaped: %q", m.Text)
	}
}

func TestWho(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		w := newWorld(t, db)
		handoff := time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)
		m := w.command("U0NOBODY", "who") // anyone in the workspace may ask
		wantText(t, "who", m.Text, "*payments-primary* (payments): *alice* until <!date^"+strconv.FormatInt(handoff.Unix(), 10),
			"2026-11-28 22:00 UTC>, then *bob*")
		wantText(t, "who payments", w.command("U0ALICE", "who payments").Text, "*alice*")
		if m := w.command("U0ALICE", "who search"); !strings.Contains(m.Text, "No rotations are configured for search") {
			t.Errorf("who search: %q", m.Text)
		}
		if m := w.command("U0ALICE", "who nosuch"); !strings.Contains(m.Text, `There is no team "nosuch"; teams: payments, search`) {
			t.Errorf("who nosuch: %q", m.Text)
		}
	})
}

func TestIncidentsAckResolve(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		w := newWorld(t, db)
		if m := w.command("U0ALICE", "incidents"); !strings.Contains(m.Text, "No open incidents") {
			t.Errorf("incidents with none open: %q", m.Text)
		}
		newer := w.open(map[string]string{"alertname": "HighLatency", "service": "api"}, now.Add(-time.Hour))
		older := w.open(map[string]string{"alertname": "DiskFull", "instance": "db-1"}, now.Add(-2*time.Hour))

		m := w.command("U0BOB", "incidents payments")
		wantText(t, "incidents", m.Text, "2 open incident(s) for payments, oldest first")
		var order []string
		var buttons [][]string
		for _, b := range m.Blocks.BlockSet {
			switch b := b.(type) {
			case *slack.SectionBlock:
				if strings.Contains(b.Text.Text, "#") {
					order = append(order, b.Text.Text)
				}
			case *slack.ActionBlock:
				var ids []string
				for _, e := range b.Elements.ElementSet {
					btn := e.(*slack.ButtonBlockElement)
					ids = append(ids, btn.ActionID+"="+btn.Value)
				}
				buttons = append(buttons, ids)
			}
		}
		if len(order) != 2 || !strings.Contains(order[0], "DiskFull") || !strings.Contains(order[1], "HighLatency") {
			t.Fatalf("incidents listed %q, want DiskFull then HighLatency", order)
		}
		wantText(t, "incident line", order[0], fmt.Sprintf("<https://qp.example.com/incidents/%d|#%d DiskFull>", older, older))
		if fmt.Sprint(buttons) != fmt.Sprintf("[[ack=%d resolve=%d] [ack=%d resolve=%d]]", older, older, newer, newer) {
			t.Errorf("buttons %v, want ack and resolve for each, oldest first", buttons)
		}

		// ack as alice: the incident records her as the actor.
		m = w.command("U0ALICE", fmt.Sprintf("ack #%d", older))
		wantText(t, "ack", m.Text, fmt.Sprintf("Acknowledged <https://qp.example.com/incidents/%d|#%d DiskFull>.", older, older))
		in := w.incident(older)
		if in.State != dedupe.IncidentAcknowledged || in.AcknowledgedBy != "alice" {
			t.Errorf("after ack: %s by %q, want acknowledged by alice", in.State, in.AcknowledgedBy)
		}
		if m := w.command("U0BOB", "incidents"); !strings.Contains(m.Text, "2 open") {
			t.Errorf("acknowledged incidents are still listed: %q", m.Text)
		}
		m = w.command("U0BOB", fmt.Sprintf("resolve %d", older))
		wantText(t, "resolve", m.Text, "Resolved ")
		if in := w.incident(older); in.State != dedupe.IncidentResolved || in.ResolvedBy != "bob" {
			t.Errorf("after resolve: %s by %q, want resolved by bob", in.State, in.ResolvedBy)
		}
		if m := w.command("U0BOB", "incidents"); !strings.Contains(m.Text, "1 open") {
			t.Errorf("after resolving one: %q", m.Text)
		}

		// The error replies.
		for _, c := range []struct{ user, text, want string }{
			{"U0ALICE", fmt.Sprintf("ack %d", older), fmt.Sprintf("Incident %d is resolved; it cannot be acknowledged", older)},
			{"U0ALICE", "ack 999", "No incident 999"},
			{"U0ALICE", "resolve 999", "No incident 999"},
			{"U0STRANGER", fmt.Sprintf("ack %d", newer), "I don't know who you are in quietpager yet"},
			{"U0ALICE", "incidents nosuch", `There is no team "nosuch"`},
		} {
			m := w.command(c.user, c.text)
			if m.ResponseType != slack.ResponseTypeEphemeral {
				t.Errorf("%q is %q, want ephemeral", c.text, m.ResponseType)
			}
			wantText(t, c.text, m.Text, c.want)
		}
		wantText(t, "stranger", w.command("U0STRANGER", "resolve 1").Text, "`slack_id: U0STRANGER`", "`email`")
		if in := w.incident(newer); in.State != dedupe.IncidentOpen {
			t.Errorf("a stranger's ack changed the incident to %s", in.State)
		}
	})
}

// carol has no slack_id: she is found by her e-mail address through
// users.lookupByEmail, once, then from the cache.
func TestPersonByEmail(t *testing.T) {
	w := newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)))
	id := w.open(map[string]string{"alertname": "DiskFull"}, now.Add(-time.Hour))
	w.command("U0CAROL", fmt.Sprintf("ack %d", id))
	if in := w.incident(id); in.AcknowledgedBy != "carol" {
		t.Fatalf("acknowledged by %q, want carol (found by e-mail)", in.AcknowledgedBy)
	}
	w.command("U0CAROL", fmt.Sprintf("resolve %d", id))
	if in := w.incident(id); in.ResolvedBy != "carol" {
		t.Fatalf("resolved by %q, want carol", in.ResolvedBy)
	}
	if n := w.lookups.get("carol@example.com"); n != 1 {
		t.Errorf("users.lookupByEmail asked %d times for carol, want 1 (cached)", n)
	}
	wantText(t, "stranger", w.command("U0DAVE", "resolve 1").Text, "I don't know who you are")
	if n := w.lookups.get("carol@example.com"); n != 1 {
		t.Errorf("users.lookupByEmail asked %d times for carol, want still 1", n)
	}
}

func TestTake(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		w := newWorld(t, db)
		overrides := func() []string {
			t.Helper()
			list, err := w.oncall.Overrides(context.Background(), "", now.Add(-time.Hour), now.Add(60*24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range list {
				out = append(out, fmt.Sprintf("%s %s %s–%s by %s", o.Rotation, o.Person,
					o.Start.Format("01-02 15:04"), o.End.Format("01-02 15:04"), o.CreatedBy))
			}
			return out
		}
		// bob takes the pager until the end of alice's shift.
		m := w.command("U0BOB", "take")
		if m.ResponseType != slack.ResponseTypeInChannel {
			t.Errorf("take is %q, want in_channel", m.ResponseType)
		}
		wantText(t, "take", m.Text, "<@U0BOB> takes the pager for *payments-primary* until <!date^")
		if got := fmt.Sprint(overrides()); got != "[payments-primary bob 11-25 10:00–11-28 22:00 by bob]" {
			t.Errorf("after take: overrides %s", got)
		}
		wantText(t, "who after take", w.command("U0ALICE", "who").Text, "*bob* (override) until")

		w.command("U0ALICE", "take 4h")
		// 18:00 in alice's zone (Berlin, UTC+1) is 17:00 UTC.
		w.command("U0ALICE", "take until 18:00")
		w.command("U0ALICE", "take until 2026-11-26 09:00")
		want := []string{
			"payments-primary bob 11-25 10:00–11-28 22:00 by bob",
			"payments-primary alice 11-25 10:00–11-25 14:00 by alice",
			"payments-primary alice 11-25 10:00–11-25 17:00 by alice",
			"payments-primary alice 11-25 10:00–11-26 08:00 by alice",
		}
		if got := overrides(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("overrides\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, c := range []struct{ user, text, want string }{
			{"U0ALICE", "take 40d", "take covers at most 31d"},
			{"U0ALICE", "take until 2026-11-01", "that time has passed"},
			{"U0ALICE", "take until 2026-11-01", "Usage: `/oncall take"},
			{"U0STRANGER", "take", "I don't know who you are"},
		} {
			wantText(t, c.text, w.command(c.user, c.text).Text, c.want)
		}
		// carol's only team with a rotation is… none she is a member of.
		if m := w.command("U0CAROL", "take"); !strings.Contains(m.Text, "*payments-primary*") {
			t.Errorf("carol take: %q, want the payments rotation (her first team's)", m.Text)
		}
	})
}

func TestSwap(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		w := newWorld(t, db)
		// alice's next shift runs 5 December 22:00 to 12 December 22:00.
		m := w.command("U0ALICE", "swap <@U0BOB|bob> 2026-12-08")
		if m.ResponseType != slack.ResponseTypeInChannel {
			t.Errorf("swap offer is %q, want in_channel so bob sees it", m.ResponseType)
		}
		wantText(t, "offer", m.Text, "<@U0ALICE> asks <@U0BOB> to take their *payments-primary* shift from",
			"2026-12-05 22:00 UTC", "2026-12-12 22:00 UTC")
		var accept *slack.ButtonBlockElement
		for _, b := range m.Blocks.BlockSet {
			if a, ok := b.(*slack.ActionBlock); ok {
				accept = a.Elements.ElementSet[0].(*slack.ButtonBlockElement)
			}
		}
		if accept == nil || accept.ActionID != slackbot.ActionSwapAccept || accept.Text.Text != "Accept" {
			t.Fatalf("swap offer without an Accept button: %+v", m.Blocks)
		}

		// Only bob may accept.
		r := w.click("U0CAROL", accept.ActionID, accept.Value)
		wantText(t, "carol accepts", r.Text, "This swap was offered to bob, not to you")
		r = w.click("U0BOB", accept.ActionID, accept.Value)
		if !r.ReplaceOriginal || r.ResponseType != slack.ResponseTypeInChannel {
			t.Errorf("accepting: replace %v, %q; want the offer replaced in the channel", r.ReplaceOriginal, r.ResponseType)
		}
		wantText(t, "accepted", r.Text, "<@U0BOB> takes alice's *payments-primary* shift")
		list, err := w.oncall.Overrides(context.Background(), "payments-primary", now, now.Add(30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Person != "bob" || !list[0].Start.Equal(time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)) ||
			!list[0].End.Equal(time.Date(2026, 12, 12, 22, 0, 0, 0, time.UTC)) {
			t.Errorf("overrides after the swap: %+v, want bob 5 to 12 December 22:00", list)
		}
		// Accepting twice: the shift is bob's now.
		r = w.click("U0BOB", accept.ActionID, accept.Value)
		wantText(t, "second accept", r.Text, "The schedule changed: bob is on call then, not alice")

		for _, c := range []struct{ user, text, want string }{
			{"U0ALICE", "swap @bob 2026-12-01", "You are not on call in payments-primary on 2026-12-01"},
			{"U0ALICE", "swap @alice 2026-12-08", "you cannot swap with yourself"},
			{"U0ALICE", "swap @zed 2026-12-08", `"zed" is nobody quietpager knows`},
			{"U0ALICE", "swap <@U0ZED> 2026-12-08", "The Slack user U0ZED is nobody quietpager knows"},
			{"U0ALICE", "swap @bob 2026-11-01", "2026-11-01 has passed"},
		} {
			wantText(t, c.text, w.command(c.user, c.text).Text, c.want)
		}
		if r := w.click("U0BOB", slackbot.ActionSwapAccept, "{not json"); !strings.Contains(r.Text, "This swap offer is damaged") {
			t.Errorf("damaged offer: %q", r.Text)
		}
	})
}

func TestSilence(t *testing.T) {
	bin := alertmanagertest.Binary(t)
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		am, silencer := withAlertmanager(t, bin)
		w := newWorld(t, db, silencer, func(o *slackbot.Options) { o.MaxSilence = 24 * time.Hour })
		id := w.open(map[string]string{"alertname": "DiskFull", "instance": "db-1", "team": "payments"}, time.Now().Add(-time.Minute))

		m := w.command("U0ALICE", fmt.Sprintf("silence %d 2h", id))
		if m.ResponseType != slack.ResponseTypeInChannel {
			t.Errorf("silence is %q, want in_channel", m.ResponseType)
		}
		wantText(t, "silence", m.Text, "<@U0ALICE> silenced", "for 2h", `{alertname="DiskFull", instance="db-1", team="payments"}`)
		list, err := alertmanagertest.Silences(am)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("Alertmanager has %d silences, want 1", len(list))
		}
		s := list[0]
		if fmt.Sprint(s.MatcherMap()) != "map[alertname:DiskFull instance:db-1 team:payments]" || s.CreatedBy != "alice" ||
			s.Status.State != "active" || !strings.Contains(s.Comment, fmt.Sprintf("https://qp.example.com/incidents/%d", id)) {
			t.Errorf("silence in Alertmanager: %+v", s)
		}
		if d := s.EndsAt.Sub(s.StartsAt); d < 2*time.Hour-time.Second || d > 2*time.Hour+time.Second {
			t.Errorf("silence lasts %s, want 2h", d)
		}
		in := w.incident(id)
		if len(in.Silences) != 1 || in.Silences[0].ID != s.ID || in.Silences[0].CreatedBy != "alice" {
			t.Errorf("incident silences %+v, want Alertmanager's %s by alice", in.Silences, s.ID)
		}
		if ev := events(in, dedupe.EventSilenced); len(ev) != 1 || ev[0].Actor != "alice" || !strings.Contains(ev[0].Detail, s.ID) {
			t.Errorf("silenced events %+v", ev)
		}

		for _, c := range []struct{ text, want string }{
			{fmt.Sprintf("silence %d 25h", id), "A silence may last at most 1d, not 1d1h"},
			{"silence 999 1h", "No incident 999"},
		} {
			wantText(t, c.text, w.command("U0ALICE", c.text).Text, c.want)
		}
		w.command("U0ALICE", fmt.Sprintf("resolve %d", id))
		wantText(t, "resolved", w.command("U0ALICE", fmt.Sprintf("silence %d 1h", id)).Text, "is resolved; there is nothing to silence")
		if list, _ := alertmanagertest.Silences(am); len(list) != 1 {
			t.Errorf("refused silences reached Alertmanager: %d silences", len(list))
		}
	})
}

func TestSilenceRefusals(t *testing.T) {
	w := newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)))
	id := w.open(map[string]string{"alertname": "DiskFull"}, now.Add(-time.Minute))
	wantText(t, "no alertmanager", w.command("U0ALICE", fmt.Sprintf("silence %d 1h", id)).Text, "Silences are not set up", "--alertmanager-url")

	// Alertmanager is down: the reply says so, nothing is recorded.
	w = newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)), func(o *slackbot.Options) {
		o.Silencer = integrations.NewAlertmanager(integrations.AlertmanagerOptions{URL: "http://127.0.0.1:1",
			Retry: integrations.RetryOptions{Max: -1}})
	})
	id = w.open(map[string]string{"alertname": "DiskFull"}, now.Add(-time.Minute))
	wantText(t, "alertmanager down", w.command("U0ALICE", fmt.Sprintf("silence %d 1h", id)).Text, "That did not work: Alertmanager did not take the silence. Try again in a moment.")
	if in := w.incident(id); len(in.Silences) != 0 {
		t.Errorf("a failed silence was recorded: %+v", in.Silences)
	}
}

func TestNoisy(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		w := newWorld(t, db)
		if m := w.command("U0ALICE", "noisy"); !strings.Contains(m.Text, "No pages in the last seven days") {
			t.Errorf("noisy with no pages: %q", m.Text)
		}
		ctx := context.Background()
		// Flappy fired and resolved by itself three times in two minutes
		// each, paging alice at night (sleep, in Berlin) every time.
		for i := 3; i > 0; i-- { // oldest first
			start := now.Add(-time.Duration(24*i) * time.Hour)
			labels := map[string]string{"alertname": "Flappy"}
			id := w.open(labels, start)
			if _, err := w.incidents.Write(ctx, dedupe.Fold([]dedupe.Received{{Fingerprint: dedupe.Fingerprint(labels), Labels: labels, Receiver: "r",
				GroupKey: "{}:" + dedupe.Fingerprint(labels), StartsAt: start, EndsAt: start.Add(2 * time.Minute), Resolved: true,
				ReceivedAt: start.Add(2 * time.Minute)}})); err != nil {
				t.Fatal(err)
			}
			if err := w.incidents.RecordInterruption(ctx, dedupe.Interruption{IncidentID: id, Opening: 1, Person: "alice",
				Team: "payments", At: start, Band: "sleep"}, "paged alice"); err != nil {
				t.Fatal(err)
			}
		}
		// Busy paged in business hours twice, one marked not actionable.
		for i := range 2 {
			at := now.Add(-time.Duration(i+1) * time.Hour)
			id := w.open(map[string]string{"alertname": "Busy", "n": strconv.Itoa(i)}, at)
			if err := w.incidents.RecordInterruption(ctx, dedupe.Interruption{IncidentID: id, Opening: 1, Person: "bob",
				Team: "payments", At: at, Band: "business"}, "paged bob"); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if _, err := w.incidents.MarkNotActionable(ctx, id, "bob", at); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Old pages (eight days ago) do not count.
		old := w.open(map[string]string{"alertname": "Ancient"}, now.Add(-8*24*time.Hour))
		if err := w.incidents.RecordInterruption(ctx, dedupe.Interruption{IncidentID: old, Opening: 1, Person: "bob",
			Team: "payments", At: now.Add(-8 * 24 * time.Hour), Band: "sleep"}, "paged bob"); err != nil {
			t.Fatal(err)
		}

		m := w.command("U0ALICE", "noisy payments")
		lines := strings.Split(m.Text, "\n")
		// The ranking is the weekly report's (reports.Service.Noise):
		// sleep-hour interruptions weigh 5, business hours 1.
		want := []string{
			"1. *Flappy* (payments): toil 15, 3 interruption(s), 3 in sleep hours",
			"    Fix: raise `for:` to 3m: 3 of 3 episodes resolved within 2m0s",
			"2. *Busy* (payments): toil 2, 2 interruption(s), 0 in sleep hours, 1 marked not actionable",
		}
		if len(lines) != 4 || strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
			t.Errorf("noisy:\n%s\nwant after the heading:\n%s", m.Text, strings.Join(want, "\n"))
		}
		if m := w.command("U0ALICE", "noisy search"); !strings.Contains(m.Text, "No pages in the last seven days for search") {
			t.Errorf("noisy search: %q", m.Text)
		}
		wantText(t, "noisy nosuch", w.command("U0ALICE", "noisy nosuch").Text, `There is no team "nosuch"`)
	})
}

// slowRanker blocks until released, as a slow database or report would.
type slowRanker struct {
	release chan struct{}
	inner   slackbot.NoiseRanker
}

func (s slowRanker) Noise(ctx context.Context, team string, since, until time.Time) ([]reports.RuleNoise, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.inner.Noise(ctx, team, since, until)
}

// A command slower than the reply budget answers at once that it is under
// way, and its reply follows through the response_url.
func TestSlowCommandFinishesThroughResponseURL(t *testing.T) {
	release := make(chan struct{})
	w := newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)), func(o *slackbot.Options) {
		o.ReplyWithin = 50 * time.Millisecond
		o.Noise = slowRanker{release: release, inner: o.Noise}
	})
	m := w.command("U0ALICE", "noisy") // returns although the ranking is still blocked
	if m.Text != "Working on it…" || m.ResponseType != slack.ResponseTypeEphemeral {
		t.Fatalf("slow command answered %q (%s), want the ephemeral note that it is under way", m.Text, m.ResponseType)
	}
	w.responses.none(t)
	close(release)
	r := w.responses.next(t)
	wantText(t, "late reply", r.Text, "No pages in the last seven days")
	if r.ResponseType != slack.ResponseTypeEphemeral || r.ReplaceOriginal {
		t.Errorf("late reply %q, replace %v; want ephemeral, not replacing", r.ResponseType, r.ReplaceOriginal)
	}
	// A fast command is answered directly; nothing goes to the response_url.
	if m := w.command("U0ALICE", "help"); !strings.Contains(m.Text, "/oncall who") {
		t.Errorf("help: %q", m.Text)
	}
	w.responses.none(t)
}

// Stop waits for work in flight; after its deadline it cancels it.
func TestStopCancelsWorkInFlight(t *testing.T) {
	release := make(chan struct{})
	w := newWorld(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)), func(o *slackbot.Options) {
		o.ReplyWithin = time.Millisecond
		o.Noise = slowRanker{release: release, inner: o.Noise}
	})
	w.command("U0ALICE", "noisy")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.bot.Stop(ctx) // returns: the blocked ranking was cancelled
	w.responses.none(t)
	if m := w.command("U0ALICE", "help"); !strings.Contains(m.Text, "restarting") {
		t.Errorf("after Stop: %q, want a refusal", m.Text)
	}
}

func TestButtons(t *testing.T) {
	bin := alertmanagertest.Binary(t)
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		am, silencer := withAlertmanager(t, bin)
		w := newWorld(t, db, silencer)
		id := w.open(map[string]string{"alertname": "DiskFull", "instance": "db-1"}, time.Now().Add(-time.Minute))
		value := strconv.FormatInt(id, 10)

		r := w.click("U0BOB", integrations.ActionNotActionable, value)
		wantText(t, "not actionable", r.Text, fmt.Sprintf("Marked incident #%d not actionable", id))
		r = w.click("U0BOB", integrations.ActionNotActionable, value)
		wantText(t, "not actionable again", r.Text, "You had already marked")
		in := w.incident(id)
		if len(in.Feedback) != 1 || in.Feedback[0].Actor != "bob" || in.Feedback[0].Kind != dedupe.FeedbackNotActionable {
			t.Errorf("feedback %+v, want one not_actionable by bob", in.Feedback)
		}
		if ev := events(in, dedupe.EventNotActionable); len(ev) != 1 || ev[0].Actor != "bob" {
			t.Errorf("not_actionable events %+v, want one by bob", ev)
		}

		r = w.click("U0ALICE", integrations.ActionSilence4h, value)
		if r.ResponseType != slack.ResponseTypeEphemeral {
			t.Errorf("silence button answered %q, want ephemeral (the page shows it to all)", r.ResponseType)
		}
		wantText(t, "silence button", r.Text, "for 4h")
		list, err := alertmanagertest.Silences(am)
		if err != nil || len(list) != 1 || list[0].CreatedBy != "alice" || list[0].EndsAt.Sub(list[0].StartsAt).Round(time.Minute) != 4*time.Hour {
			t.Errorf("Alertmanager silences %+v (%v), want one of 4h by alice", list, err)
		}

		w.click("U0ALICE", integrations.ActionAck, value)
		if in := w.incident(id); in.State != dedupe.IncidentAcknowledged || in.AcknowledgedBy != "alice" {
			t.Errorf("after Acknowledge: %s by %q", in.State, in.AcknowledgedBy)
		}
		w.click("U0BOB", integrations.ActionResolve, value)
		if in := w.incident(id); in.State != dedupe.IncidentResolved || in.ResolvedBy != "bob" {
			t.Errorf("after Resolve: %s by %q", in.State, in.ResolvedBy)
		}
		wantText(t, "stranger", w.click("U0NOBODY", integrations.ActionAck, value).Text, "I don't know who you are")
		wantText(t, "bad value", w.click("U0ALICE", integrations.ActionAck, "x").Text, "This button names no incident")
		wantText(t, "unknown", w.click("U0ALICE", "explode", value).Text, `Quietpager has no button "explode"`)

		// The link button needs nothing from the bot.
		w.bot.Interact(context.Background(), slack.InteractionCallback{Type: slack.InteractionTypeBlockActions,
			User: slack.User{ID: "U0ALICE"}, ResponseURL: w.responses.URL,
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: integrations.ActionOpen, Value: value}}}})
		w.bot.Stop(context.Background())
		w.responses.none(t)
	})
}
