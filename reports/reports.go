// Package reports turns what paging recorded into what a team needs to
// hear each Monday: the weekly toil and burnout figures per team and per
// person, the noise ranking of alert rules with the fix for each, and the
// what-if replay that says how many pages a fix would have saved.
//
// Every definition here is written out in docs/reports.md; the two must
// agree. Figures are computed from a History read through a small store
// interface (reports/sqlstore implements it), never from SQL here.
package reports

import (
	"context"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/rotation"
)

// Incident is what the reports need of one incident.
type Incident struct {
	ID int64
	// Rule is the alertname of the incident's first episode: the alert
	// rule it is charged to.
	Rule         string
	Urgency      rotation.Urgency // its route's, when it opened
	Opened       time.Time
	Acknowledged time.Time // zero when never acknowledged
	Resolved     time.Time // zero while unresolved
	// NotActionable counts the people who marked it not actionable.
	NotActionable int
}

// Interruption is a page that reached a person (one per incident opening,
// escalation step, round and person, whatever the channels).
type Interruption struct {
	IncidentID int64
	Opening    int
	Step       int
	Round      int
	Person     string
	At         time.Time
	Band       rotation.Band // in the person's zone, as recorded
}

// Page is one notification sent over one channel.
type Page struct {
	IncidentID int64
	Opening    int
	Step       int
	Round      int
	Person     string // "" for the team channel and webhook
	Channel    string
	At         time.Time
}

// Episode is one firing period of one alert of the team's incidents.
type Episode struct {
	AlertID    int64
	Rule       string // alertname
	IncidentID int64
	Start      time.Time
	End        time.Time // zero while firing
	// Acknowledged: its incident was acknowledged before it ended.
	Acknowledged bool
}

// History is a team's record over [From, To): the interruptions and pages
// that happened in it, the episodes that started in it, and every incident
// any of those belong to, plus the incidents opened in it.
type History struct {
	From, To      time.Time
	Incidents     []Incident
	Interruptions []Interruption
	Pages         []Page
	Episodes      []Episode
}

// Query asks for a team's history over [From, To).
type Query struct {
	Team     string
	From, To time.Time
	// Episodes: read the episodes too (the noise ranking and what-if need
	// them; the week-over-week figures do not).
	Episodes bool
}

// HistoryStore reads a team's history; reports/sqlstore implements it.
type HistoryStore interface {
	History(ctx context.Context, q Query) (History, error)
}

// OnCallStore reads the on-call configuration and overrides;
// rotation/sqlstore implements it.
type OnCallStore interface {
	Load(ctx context.Context) (rotation.Config, error)
	Overrides(ctx context.Context, rotation string, from, to time.Time) ([]rotation.Override, error)
}

// Options are the Service's dependencies.
type Options struct {
	History HistoryStore
	OnCall  OnCallStore
	// Hints tune what counts as transient and the for:/keep_firing_for:
	// suggestions; default flap.DefaultHints.
	Hints flap.HintOptions
	Now   func() time.Time
}

// Service computes reports.
type Service struct {
	o Options
}

// New returns a Service.
func New(o Options) *Service {
	if o.Hints == (flap.HintOptions{}) {
		o.Hints = flap.DefaultHints
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// setting is the configuration a report needs: the team and everyone's
// zone.
type setting struct {
	cfg   rotation.Config
	team  rotation.Team
	zones map[string]*time.Location
}

func (s *Service) setting(ctx context.Context, team string) (setting, error) {
	cfg, err := s.o.OnCall.Load(ctx)
	if err != nil {
		return setting{}, err
	}
	st := setting{cfg: cfg, zones: map[string]*time.Location{}}
	found := false
	for _, t := range cfg.Teams {
		if t.Name == team {
			st.team, found = t, true
		}
	}
	if !found {
		return setting{}, quietpager.Errorf(quietpager.NotFound, "no team %q", team)
	}
	for _, p := range cfg.People {
		st.zones[p.Name] = p.TimeZone
	}
	return st, nil
}

// zone is a person's time zone; the team's for someone unknown (a person
// removed from the configuration since).
func (st setting) zone(person string) *time.Location {
	if z := st.zones[person]; z != nil {
		return z
	}
	return zoneOrUTC(st.team.TimeZone)
}
