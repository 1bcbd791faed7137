package web

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager/reports"
)

type reportView struct {
	Teams []string
	Team  string
	Week  reports.Week
	// Prev and Next are the weeks to link to; Next is nil past the week
	// in progress.
	Prev       reports.Week
	Next       *reports.Week
	InProgress bool // Week has not ended yet
	From, To   time.Time
	Zone       *time.Location
	// Body is the e-mail's report, rendered by the e-mail's own template.
	Body template.HTML
}

// handleReportPage serves GET /reports?team=T&week=2026-W47: the team's
// weekly report, the e-mail's very rendering, for any week. Without a
// week, the last complete week in the team's zone (the one the Monday
// e-mail sent).
func handleReportPage(p *pages, store OnCallStore, svc ReportService, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		team, teams, err := reportsTeam(c, store)
		if err != nil {
			p.fail(c, err)
			return
		}
		v := reportView{Teams: teams}
		if team.Name == "" { // no teams yet
			p.render(c, http.StatusOK, "report", "Weekly report", v)
			return
		}
		v.Team, v.Zone = team.Name, reportsZone(team)
		current := reports.WeekOf(now(), v.Zone)
		v.Week = current.Prev()
		if s := c.Query("week"); s != "" {
			if v.Week, err = reports.ParseWeek(s); err != nil {
				p.fail(c, err)
				return
			}
		}
		w, err := svc.Weekly(ctx, team.Name, v.Week)
		if err != nil {
			p.fail(c, err)
			return
		}
		var body bytes.Buffer
		if err := reports.WriteHTMLBody(&body, w, ""); err != nil {
			p.fail(c, err)
			return
		}
		// The e-mail's template is html/template: its output is escaped.
		v.Body = template.HTML(body.String())
		v.From, v.To, v.Prev = w.From, w.To, v.Week.Prev()
		v.InProgress = now().Before(w.To)
		if next := v.Week.Next(); !next.Start(v.Zone).After(now()) {
			v.Next = &next
		}
		p.render(c, http.StatusOK, "report", "Weekly report: "+team.Name+", "+v.Week.String(), v)
	}
}
