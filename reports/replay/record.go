package replay

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
)

// Recorder appends replay lines to a file as live traffic arrives: every
// webhook quietpager accepted, with the time it was received, and every
// acknowledgement and resolve made through the API. A line is written
// after its change committed; a line that cannot be written is logged,
// never failed back to the sender.
type Recorder struct {
	mu     sync.Mutex
	w      io.Writer
	logger *slog.Logger
}

// NewRecorder writes lines to w.
func NewRecorder(w io.Writer, logger *slog.Logger) *Recorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{w: w, logger: logger}
}

func (r *Recorder) write(l Line) {
	b, err := json.Marshal(l)
	if err == nil {
		r.mu.Lock()
		_, err = r.w.Write(append(b, '\n'))
		r.mu.Unlock()
	}
	if err != nil {
		r.logger.Warn("could not record a replay line", "err", err)
	}
}

// Webhooks records the alerts of one accepted delivery as webhook bodies,
// one per Alertmanager group in it (a delivery is one group).
func (r *Recorder) Webhooks(alerts []dedupe.Received) {
	type key struct{ receiver, groupKey string }
	groups := map[key]*ingest.Payload{}
	var order []key
	for _, a := range alerts {
		k := key{a.Receiver, a.GroupKey}
		p, ok := groups[k]
		if !ok {
			p = &ingest.Payload{Version: ingest.PayloadVersion, GroupKey: a.GroupKey}
			p.Receiver = a.Receiver
			groups[k] = p
			order = append(order, k)
		}
		ta := template.Alert{Status: string(model.AlertFiring), Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt, GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint}
		if a.Resolved {
			ta.Status, ta.EndsAt = string(model.AlertResolved), a.EndsAt
		}
		p.Alerts = append(p.Alerts, ta)
	}
	for _, k := range order {
		p := groups[k]
		p.Status = string(model.AlertResolved)
		if len(p.Alerts.Firing()) > 0 {
			p.Status = string(model.AlertFiring)
		}
		body, err := json.Marshal(p)
		if err != nil {
			r.logger.Warn("could not record a webhook", "err", err)
			continue
		}
		r.write(Line{At: alerts[0].ReceivedAt, Webhook: body})
	}
}

// Action records a person's action on an incident, naming the incident by
// the fingerprint of its newest episode, which a replay finds again.
func (r *Recorder) Action(in dedupe.IncidentDetail, action, by string, at time.Time) {
	eps := in.EpisodeList
	if len(eps) == 0 {
		r.logger.Warn("could not record an action: the incident has no episodes", "incident", in.ID)
		return
	}
	newest := eps[0]
	for _, e := range eps[1:] {
		if e.StartsAt.After(newest.StartsAt) || (e.StartsAt.Equal(newest.StartsAt) && e.Fingerprint < newest.Fingerprint) {
			newest = e
		}
	}
	r.write(Line{At: at, Action: action, By: by, Fingerprint: newest.Fingerprint})
}

// AlertSubmitter commits received alerts; ingest.Batcher is one.
type AlertSubmitter interface {
	Submit(ctx context.Context, alerts []dedupe.Received) error
}

// RecordingSubmitter records every delivery its Next committed.
type RecordingSubmitter struct {
	Next     AlertSubmitter
	Recorder *Recorder
}

// Submit commits the alerts, then records them.
func (s RecordingSubmitter) Submit(ctx context.Context, alerts []dedupe.Received) error {
	if err := s.Next.Submit(ctx, alerts); err != nil {
		return err
	}
	if len(alerts) > 0 {
		s.Recorder.Webhooks(alerts)
	}
	return nil
}

// IncidentStore is what the API does with incidents; dedupe/sqlstore.Store
// is one.
type IncidentStore interface {
	Incidents(ctx context.Context, q dedupe.IncidentQuery) ([]dedupe.Incident, error)
	Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error)
	Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error
	Resolve(ctx context.Context, id int64, actor string, at time.Time) error
}

// RecordingIncidents records the acknowledgements and resolves its Next
// committed.
type RecordingIncidents struct {
	IncidentStore
	Recorder *Recorder
}

// Acknowledge acknowledges, then records.
func (s RecordingIncidents) Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error {
	return s.act(ctx, id, ActionAcknowledge, actor, at, s.IncidentStore.Acknowledge)
}

// Resolve resolves, then records.
func (s RecordingIncidents) Resolve(ctx context.Context, id int64, actor string, at time.Time) error {
	return s.act(ctx, id, ActionResolve, actor, at, s.IncidentStore.Resolve)
}

func (s RecordingIncidents) act(ctx context.Context, id int64, action, actor string, at time.Time,
	do func(context.Context, int64, string, time.Time) error) error {
	if err := do(ctx, id, actor, at); err != nil {
		return err
	}
	in, err := s.IncidentStore.Incident(ctx, id)
	if err != nil {
		s.Recorder.logger.Warn("could not record an action", "incident", id, "err", err)
		return nil
	}
	s.Recorder.Action(in, action, actor, at)
	return nil
}
