package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// IncidentStore reads incidents and moves them through their life cycle.
type IncidentStore interface {
	Incidents(ctx context.Context, q dedupe.IncidentQuery) ([]dedupe.Incident, error)
	Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error)
	Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error
	Resolve(ctx context.Context, id int64, actor string, at time.Time) error
}

// sinceParam reads ?since= as an RFC 3339 time or a duration back from now.
func sinceParam(c *gin.Context, now time.Time) (time.Time, error) {
	s := c.Query("since")
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, quietpager.Errorf(quietpager.Invalid,
		"since must be an RFC 3339 time (2026-11-02T03:00:00Z) or a duration back from now (24h), not %q", s)
}

// handleListIncidents serves GET /api/v1/incidents?state=&since=&limit=.
func handleListIncidents(incidents IncidentStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := dedupe.IncidentQuery{State: dedupe.IncidentState(c.Query("state")), Team: c.Query("team")}
		if q.State != "" && !q.State.Valid() {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "state must be open, acknowledged or resolved, not %q", q.State))
			return
		}
		var err error
		if q.Since, err = sinceParam(c, now()); err != nil {
			fail(c, log, err)
			return
		}
		if q.Limit, err = limitParam(c); err != nil {
			fail(c, log, err)
			return
		}
		out, err := incidents.Incidents(c.Request.Context(), q)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"incidents": out})
	}
}

func incidentID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, quietpager.Errorf(quietpager.NotFound, "no incident %q", c.Param("id"))
	}
	return id, nil
}

// handleGetIncident serves GET /api/v1/incidents/{id}.
func handleGetIncident(incidents IncidentStore, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := incidentID(c)
		if err != nil {
			fail(c, log, err)
			return
		}
		d, err := incidents.Incident(c.Request.Context(), id)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, d)
	}
}

// handleTransition serves POST /api/v1/incidents/{id}/ack and /resolve.
// The actor is the "actor" field of an optional JSON body, else the name of
// the token used. Repeating a request changes nothing (idempotent); a
// transition that makes no sense (acknowledging a resolved incident) is 409.
func handleTransition(incidents IncidentStore, resolve bool, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := incidentID(c)
		if err != nil {
			fail(c, log, err)
			return
		}
		var body struct {
			Actor string `json:"actor"`
		}
		if c.Request.ContentLength != 0 {
			if err := c.ShouldBindJSON(&body); err != nil {
				fail(c, log, quietpager.Errorf(quietpager.Invalid, "body must be JSON like {\"actor\":\"alice\"}: %v", err))
				return
			}
		}
		actor := body.Actor
		if actor == "" {
			actor = "token:" + c.GetString(tokenNameKey)
		}
		apply := incidents.Acknowledge
		if resolve {
			apply = incidents.Resolve
		}
		if err := apply(c.Request.Context(), id, actor, now().UTC()); err != nil {
			fail(c, log, err)
			return
		}
		d, err := incidents.Incident(c.Request.Context(), id)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, d)
	}
}
