// Package paging turns incidents into pages: it schedules the first page in
// the transaction that opened the incident, finds who is on call when the
// page job runs, delivers over Slack, e-mail and the team's webhook,
// records what reached whom, and escalates step by step until someone
// acknowledges. Jobs run on River over the service's own database, so a
// page survives restarts, retries with backoff, and ends, if it never gets
// through, as a discarded job: the dead-letter queue.
package paging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

// IncidentStore reads incidents and records pages.
type IncidentStore interface {
	Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error)
	ClaimPage(ctx context.Context, p dedupe.PageRecord, stale time.Duration) (claimed, sent bool, err error)
	RecordPage(ctx context.Context, p dedupe.PageRecord) error
	RecordInterruption(ctx context.Context, in dedupe.Interruption, detail string) error
}

// OnCallStore reads the on-call configuration and overrides.
type OnCallStore interface {
	Load(ctx context.Context) (rotation.Config, error)
	Overrides(ctx context.Context, rotation string, from, to time.Time) ([]rotation.Override, error)
}

// SlackSender posts and updates Slack messages; *integrations.Slack is one.
type SlackSender interface {
	Post(ctx context.Context, channel, mentionUserID string, p integrations.Page) (integrations.Receipt, error)
	DirectMessage(ctx context.Context, userID string, p integrations.Page) (integrations.Receipt, error)
	Update(ctx context.Context, r integrations.Receipt, p integrations.Page) error
	// Reply posts text in the thread of the message of r.
	Reply(ctx context.Context, r integrations.Receipt, text string) error
}

// MailSender sends e-mail; *integrations.Mailer is one.
type MailSender interface {
	Send(ctx context.Context, to string, p integrations.Page, messageID string) (integrations.Receipt, error)
}

// WebhookSender posts signed JSON; *integrations.Webhook is one.
type WebhookSender interface {
	Send(ctx context.Context, url, secret string, p integrations.Page, deliveryID string) (integrations.Receipt, error)
}

// Options are the pager's dependencies. Slack, Mail and Webhook may be nil
// when not configured; that channel is then skipped.
type Options struct {
	Incidents   IncidentStore
	OnCall      OnCallStore
	Slack       SlackSender
	Mail        MailSender
	Webhook     WebhookSender
	ExternalURL string // base URL of the UI, for links in pages
	Now         func() time.Time
	Logger      *slog.Logger
	// Queue is the River queue the pager's jobs go to; empty is River's
	// default queue. Replay uses its own, so that a server running on the
	// same database never delivers a replayed page.
	Queue string
}

// Pager schedules and runs page jobs.
type Pager struct {
	o Options

	mu     sync.Mutex
	client *river.Client[*sql.Tx]
}

// New returns a Pager. Register its workers before creating the River
// client, then hand it the client with SetClient.
func New(o Options) *Pager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pager{o: o}
}

// Register adds the pager's workers.
func (p *Pager) Register(w *river.Workers) {
	river.AddWorker(w, &pageWorker{p: p})
	river.AddWorker(w, &updateWorker{p: p})
}

// SetIncidents gives the pager its incident store, which is built with the
// pager's hooks and so comes after it.
func (p *Pager) SetIncidents(s IncidentStore) { p.o.Incidents = s }

// SetClient gives the pager the River client to insert jobs with.
func (p *Pager) SetClient(c *river.Client[*sql.Tx]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = c
}

func (p *Pager) riverClient() (*river.Client[*sql.Tx], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil, errors.New("paging: no River client yet")
	}
	return p.client, nil
}

// uniqueWhileLive makes a second insert of the same job a no-op while the
// first is waiting or running (two replicas opening the same incident),
// but not after it completed, so a reopened incident pages again.
var uniqueWhileLive = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// PageArgs pages the people of one escalation step of one opening of one
// incident (a reopened incident pages afresh).
type PageArgs struct {
	IncidentID int64 `json:"incident_id"`
	Opening    int   `json:"opening"`
	Step       int   `json:"step"`
	Round      int   `json:"round"`
	// Urgent ignores a business-hours hold: a critical alert joined.
	Urgent bool `json:"urgent,omitempty"`
}

// Kind implements river.JobArgs.
func (PageArgs) Kind() string { return "page" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueWhileLive, MaxAttempts: 6}
}

// UpdateArgs edits an incident's Slack messages after a person acted.
type UpdateArgs struct {
	IncidentID int64  `json:"incident_id"`
	Event      string `json:"event"`
}

// Kind implements river.JobArgs.
func (UpdateArgs) Kind() string { return "page_update" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (UpdateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueWhileLive, MaxAttempts: 6}
}

// Schedule is the incident store's OnIncidents hook: it inserts the first
// page job of every incident that opened or reopened (and is not held by
// flap detection), in the same transaction. An incident whose route has
// urgency digest never pages; one without a team (no routes configured)
// has nobody to page.
func (p *Pager) Schedule(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error {
	var params []river.InsertManyParams
	for _, c := range changes {
		if c.Team == "" || c.Urgency == string(rotation.UrgencyDigest) {
			continue
		}
		switch {
		case (c.Opened || c.Reopened) && c.Page:
			params = append(params, river.InsertManyParams{Args: PageArgs{IncidentID: c.ID, Opening: c.Opening},
				InsertOpts: p.insertOpts(time.Time{})})
		case c.Critical:
			params = append(params, river.InsertManyParams{Args: PageArgs{IncidentID: c.ID, Opening: c.Opening, Urgent: true},
				InsertOpts: p.insertOpts(time.Time{})})
		}
	}
	return p.insertTx(ctx, tx, params)
}

// insertTx inserts jobs in the incident store's transaction.
func (p *Pager) insertTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	client, err := p.riverClient()
	if err != nil {
		return err
	}
	_, err = client.InsertManyTx(ctx, tx, params)
	return err
}

// StormUpdateDelay is how long the thread update of a growing incident
// waits, so that the batches of a storm become one update, not one each.
const StormUpdateDelay = 10 * time.Second

// Grown is the incident store's OnGrown hook: alerts joined open
// incidents. One update job per incident, a little later, edits its Slack
// messages (the counts changed) and says so in the page's thread; further
// batches meanwhile join that job (it is unique while it waits). Incidents
// that never page (no team, digest) are skipped, and so are batches in
// which only flapping alerts fired again.
func (p *Pager) Grown(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error {
	var params []river.InsertManyParams
	for _, c := range changes {
		if c.Team == "" || c.Urgency == string(rotation.UrgencyDigest) || !c.Page {
			continue // never paged, or only flapping alerts fired again: flap detection keeps those quiet
		}
		params = append(params, river.InsertManyParams{Args: UpdateArgs{IncidentID: c.ID, Event: dedupe.EventAlertAdded},
			InsertOpts: &river.InsertOpts{ScheduledAt: p.o.Now().Add(StormUpdateDelay)}})
	}
	return p.insertTx(ctx, tx, params)
}

// Transitioned is the incident store's OnTransition hook: a person
// acknowledged, resolved, silenced or marked an incident not actionable,
// so its Slack messages are edited in place and the page's thread says
// what happened. Pending escalations end by themselves: a page job does nothing for
// an incident that is no longer open.
func (p *Pager) Transitioned(ctx context.Context, tx *sql.Tx, incidentID int64, kind string) error {
	client, err := p.riverClient()
	if err != nil {
		return err
	}
	_, err = client.InsertTx(ctx, tx, UpdateArgs{IncidentID: incidentID, Event: kind}, p.insertOpts(time.Time{}))
	return err
}

// insertOpts puts a job on the pager's queue, to run at scheduledAt (zero:
// at once). The job kinds' own options (uniqueness, attempts) still apply.
func (p *Pager) insertOpts(scheduledAt time.Time) *river.InsertOpts {
	return &river.InsertOpts{Queue: p.o.Queue, ScheduledAt: scheduledAt}
}

func (p *Pager) page(in dedupe.IncidentDetail) integrations.Page {
	return integrations.Page{
		IncidentID: in.ID, Title: in.Title, Summary: in.Summary, Labels: in.CommonLabels,
		URL:   strings.TrimSuffix(p.o.ExternalURL, "/") + fmt.Sprintf("/incidents/%d", in.ID),
		State: string(in.State), Notes: notes(in),
	}
}

// notes are the lines a page shows beyond its state: the newest silence
// and who marked the incident not actionable.
func notes(in dedupe.IncidentDetail) []string {
	var out []string
	if len(in.Silences) > 0 {
		s := in.Silences[0]
		out = append(out, fmt.Sprintf("Silenced by %s until %s", s.CreatedBy, s.EndsAt.UTC().Format("2006-01-02 15:04 MST")))
	}
	var who []string
	for _, f := range in.Feedback {
		if f.Kind == dedupe.FeedbackNotActionable {
			who = append(who, f.Actor)
		}
	}
	if len(who) > 0 {
		out = append(out, "Not actionable: "+strings.Join(who, ", "))
	}
	return out
}

// findTeam, findPerson and policyFor look things up in a configuration.
func findTeam(cfg rotation.Config, name string) (rotation.Team, bool) {
	for _, t := range cfg.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return rotation.Team{}, false
}

func findPerson(cfg rotation.Config, name string) (rotation.Person, bool) {
	for _, p := range cfg.People {
		if p.Name == name {
			return p, true
		}
	}
	return rotation.Person{}, false
}

// policyFor returns the team's escalation policy; a team without one pages
// the person on call in each of its rotations, once.
func policyFor(cfg rotation.Config, team string) rotation.EscalationPolicy {
	for _, e := range cfg.Escalation {
		if e.Team == team {
			return e
		}
	}
	p := rotation.EscalationPolicy{Team: team, Steps: []rotation.Step{{}}}
	for _, r := range cfg.Rotations {
		if r.Team == team {
			p.Steps[0].Targets = append(p.Steps[0].Targets, rotation.Target{Rotation: r.Name})
		}
	}
	return p
}

var errGone = errors.New("gone")

// targets resolves a step's targets to people at now.
func (p *Pager) targets(ctx context.Context, cfg rotation.Config, step rotation.Step, now time.Time) ([]rotation.Person, error) {
	var people []rotation.Person
	seen := map[string]bool{}
	for _, t := range step.Targets {
		name := t.Person
		if t.Rotation != "" {
			var rot *rotation.Rotation
			for i := range cfg.Rotations {
				if cfg.Rotations[i].Name == t.Rotation {
					rot = &cfg.Rotations[i]
				}
			}
			if rot == nil {
				return nil, fmt.Errorf("rotation %q: %w", t.Rotation, errGone)
			}
			overrides, err := p.o.OnCall.Overrides(ctx, rot.Name, now.Add(-time.Minute), now.Add(time.Minute))
			if err != nil {
				return nil, err
			}
			name = rot.OnCall(now, overrides).Person
		}
		person, ok := findPerson(cfg, name)
		if !ok {
			return nil, fmt.Errorf("person %q: %w", name, errGone)
		}
		if !seen[person.Name] {
			seen[person.Name] = true
			people = append(people, person)
		}
	}
	return people, nil
}
