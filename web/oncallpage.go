package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager/rotation"
)

type onCallTeamView struct {
	Team       rotation.Team
	Rotations  []onCallRotationView
	Escalation []rotation.Step
	Repeat     int
}

type onCallRotationView struct {
	Rotation rotation.Rotation
	Now      rotation.OnCallShift
	Next     []rotation.OnCallShift
}

// onCallNext is how many handoffs after the current shift the page shows.
const onCallNext = 3

// handleOnCallPage shows, per team, each rotation's person on call, until
// when, the next handoffs, and the escalation path.
func handleOnCallPage(p *pages, store OnCallStore, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cfg, err := store.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		t := now().UTC()
		teams := []onCallTeamView{}
		for _, team := range cfg.Teams {
			v := onCallTeamView{Team: team}
			for _, pol := range cfg.Escalation {
				if pol.Team == team.Name {
					v.Escalation, v.Repeat = pol.Steps, pol.Repeat
				}
			}
			for _, r := range cfg.Rotations {
				if r.Team != team.Name {
					continue
				}
				overrides, err := store.Overrides(ctx, r.Name, t, t.Add(maxShiftRange))
				if err != nil {
					p.fail(c, err)
					return
				}
				rv := onCallRotationView{Rotation: r, Now: r.OnCall(t, overrides)}
				for at := rv.Now.End; len(rv.Next) < onCallNext && at.Before(t.Add(maxShiftRange)); {
					next := r.OnCall(at, overrides)
					if !next.End.After(at) {
						break
					}
					rv.Next = append(rv.Next, next)
					at = next.End
				}
				v.Rotations = append(v.Rotations, rv)
			}
			teams = append(teams, v)
		}
		p.render(c, http.StatusOK, "oncall", "On call now", teams)
	}
}
