package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/rotation"
)

// noiseWindows are the windows, in days, the noise page offers: a week, the
// four weeks of a monthly review (the default), and a quarter.
var noiseWindows = []int{7, 28, 90}

const noiseDefaultDays = 28

type noiseView struct {
	Teams []string
	Team  string
	Zone  *time.Location
	Days  int
	// Windows are the choices of Days.
	Windows      []int
	Since, Until time.Time
	Rules        []reports.RuleNoise
	ByHour       barChart
	ByWeekday    barChart
	Pages        int
	// Form is what the what-if form shows: the last proposal asked for,
	// or the top rule.
	Form   whatIfForm
	WhatIf *reports.WhatIfResult
}

// Rank numbers the ranking from 1.
func (noiseView) Rank(i int) int { return i + 1 }

// Percent shows a share as the weekly report does.
func (noiseView) Percent(share float64) string { return fmt.Sprintf("%.0f%%", 100*share) }

// whatIfForm is the what-if form's fields as typed.
type whatIfForm struct {
	Rule, For, KeepFiringFor, Urgency string
}

// handleNoisePage serves GET /noise?team=T&days=28: the team's alert rules
// by toil cost with their fixes, and when its pages land, over the last
// days. With what-if true (GET /noise/whatif) it also replays the window
// under the proposal in the query: a what-if changes nothing, so it is a
// GET that can be bookmarked and shared.
func handleNoisePage(p *pages, store OnCallStore, svc ReportService, now func() time.Time, whatIf bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		v := noiseView{Days: noiseDefaultDays, Windows: noiseWindows}
		if s := c.Query("days"); s != "" {
			var err error
			v.Days, err = strconv.Atoi(s)
			if err != nil || !slices.Contains(noiseWindows, v.Days) {
				p.fail(c, quietpager.Errorf(quietpager.Invalid, "days must be 7, 28 or 90, not %q", s))
				return
			}
		}
		team, teams, err := reportsTeam(c, store)
		if err != nil {
			p.fail(c, err)
			return
		}
		v.Teams = teams
		if team.Name == "" { // no teams yet
			p.render(c, http.StatusOK, "noise", "Noise", v)
			return
		}
		v.Team, v.Zone = team.Name, reportsZone(team)
		v.Until = now()
		v.Since = v.Until.AddDate(0, 0, -v.Days)

		var proposal reports.Proposal
		if whatIf {
			v.Form = whatIfForm{Rule: c.Query("rule"), For: c.Query("for"), KeepFiringFor: c.Query("keep_firing_for"), Urgency: c.Query("urgency")}
			if proposal, err = v.Form.proposal(team.Name, v.Since, v.Until); err != nil {
				p.fail(c, err)
				return
			}
		}
		if v.Rules, err = svc.Noise(ctx, team.Name, v.Since, v.Until); err != nil {
			p.fail(c, err)
			return
		}
		rhythm, err := svc.Rhythm(ctx, team.Name, v.Since, v.Until)
		if err != nil {
			p.fail(c, err)
			return
		}
		v.Pages = rhythm.Pages
		v.ByHour, v.ByWeekday = rhythmCharts(rhythm)
		if whatIf {
			res, err := svc.WhatIf(ctx, proposal)
			if err != nil {
				p.fail(c, err)
				return
			}
			v.WhatIf = &res
		} else if len(v.Rules) > 0 {
			v.Form.Rule = v.Rules[0].Rule
		}
		p.render(c, http.StatusOK, "noise", "Noise: "+team.Name, v)
	}
}

// proposal reads the form; a blank duration means unchanged.
func (f whatIfForm) proposal(team string, since, until time.Time) (reports.Proposal, error) {
	p := reports.Proposal{Team: team, Rule: f.Rule, Urgency: rotation.Urgency(f.Urgency), Since: since, Until: until}
	for _, d := range []struct {
		name, text string
		to         *model.Duration
	}{{"for", f.For, &p.For}, {"keep_firing_for", f.KeepFiringFor, &p.KeepFiringFor}} {
		if d.text == "" {
			continue
		}
		v, err := model.ParseDuration(d.text)
		if err != nil {
			return p, quietpager.Errorf(quietpager.Invalid, "%s: %q is not a duration; write it as Prometheus does, like 5m or 1h30m", d.name, d.text)
		}
		*d.to = v
	}
	return p, nil
}

// reportsTeam is the team a report page shows, with every team's name
// for its picker: the team the query names; without one, the logged-in
// user's first team, else the first team. With no teams at all it is the
// zero Team; a name that is no team is NotFound.
func reportsTeam(c *gin.Context, store OnCallStore) (rotation.Team, []string, error) {
	cfg, err := store.Load(c.Request.Context())
	if err != nil {
		return rotation.Team{}, nil, err
	}
	var names []string
	for _, t := range cfg.Teams {
		names = append(names, t.Name)
	}
	if name := c.Query("team"); name != "" {
		t, ok := teamNamed(cfg, name)
		if !ok {
			return t, names, quietpager.Errorf(quietpager.NotFound, "no team %q", name)
		}
		return t, names, nil
	}
	s, _ := sessionOf(c)
	for _, t := range cfg.Teams {
		if s.User.Person != "" && slices.Contains(t.Members, s.User.Person) {
			return t, names, nil
		}
	}
	if len(cfg.Teams) > 0 {
		return cfg.Teams[0], names, nil
	}
	return rotation.Team{}, names, nil
}

func reportsZone(t rotation.Team) *time.Location {
	if t.TimeZone == nil {
		return time.UTC
	}
	return t.TimeZone
}

// rhythmCharts draws the pages by hour of the day and by day of the week.
func rhythmCharts(r reports.Rhythm) (byHour, byWeekday barChart) {
	names, ticks := make([]string, 24), make([]string, 24)
	for h := range 24 {
		names[h] = fmt.Sprintf("%02d:00–%02d:59", h, h)
		if h%3 == 0 {
			ticks[h] = fmt.Sprintf("%02d", h)
		}
	}
	byHour = newBarChart("Pages by hour of day ("+r.TimeZone+")", names, ticks, r.ByHour[:], "page", "pages")
	days := []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	short := make([]string, len(days))
	for i, d := range days {
		short[i] = d[:3]
	}
	byWeekday = newBarChart("Pages by day of week ("+r.TimeZone+")", days, short, r.ByWeekday[:], "page", "pages")
	return byHour, byWeekday
}
