package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

const (
	defaultLimit = 1000
	maxLimit     = 10000
)

func limitParam(c *gin.Context) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, quietpager.Errorf(quietpager.Invalid, "limit must be a whole number from 1 to %d", maxLimit)
	}
	return n, nil
}

// handleListAlerts serves GET /api/v1/alerts?state=&flapping=&match=&limit=. Each
// match is in Alertmanager's matcher syntax (alertname="X", or several in
// braces); all of them must match.
func handleListAlerts(alerts AlertReader, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := dedupe.AlertQuery{State: dedupe.State(c.Query("state"))}
		if q.State != "" && q.State != dedupe.Firing && q.State != dedupe.Resolved {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "state must be firing or resolved, not %q", q.State))
			return
		}
		for _, m := range c.QueryArray("match") {
			ms, err := labels.ParseMatchers(m)
			if err != nil {
				fail(c, log, quietpager.Errorf(quietpager.Invalid, "bad matcher %q: %v", m, err))
				return
			}
			q.Matchers = append(q.Matchers, ms...)
		}
		if f := c.Query("flapping"); f != "" {
			b, err := strconv.ParseBool(f)
			if err != nil {
				fail(c, log, quietpager.Errorf(quietpager.Invalid, "flapping must be true or false, not %q", f))
				return
			}
			q.Flapping = &b
		}
		var err error
		if q.Limit, err = limitParam(c); err != nil {
			fail(c, log, err)
			return
		}
		out, err := alerts.Alerts(c.Request.Context(), q, now())
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"alerts": out})
	}
}

// handleListEpisodes serves GET /api/v1/episodes?fingerprint=F, newest first.
func handleListEpisodes(alerts AlertReader, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		fp := c.Query("fingerprint")
		if fp == "" {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "fingerprint is required"))
			return
		}
		if parsed, err := model.ParseFingerprint(fp); err == nil && len(fp) <= 16 {
			fp = parsed.String() // 16 lower-case hex digits, as stored
		}
		limit, err := limitParam(c)
		if err != nil {
			fail(c, log, err)
			return
		}
		out, err := alerts.Episodes(c.Request.Context(), fp, limit)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"episodes": out})
	}
}
