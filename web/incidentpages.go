package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web/account"
)

// The incident pages: the list, filterable by state, team and how far
// back; and one incident's page with its timeline, alerts, pages and
// silences, and the buttons to acknowledge, resolve and silence it.
// Acting on an incident needs the right to edit its team (its members,
// admins); an incident without a team only admins may act on.

const (
	// incidentsListed is the most incidents the list shows.
	incidentsListed = 200
	// defaultSince is the list's window when none is asked for.
	defaultSince = "7d"
	// auditIncident is the audit log's kind for incidents.
	auditIncident = "incident"
)

// sinceChoices are the windows the list offers.
var sinceChoices = []string{"24h", "7d", "30d", "90d"}

// silenceChoices are the silence buttons on an incident's page.
var silenceChoices = []string{"1h", "4h"}

type incidentsView struct {
	Incidents []incidentRow
	Teams     []string
	States    []dedupe.IncidentState
	State     string
	Team      string
	Since     string
	Sinces    []string
	Truncated bool
}

type incidentRow struct {
	dedupe.Incident
	Zone *time.Location
}

// handleIncidentsPage lists incidents, newest first: ?state=, ?team= and
// ?since= (a window back from now such as 24h or 7d; default 7d). The
// window hides resolved incidents only: one still open or acknowledged is
// listed however long ago it opened, so that nothing unfinished drops off
// the page.
func handleIncidentsPage(p *pages, incidents IncidentStore, oncall OnCallStore, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		v := incidentsView{State: c.Query("state"), Team: c.Query("team"), Since: c.DefaultQuery("since", defaultSince),
			States: []dedupe.IncidentState{dedupe.IncidentOpen, dedupe.IncidentAcknowledged, dedupe.IncidentResolved}}
		state := dedupe.IncidentState(v.State)
		if state != "" && !state.Valid() {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "state must be open, acknowledged or resolved, not %q", v.State))
			return
		}
		window, err := model.ParseDuration(v.Since)
		if err != nil || window <= 0 {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "since must be a window back from now such as 24h or 7d, not %q", v.Since))
			return
		}
		v.Sinces = sinceChoices
		if !slices.Contains(v.Sinces, v.Since) {
			v.Sinces = append([]string{v.Since}, v.Sinces...)
		}
		ctx := c.Request.Context()
		cfg, err := oncall.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		for _, t := range cfg.Teams {
			v.Teams = append(v.Teams, t.Name)
		}
		var list []dedupe.Incident
		for _, st := range v.States {
			if state != "" && st != state {
				continue
			}
			q := dedupe.IncidentQuery{State: st, Team: v.Team, Limit: incidentsListed}
			if st == dedupe.IncidentResolved {
				q.Since = now().Add(-time.Duration(window))
			}
			some, err := incidents.Incidents(ctx, q)
			if err != nil {
				p.fail(c, err)
				return
			}
			list = append(list, some...)
			v.Truncated = v.Truncated || len(some) == incidentsListed
		}
		slices.SortFunc(list, func(a, b dedupe.Incident) int {
			if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
				return c
			}
			return cmp.Compare(b.ID, a.ID)
		})
		if len(list) > incidentsListed {
			list = list[:incidentsListed]
		}
		for _, in := range list {
			v.Incidents = append(v.Incidents, incidentRow{Incident: in, Zone: teamZone(cfg, in.Team)})
		}
		p.render(c, http.StatusOK, "incidents", "Incidents", v)
	}
}

type incidentView struct {
	dedupe.IncidentDetail
	Zone       *time.Location
	MayAct     bool
	SilenceFor []string // the silence buttons; none without Alertmanager
	Audit      []account.AuditEntry
}

// handleIncidentPage shows one incident.
func handleIncidentPage(p *pages, incidents IncidentStore, oncall OnCallStore, audit AuditLog, silencer *integrations.IncidentSilencer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id, err := incidentID(c)
		if err != nil {
			p.fail(c, err)
			return
		}
		d, err := incidents.Incident(ctx, id)
		if err != nil {
			p.fail(c, err)
			return
		}
		cfg, err := oncall.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		team, _ := teamNamed(cfg, d.Team)
		s, _ := sessionOf(c)
		v := incidentView{IncidentDetail: d, Zone: team.TimeZone, MayAct: s.User.MayEdit(team)}
		if silencer != nil {
			v.SilenceFor = silenceChoices
		}
		if v.Audit, err = audit.AuditOf(ctx, auditIncident, strconv.FormatInt(id, 10), auditLimit); err != nil {
			p.fail(c, err)
			return
		}
		p.render(c, http.StatusOK, "incident", fmt.Sprintf("#%d %s", d.ID, d.Title), v)
	}
}

// actOn reads the incident a form acts on and checks that the user may act
// on it; false means the answer (404, 403) is written.
func actOn(c *gin.Context, p *pages, incidents IncidentStore, oncall OnCallStore) (dedupe.IncidentDetail, bool) {
	id, err := incidentID(c)
	if err != nil {
		p.fail(c, err)
		return dedupe.IncidentDetail{}, false
	}
	d, err := incidents.Incident(c.Request.Context(), id)
	if err != nil {
		p.fail(c, err)
		return d, false
	}
	cfg, err := oncall.Load(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return d, false
	}
	return d, mayEdit(c, p, cfg, d.Team)
}

func incidentPath(id int64) string { return "/incidents/" + strconv.FormatInt(id, 10) }

// handleIncidentTransition acknowledges or resolves an incident as the
// logged-in user. Asking for the state it is already in changes nothing
// and writes no audit entry; acknowledging a resolved incident is 409.
func handleIncidentTransition(p *pages, incidents IncidentStore, oncall OnCallStore, audit AuditLog, resolve bool, now func() time.Time) gin.HandlerFunc {
	apply, action, target := incidents.Acknowledge, "acknowledged", dedupe.IncidentAcknowledged
	if resolve {
		apply, action, target = incidents.Resolve, "resolved", dedupe.IncidentResolved
	}
	return func(c *gin.Context) {
		d, ok := actOn(c, p, incidents, oncall)
		if !ok {
			return
		}
		if d.State == target {
			back(c, incidentPath(d.ID), fmt.Sprintf("Incident #%d was already %s.", d.ID, action))
			return
		}
		at := now()
		if err := apply(c.Request.Context(), d.ID, actor(c), at.UTC()); err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, at, auditIncident, strconv.FormatInt(d.ID, 10), action, ""); err != nil {
			p.fail(c, err)
			return
		}
		back(c, incidentPath(d.ID), fmt.Sprintf("Incident #%d %s.", d.ID, action))
	}
}

// handleIncidentSilence silences an incident's alerts in Alertmanager for
// the form's duration, as the Slack bot does.
func handleIncidentSilence(p *pages, incidents IncidentStore, oncall OnCallStore, audit AuditLog,
	silencer *integrations.IncidentSilencer, externalURL string, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, ok := actOn(c, p, incidents, oncall)
		if !ok {
			return
		}
		if silencer == nil {
			p.fail(c, quietpager.Errorf(quietpager.Unavailable,
				"silences are not set up: quietpager needs --alertmanager-url to silence alerts"))
			return
		}
		dur, err := model.ParseDuration(c.PostForm("duration"))
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "duration must be like 1h or 4h, not %q", c.PostForm("duration")))
			return
		}
		at := now()
		link := strings.TrimSuffix(externalURL, "/") + incidentPath(d.ID)
		_, sl, err := silencer.Silence(c.Request.Context(), d.ID, time.Duration(dur), actor(c), at, link)
		if err != nil {
			p.fail(c, err)
			return
		}
		detail := fmt.Sprintf("for %s until %s UTC (Alertmanager silence %s)", dur, sl.EndsAt.UTC().Format("2006-01-02 15:04"), sl.ID)
		if err := record(c, audit, at, auditIncident, strconv.FormatInt(d.ID, 10), "silenced", detail); err != nil {
			p.fail(c, err)
			return
		}
		back(c, incidentPath(d.ID), fmt.Sprintf("Incident #%d silenced %s.", d.ID, detail))
	}
}

// teamZone is the time zone of team in cfg, nil (UTC) without one.
func teamZone(cfg rotation.Config, team string) *time.Location {
	t, _ := teamNamed(cfg, team)
	return t.TimeZone
}
