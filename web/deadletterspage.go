package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/rotation/paging"
	"github.com/quietpager/quietpager/web/account"
)

// The dead letters page: page jobs that gave up, with the deliveries that
// failed and why, and a button to replay each. A dead letter belongs to
// its incident's team: members of that team and admins may replay it;
// one whose incident has no team (or is gone) only admins. Replays are
// written to the audit log under one object, the dead-letter queue, since
// a replayed dead letter leaves the list.

const (
	auditDeadLetter   = "deadletter"
	deadLettersObject = "queue"
)

type deadLettersView struct {
	DeadLetters []deadLetterRow
	Audit       []account.AuditEntry
}

type deadLetterRow struct {
	paging.DeadLetter
	Incident  dedupe.Incident     // zero when the incident is gone
	Failed    []dedupe.PageRecord // the incident's deliveries that did not get through
	Zone      *time.Location
	MayReplay bool
}

// handleDeadLettersPage lists the dead letters, newest first.
func handleDeadLettersPage(p *pages, store DeadLetterStore, incidents IncidentStore, oncall OnCallStore, audit AuditLog) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		list, err := store.DeadLetters(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		cfg, err := oncall.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		s, _ := sessionOf(c)
		read := map[int64]dedupe.IncidentDetail{} // several jobs of one incident read it once
		v := deadLettersView{DeadLetters: []deadLetterRow{}}
		for _, dl := range list {
			d, ok := read[dl.IncidentID]
			if !ok {
				if d, err = incidentOf(ctx, incidents, dl); err != nil {
					p.fail(c, err)
					return
				}
				read[dl.IncidentID] = d
			}
			team, _ := teamNamed(cfg, d.Team)
			row := deadLetterRow{DeadLetter: dl, Incident: d.Incident, Zone: team.TimeZone, MayReplay: s.User.MayEdit(team)}
			for _, pg := range d.Pages {
				if !pg.Sent {
					row.Failed = append(row.Failed, pg)
				}
			}
			v.DeadLetters = append(v.DeadLetters, row)
		}
		if v.Audit, err = audit.AuditOf(ctx, auditDeadLetter, deadLettersObject, auditLimit); err != nil {
			p.fail(c, err)
			return
		}
		p.render(c, http.StatusOK, "deadletters", "Dead letters", v)
	}
}

// incidentOf reads a dead letter's incident; one that is gone (pruned)
// reads as the zero incident.
func incidentOf(ctx context.Context, incidents IncidentStore, dl paging.DeadLetter) (dedupe.IncidentDetail, error) {
	d, err := incidents.Incident(ctx, dl.IncidentID)
	if quietpager.ErrorCode(err) == quietpager.NotFound {
		return dedupe.IncidentDetail{}, nil
	}
	return d, err
}

// handleDeadLetterReplay runs a dead letter again, for those allowed to
// act on its incident's team.
func handleDeadLetterReplay(p *pages, store DeadLetterStore, incidents IncidentStore, oncall OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.NotFound, "no dead letter %q", c.Param("id")))
			return
		}
		list, err := store.DeadLetters(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		var dl paging.DeadLetter
		for _, l := range list {
			if l.ID == id {
				dl = l
			}
		}
		if dl.ID == 0 {
			p.fail(c, quietpager.Errorf(quietpager.NotFound, "no dead letter %d: it may have been replayed already", id))
			return
		}
		d, err := incidentOf(ctx, incidents, dl)
		if err != nil {
			p.fail(c, err)
			return
		}
		cfg, err := oncall.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		if !mayEdit(c, p, cfg, d.Team) {
			return
		}
		if err := store.Replay(ctx, id); err != nil {
			p.fail(c, err)
			return
		}
		detail := fmt.Sprintf("job %d (%s for incident #%d, %d attempts: %s)", id, dl.Kind, dl.IncidentID, dl.Attempts, dl.LastError)
		if err := record(c, audit, now(), auditDeadLetter, deadLettersObject, "replayed", detail); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/deadletters", fmt.Sprintf("Replaying dead letter %d.", id))
	}
}
