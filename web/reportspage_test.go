package web_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/web/account"
)

// figures are the numbers a report shows, in order: 18, 0.43, 67%, 2m0s…
var figures = regexp.MustCompile(`\d+(?:\.\d+)?`)

// between is the text of s after from and before to.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in\n%s", from, s)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		t.Fatalf("no %q after %q in\n%s", to, from, s)
	}
	return s[:j]
}

func TestReportPage(t *testing.T) {
	s := newReportsUI(t)
	s.applyExample()
	s.seedWeek47()
	s.addUser("carol", account.Member, "carol") // of team databases: reads payments' report too
	b := s.login("carol")

	r := b.get("/reports?team=payments&week=2026-W47")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "<h1>Weekly report: team payments, 2026-W47</h1>") {
		t.Fatalf("GET /reports: %d\n%s", r.Status, r.Body)
	}

	// The figures are the e-mail's, in the same order.
	w, err := s.Reports.Weekly(context.Background(), "payments", reports.Week{Year: 2026, Num: 47})
	if err != nil {
		t.Fatal(err)
	}
	var mail bytes.Buffer
	if err := reports.WriteHTML(&mail, w, reports.Link("https://qp.example", "payments", w.Week)); err != nil {
		t.Fatal(err)
	}
	inMail := figures.FindAllString(between(t, mail.String(), "</h2>", `<p><a href="https://qp.example`), -1)
	onPage := figures.FindAllString(between(t, r.Body, `<div class="mailreport scroll">`, "</div>\n\n</main>"), -1)
	if strings.Join(inMail, " ") != strings.Join(onPage, " ") {
		t.Errorf("the page's figures differ from the e-mail's:\npage %v\nmail %v", onPage, inMail)
	}
	if len(inMail) < 100 {
		t.Errorf("only %d figures in the e-mail: %v", len(inMail), inMail)
	}
	// The week's figures, and bob's three broken nights, seen by the team.
	if w.Figures.Pages != 18 || w.Figures.Interruptions.Sleep != 3 {
		t.Errorf("week 47: %d pages, %d sleep interruptions; want 18 and 3", w.Figures.Pages, w.Figures.Interruptions.Sleep)
	}
	if !regexp.MustCompile(`<td>bob<br><small>Europe/Berlin</small></td><td align="right">3</td>.*<b>high</b>: 3 nights interrupted this week, 3 in a row`).MatchString(r.Body) {
		t.Errorf("the page does not show bob's burnout figures")
	}

	for _, link := range []string{`rel="prev" href="/reports?team=payments&amp;week=2026-W46"`, `rel="next" href="/reports?team=payments&amp;week=2026-W48"`} {
		if !strings.Contains(r.Body, link) {
			t.Errorf("no link %s", link)
		}
	}

	// The default: carol's team, the last complete week in its zone
	// (New York); the week in progress is there, marked, with no next.
	if r := b.get("/reports"); !strings.Contains(r.Body, "<h1>Weekly report: team databases, 2026-W47</h1>") {
		t.Errorf("default report:\n%s", r.Body)
	}
	r = b.get("/reports?team=payments&week=2026-W48")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "This week is not over yet") || strings.Contains(r.Body, `rel="next"`) {
		t.Errorf("the week in progress: %d\n%s", r.Status, r.Body)
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/reports?team=nobody", http.StatusNotFound, "no team &#34;nobody&#34;"},
		{"/reports?team=nobody&week=2026-W47", http.StatusNotFound, "no team &#34;nobody&#34;"},
		{"/reports?team=payments&week=47", http.StatusBadRequest, "week must look like 2026-W47"},
		{"/reports?team=payments&week=2025-W53", http.StatusBadRequest, "2025 has no ISO week 53"},
	} {
		if r := b.get(c.path); r.Status != c.status || !strings.Contains(r.Body, c.msg) {
			t.Errorf("%s: %d, want %d saying %q\n%s", c.path, r.Status, c.status, c.msg, r.Body)
		}
	}
}
