package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// reportsNow is the clock of the noise and report pages' tests: Wednesday
// 25 November 2026 (2026-W48), 13:00 in Berlin.
var reportsNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// reportsUI is the web UI with the reports wired on its database, the
// clock at reportsNow.
type reportsUI struct {
	*uiServer
	Reports *reports.Service
	Pager   *dedupestore.Store
}

func newReportsUI(t *testing.T) *reportsUI {
	t.Helper()
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	s := &reportsUI{uiServer: &uiServer{Accounts: accountstore.New(db), OnCall: rotationstore.New(db)}}
	now := func() time.Time { return reportsNow }
	s.Reports = reports.New(reports.Options{History: reportstore.New(db), OnCall: s.OnCall, Now: now})
	policy := dedupe.DefaultPolicy
	policy.Team, policy.Urgency = "payments", string(rotation.UrgencyPage)
	s.Pager = dedupestore.New(db, dedupestore.Options{Policies: dedupe.StaticPolicy(policy)})
	s.server = newServerOn(t, db, func(o *web.Options) {
		o.Accounts, o.Audit, o.OnCall, o.SessionTTL = s.Accounts, s.Accounts, s.OnCall, 12*time.Hour
		o.Reports, o.Now = s.Reports, now
	})
	return s
}

// fire records what paging records for one firing of rule for team
// payments: the alert firing at start and resolving after d, its own
// incident, and the page to person by e-mail and to the team channel at
// start, which interrupted person.
func (s *reportsUI) fire(rule, person string, start time.Time, d time.Duration) {
	s.t.Helper()
	ctx := context.Background()
	labels := map[string]string{"alertname": rule, "team": "payments", "instance": start.Format(time.RFC3339)}
	rec := dedupe.Received{Fingerprint: dedupe.Fingerprint(labels), Labels: labels, Receiver: "payments",
		GroupKey: rule + start.String(), StartsAt: start, ReceivedAt: start}
	res, err := s.Pager.Write(ctx, dedupe.Fold([]dedupe.Received{rec}))
	if err != nil || len(res.Incidents) != 1 {
		s.t.Fatalf("firing %s at %s: %v, %+v", rule, start, err, res)
	}
	inc := res.Incidents[0]
	berlin, _ := time.LoadLocation("Europe/Berlin") // every payments member's zone but erin's
	for _, pg := range []dedupe.PageRecord{{Person: person, Channel: "email"}, {Channel: "slack"}} {
		pg.IncidentID, pg.Opening, pg.At, pg.Sent = inc.ID, inc.Opening, start, true
		if ok, _, err := s.Pager.ClaimPage(ctx, pg, time.Minute); err != nil || !ok {
			s.t.Fatalf("claim %+v: %v", pg, err)
		}
		if err := s.Pager.RecordPage(ctx, pg); err != nil {
			s.t.Fatal(err)
		}
	}
	err = s.Pager.RecordInterruption(ctx, dedupe.Interruption{IncidentID: inc.ID, Opening: inc.Opening, Person: person,
		Team: "payments", At: start, Band: string(rotation.Classify(start, berlin))}, "paged "+person)
	if err != nil {
		s.t.Fatal(err)
	}
	rec.Resolved, rec.EndsAt, rec.ReceivedAt = true, start.Add(d), start.Add(d)
	if _, err := s.Pager.Write(ctx, dedupe.Fold([]dedupe.Received{rec})); err != nil {
		s.t.Fatal(err)
	}
}

// seedWeek47 records, in 2026-W47 (16–22 November, Berlin on CET):
//   - CPUSpike: 6 firings of 2 minutes on Tuesday 17 November at 10:00,
//     11:00 … 15:00, paging alice in business hours: toil 6, 12 pages;
//   - DiskFull: 3 firings of 40 minutes at 03:00 on Wednesday, Thursday
//     and Friday, paging bob in his sleep: toil 15, 6 pages.
func (s *reportsUI) seedWeek47() {
	s.t.Helper()
	cet := time.FixedZone("CET", 3600)
	for h := 10; h <= 15; h++ {
		s.fire("CPUSpike", "alice", time.Date(2026, 11, 17, h, 0, 0, 0, cet), 2*time.Minute)
	}
	for day := 18; day <= 20; day++ {
		s.fire("DiskFull", "bob", time.Date(2026, 11, day, 3, 0, 0, 0, cet), 40*time.Minute)
	}
}

var (
	ruleRow  = regexp.MustCompile(`<tr class="rule" data-rule="([^"]+)">`)
	barTip   = regexp.MustCompile(`<rect class="bar[^"]*"[^>]*><title>([^<]+): (\d+) pages?</title>`)
	ariaFig  = regexp.MustCompile(`aria-label="([^"]+)"`)
	whatIfTd = regexp.MustCompile(`<tr data-row="(before|after|saved)"><th>[^<]+</th>((?:<td class="num">(?:<b>)?\d+(?:</b>)?</td>)+)`)
	number   = regexp.MustCompile(`\d+`)
	tryIt    = regexp.MustCompile(`<a href="(/noise/whatif\?[^"]+)">try it</a>`)
)

func TestNoisePage(t *testing.T) {
	s := newReportsUI(t)
	s.applyExample()
	s.seedWeek47()
	s.addUser("alice", account.Viewer, "alice")
	b := s.login("alice")

	r := b.get("/noise")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "<h1>Noise: payments</h1>") {
		t.Fatalf("GET /noise: %d, want payments (alice's team):\n%s", r.Status, r.Body)
	}
	var order []string
	for _, m := range ruleRow.FindAllStringSubmatch(r.Body, -1) {
		order = append(order, m[1])
	}
	if strings.Join(order, " ") != "DiskFull CPUSpike" {
		t.Errorf("ranking %v, want DiskFull (toil 15) before CPUSpike (toil 6)", order)
	}

	// The fix hints are the API's, word for word, over the same window.
	since, until := reportsNow.AddDate(0, 0, -28), reportsNow
	var api struct{ Rules []reports.RuleNoise }
	s.get("/api/v1/noise?"+url.Values{"team": {"payments"}, "since": {since.Format(time.RFC3339)},
		"until": {until.Format(time.RFC3339)}}.Encode()).JSON(t, &api)
	var proposal *reports.Proposal
	for _, rule := range api.Rules {
		for _, f := range rule.Fixes {
			if !strings.Contains(r.Body, html.EscapeString(f.Text)) {
				t.Errorf("the page lacks the fix %q", f.Text)
			}
			if rule.Rule == "CPUSpike" && f.Kind == reports.FixFor {
				proposal = f.Proposal
			}
		}
	}
	if proposal == nil {
		t.Fatalf("no for: fix for CPUSpike in %+v", api.Rules)
	}
	if !strings.Contains(r.Body, "would have saved 12 pages") {
		t.Errorf("the for: fix does not say it saves CPUSpike's 12 pages")
	}

	// The charts: Berlin's clock, every channel's page counted.
	wantHours := map[string]int{"03:00–03:59": 6}
	for h := 10; h <= 15; h++ {
		wantHours[strconv.Itoa(h)+":00–"+strconv.Itoa(h)+":59"] = 2
	}
	wantDays := map[string]int{"Tuesday": 12, "Wednesday": 2, "Thursday": 2, "Friday": 2}
	got := map[string]int{}
	for _, m := range barTip.FindAllStringSubmatch(r.Body, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = n
	}
	if len(got) != 24+7 {
		t.Errorf("%d bars, want 24 hours and 7 days: %v", len(got), got)
	}
	for name, n := range got {
		want := wantHours[name] + wantDays[name]
		if n != want {
			t.Errorf("bar %s: %d pages, want %d", name, n, want)
		}
	}
	labels := ariaFig.FindAllStringSubmatch(r.Body, -1)
	if len(labels) < 2 || !strings.Contains(labels[len(labels)-2][1], "Pages by hour of day (Europe/Berlin): 00:00–00:59 0,") ||
		!strings.Contains(labels[len(labels)-2][1], "03:00–03:59 6,") ||
		!strings.Contains(labels[len(labels)-1][1], "Tuesday 12, Wednesday 2, Thursday 2, Friday 2, Saturday 0, Sunday 0") {
		t.Errorf("the charts' aria-labels do not carry the figures: %q", labels)
	}

	// The what-if for the hint's proposal gives the API's numbers.
	r = b.get("/noise/whatif?" + url.Values{"team": {"payments"}, "days": {"28"}, "rule": {"CPUSpike"},
		"for": {proposal.For.String()}}.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("what-if: %d\n%s", r.Status, r.Body)
	}
	body, _ := json.Marshal(reports.Proposal{Team: "payments", Rule: "CPUSpike", For: proposal.For, Since: since, Until: until})
	var res reports.WhatIfResult
	s.do(s.request(http.MethodPost, "/api/v1/whatif", bytes.NewReader(body),
		map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json"})).JSON(t, &res)
	want := map[string]reports.Impact{"before": res.Before, "after": res.After, "saved": res.Saved}
	rows := whatIfTd.FindAllStringSubmatch(r.Body, -1)
	if len(rows) != 3 {
		t.Fatalf("what-if rows %q", rows)
	}
	for _, m := range rows {
		w := want[m[1]]
		if got, want := strings.Join(number.FindAllString(m[2], -1), " "),
			strconv.Itoa(w.Pages)+" "+strconv.Itoa(w.Interruptions)+" "+strconv.Itoa(w.SleepInterruptions)+" "+strconv.Itoa(w.InterruptedNights); got != want {
			t.Errorf("what-if %s: page shows %s, API %s", m[1], got, want)
		}
	}
	if res.Saved.Pages != 12 {
		t.Errorf("the API says the for: fix saves %d pages, want CPUSpike's 12", res.Saved.Pages)
	}

	// Each fix's "try it" replays its own proposal.
	tries := tryIt.FindAllStringSubmatch(b.get("/noise").Body, -1)
	if len(tries) != 2 {
		t.Errorf("%d fixes to try, want DiskFull's business hours and CPUSpike's for:", len(tries))
	}
	for _, m := range tries {
		path := html.UnescapeString(m[1])
		if r := b.get(path); r.Status != http.StatusOK || len(whatIfTd.FindAllString(r.Body, -1)) != 3 {
			t.Errorf("%s: %d, no what-if result", path, r.Status)
		}
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/noise?team=nobody", http.StatusNotFound, `no team &#34;nobody&#34;`},
		{"/noise?days=5", http.StatusBadRequest, "days must be 7, 28 or 90"},
		{"/noise/whatif?team=payments&rule=CPUSpike&for=five", http.StatusBadRequest, "for: &#34;five&#34; is not a duration"},
		{"/noise/whatif?team=payments&rule=CPUSpike&keep_firing_for=-1m", http.StatusBadRequest, "keep_firing_for: &#34;-1m&#34; is not a duration"},
		{"/noise/whatif?team=payments&rule=CPUSpike", http.StatusBadRequest, "must change for, keep_firing_for or urgency"},
		{"/noise/whatif?team=payments&rule=CPUSpike&urgency=later", http.StatusBadRequest, "urgency must be"},
	} {
		if r := b.get(c.path); r.Status != c.status || !strings.Contains(r.Body, c.msg) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", c.path, r.Status, c.status, c.msg, r.Body)
		}
	}
	for _, days := range []string{"7", "90"} {
		if r := b.get("/noise?team=databases&days=" + days); r.Status != http.StatusOK || !strings.Contains(r.Body, "No alert rule paged databases") {
			t.Errorf("databases over %s days: %d\n%s", days, r.Status, r.Body)
		}
	}
}

// Without teams, and with teams but nothing recorded, the pages say so.
func TestNoiseAndReportPagesEmpty(t *testing.T) {
	s := newReportsUI(t)
	s.addUser("root", account.Admin, "")
	b := s.login("root")
	for _, path := range []string{"/noise", "/noise/whatif?rule=X&for=5m", "/reports"} {
		if r := b.get(path); r.Status != http.StatusOK || !strings.Contains(r.Body, "No teams yet") {
			t.Errorf("%s without teams: %d\n%s", path, r.Status, r.Body)
		}
	}
	s.applyExample()
	for path, want := range map[string]string{
		// An admin's first team is the first team, by name.
		"/noise":   "No alert rule paged databases in the last 28 days",
		"/reports": "Weekly report: team databases, 2026-W47",
	} {
		if r := b.get(path); r.Status != http.StatusOK || !strings.Contains(r.Body, want) {
			t.Errorf("%s of a quiet team: %d, want %q\n%s", path, r.Status, want, r.Body)
		}
	}
}
