package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/reports"
)

// ReportService computes the weekly reports, the noise ranking and
// what-ifs; *reports.Service is one.
type ReportService interface {
	Weekly(ctx context.Context, team string, week reports.Week) (reports.Weekly, error)
	Noise(ctx context.Context, team string, since, until time.Time) ([]reports.RuleNoise, error)
	WhatIf(ctx context.Context, p reports.Proposal) (reports.WhatIfResult, error)
	Rhythm(ctx context.Context, team string, since, until time.Time) (reports.Rhythm, error)
}

func teamParam(c *gin.Context) (string, error) {
	team := c.Query("team")
	if team == "" {
		return "", quietpager.Errorf(quietpager.Invalid, "team is required")
	}
	return team, nil
}

// handleWeeklyReport serves GET /api/v1/reports/weekly?team=T&week=2026-W47:
// the team's weekly report as JSON. Without week, the last complete ISO
// week (by the UTC calendar).
func handleWeeklyReport(svc ReportService, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		team, err := teamParam(c)
		if err != nil {
			fail(c, log, err)
			return
		}
		week := reports.WeekOf(now(), time.UTC).Prev()
		if s := c.Query("week"); s != "" {
			if week, err = reports.ParseWeek(s); err != nil {
				fail(c, log, err)
				return
			}
		}
		w, err := svc.Weekly(c.Request.Context(), team, week)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, w)
	}
}

// handleNoise serves GET /api/v1/noise?team=T&since=&until=: the team's
// alert rules by toil cost, with fixes. until defaults to now, since to a
// week before until.
func handleNoise(svc ReportService, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		team, err := teamParam(c)
		if err != nil {
			fail(c, log, err)
			return
		}
		until, err := timeParam(c, "until", now())
		if err != nil {
			fail(c, log, err)
			return
		}
		since, err := timeParam(c, "since", until.AddDate(0, 0, -7))
		if err != nil {
			fail(c, log, err)
			return
		}
		rules, err := svc.Noise(c.Request.Context(), team, since, until)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"team": team, "since": since, "until": until, "rules": rules})
	}
}

// handleWhatIf serves POST /api/v1/whatif with a proposal such as
// {"team":"db","rule":"DiskFull","for":"5m","keep_firing_for":"10m",
// "urgency":"business-hours","since":"…","until":"…"}.
func handleWhatIf(svc ReportService, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		var p reports.Proposal
		if err := c.ShouldBindJSON(&p); err != nil {
			fail(c, log, quietpager.Errorf(quietpager.Invalid,
				`body must be JSON like {"team":"db","rule":"DiskFull","for":"5m","since":"2026-11-16T00:00:00Z","until":"2026-11-23T00:00:00Z"}: %v`, err))
			return
		}
		res, err := svc.WhatIf(c.Request.Context(), p)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, res)
	}
}
