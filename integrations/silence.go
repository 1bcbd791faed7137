package integrations

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// Silencer creates Alertmanager silences; *Alertmanager is one.
type Silencer interface {
	CreateSilence(ctx context.Context, s SilenceRequest) (string, error)
}

// SilencedIncidents reads incidents and records the silences made for
// them; dedupe/sqlstore.Store is one.
type SilencedIncidents interface {
	Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error)
	RecordSilence(ctx context.Context, id int64, s dedupe.Silence) error
}

// IncidentSilencer silences an incident's alerts in Alertmanager and
// records the silence on the incident. The Slack bot and the web UI both
// silence through it, so that a silence means the same wherever it is made.
type IncidentSilencer struct {
	Alertmanager Silencer
	Incidents    SilencedIncidents
	// Max is the longest silence allowed; 0 allows any.
	Max time.Duration
}

// Silence silences incident id's alerts for d from now, as by: one silence
// whose matchers are the labels all of the incident's alerts share (its
// common labels), which must include alertname so that a silence never
// reaches beyond the alert rule. link (the incident's page) goes into the
// silence's comment. It returns the incident as it was read and the
// silence recorded.
func (s IncidentSilencer) Silence(ctx context.Context, id int64, d time.Duration, by string, now time.Time, link string) (dedupe.IncidentDetail, dedupe.Silence, error) {
	if d <= 0 {
		return dedupe.IncidentDetail{}, dedupe.Silence{}, quietpager.Errorf(quietpager.Invalid, "a silence must last a while, not %s", model.Duration(d))
	}
	if s.Max > 0 && d > s.Max {
		return dedupe.IncidentDetail{}, dedupe.Silence{}, quietpager.Errorf(quietpager.Invalid, "a silence may last at most %s, not %s",
			model.Duration(s.Max), model.Duration(d))
	}
	in, err := s.Incidents.Incident(ctx, id)
	if err != nil {
		return in, dedupe.Silence{}, err
	}
	if in.State == dedupe.IncidentResolved {
		return in, dedupe.Silence{}, quietpager.Errorf(quietpager.Conflict, "incident #%d is resolved; there is nothing to silence", id)
	}
	if in.CommonLabels[model.AlertNameLabel] == "" {
		return in, dedupe.Silence{}, quietpager.Errorf(quietpager.Conflict,
			"the alerts of incident #%d share no alertname, so one silence would reach too far; silence them in Alertmanager", id)
	}
	now = now.UTC()
	end := now.Add(d)
	silenceID, err := s.Alertmanager.CreateSilence(ctx, SilenceRequest{
		Matchers: in.CommonLabels, StartsAt: now, EndsAt: end, CreatedBy: by,
		Comment: fmt.Sprintf("quietpager incident #%d %s: %s", id, in.Title, link),
	})
	if Permanent(err) {
		return in, dedupe.Silence{}, quietpager.Wrap(quietpager.Invalid, err, "Alertmanager refused the silence: "+err.Error())
	}
	if err != nil {
		return in, dedupe.Silence{}, quietpager.Wrap(quietpager.Unavailable, err, "Alertmanager did not take the silence")
	}
	sl := dedupe.Silence{ID: silenceID, CreatedBy: by, CreatedAt: now, EndsAt: end}
	if err := s.Incidents.RecordSilence(ctx, id, sl); err != nil {
		return in, dedupe.Silence{}, err
	}
	return in, sl, nil
}
