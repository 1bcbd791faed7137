package paging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

type pageWorker struct {
	river.WorkerDefaults[PageArgs]
	p *Pager
}

// Timeout bounds one delivery round; Slack and SMTP time out well within it.
func (w *pageWorker) Timeout(*river.Job[PageArgs]) time.Duration { return 2 * time.Minute }

// Work pages the people of one escalation step. It is safe to run again
// after any failure: what already reached someone is in the pages table and
// is not sent twice.
func (w *pageWorker) Work(ctx context.Context, job *river.Job[PageArgs]) error {
	p, a := w.p, job.Args
	now := p.o.Now()
	in, err := p.o.Incidents.Incident(ctx, a.IncidentID)
	if quietpager.ErrorCode(err) == quietpager.NotFound {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if in.State != dedupe.IncidentOpen || in.Openings != a.Opening {
		return nil // acknowledged, resolved, or reopened since: nothing left to do
	}
	cfg, err := p.o.OnCall.Load(ctx)
	if err != nil {
		return err
	}
	team, ok := findTeam(cfg, in.Team)
	if !ok {
		return river.JobCancel(fmt.Errorf("team %q no longer exists", in.Team))
	}
	policy := policyFor(cfg, team.Name)
	if a.Step >= len(policy.Steps) {
		return nil // the policy shrank since this step was scheduled
	}
	if a.Step == 0 && a.Round == 0 && !a.Urgent {
		// The first step's delay counts from the incident's opening.
		if due := in.OpenedAt.Add(policy.Steps[0].Delay); due.After(now) {
			return river.JobSnooze(due.Sub(now))
		}
	}
	people, err := p.targets(ctx, cfg, policy.Steps[a.Step], now)
	if errors.Is(err, errGone) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if in.Urgency == string(rotation.UrgencyBusinessHours) && !a.Urgent {
		if until := heldUntil(people, now); until.After(now) {
			// Held for business hours; when the job wakes, it pages only if
			// the incident is still open.
			return river.JobSnooze(until.Sub(now))
		}
	}

	// Escalation must not wait for a destination that is down: schedule the
	// next step first (it is unique, so a retry of this job adds nothing).
	if due, ok := policy.Next(rotation.Due{Step: a.Step, Round: a.Round, At: now}); ok {
		client, err := w.p.riverClient()
		if err != nil {
			return err
		}
		next := PageArgs{IncidentID: in.ID, Opening: a.Opening, Step: due.Step, Round: due.Round, Urgent: a.Urgent}
		if _, err := client.Insert(ctx, next, p.insertOpts(due.At)); err != nil {
			return err
		}
	}

	d := delivery{p: p, in: in, args: a, now: now, page: p.page(in)}
	if a.Step == 0 && a.Round == 0 {
		mention := ""
		if len(people) > 0 {
			mention = people[0].SlackID
		}
		if team.SlackChannel != "" && p.o.Slack != nil {
			d.send(ctx, "", dedupe.ChannelSlackTeam, func() (integrations.Receipt, error) {
				return p.o.Slack.Post(ctx, team.SlackChannel, mention, d.page)
			})
		}
		if team.WebhookURL != "" && p.o.Webhook != nil {
			d.send(ctx, "", dedupe.ChannelWebhook, func() (integrations.Receipt, error) {
				return p.o.Webhook.Send(ctx, team.WebhookURL, team.WebhookSecret, d.page, d.id(""))
			})
		}
	}
	for _, person := range people {
		reached := false
		if person.SlackID != "" && p.o.Slack != nil {
			reached = d.send(ctx, person.Name, dedupe.ChannelSlackDM, func() (integrations.Receipt, error) {
				return p.o.Slack.DirectMessage(ctx, person.SlackID, d.page)
			}) || reached
		}
		if person.Email != "" && p.o.Mail != nil {
			reached = d.send(ctx, person.Name, dedupe.ChannelEmail, func() (integrations.Receipt, error) {
				return p.o.Mail.Send(ctx, person.Email, d.page, "<"+d.id(person.Name)+"@quietpager>")
			}) || reached
		}
		if reached {
			band := rotation.Classify(now, person.TimeZone)
			err := p.o.Incidents.RecordInterruption(ctx, dedupe.Interruption{
				IncidentID: in.ID, Opening: a.Opening, Step: a.Step, Round: a.Round, Person: person.Name, Team: team.Name,
				At: now, Band: string(band)}, fmt.Sprintf("paged %s (step %d, %s hours)", person.Name, a.Step+1, band))
			if err != nil {
				return err
			}
		}
	}
	if len(d.failed) > 0 {
		// River retries with backoff; after the last attempt the job is
		// discarded: a dead letter, to be replayed from the API. The next
		// step is already scheduled.
		return errors.Join(d.failed...)
	}
	return nil
}

// heldUntil is when business hours start for the first of people to reach
// them; now when someone is already in business hours or nobody is paged.
func heldUntil(people []rotation.Person, now time.Time) time.Time {
	var until time.Time
	for _, p := range people {
		t := rotation.NextBusinessStart(now, p.TimeZone)
		if until.IsZero() || t.Before(until) {
			until = t
		}
	}
	if until.IsZero() {
		return now
	}
	return until
}

// delivery is one run of a page job.
type delivery struct {
	p      *Pager
	in     dedupe.IncidentDetail
	args   PageArgs
	now    time.Time
	page   integrations.Page
	failed []error
}

// id is a stable identity of one page to one person, the same on every
// retry, so that receivers can drop duplicates (e-mail Message-ID, webhook
// delivery id).
func (d *delivery) id(person string) string {
	return fmt.Sprintf("page-%d-%d-%d-%d-%s", d.in.ID, d.args.Opening, d.args.Step, d.args.Round,
		strings.ReplaceAll(person, " ", "_"))
}

// claimTimeout is when a claim on a page counts as abandoned: longer than
// a page job may run.
const claimTimeout = 5 * time.Minute

// send delivers on one channel unless another run already did (or is doing
// it right now), records the outcome, and reports whether the page has
// reached its destination. A permanent failure (a wrong Slack id, a bad
// address) is recorded and does not fail the job: retrying cannot help.
func (d *delivery) send(ctx context.Context, person, channel string, deliver func() (integrations.Receipt, error)) bool {
	rec := dedupe.PageRecord{IncidentID: d.in.ID, Opening: d.args.Opening, Step: d.args.Step, Round: d.args.Round,
		Person: person, Channel: channel, At: d.now}
	claimed, sent, err := d.p.o.Incidents.ClaimPage(ctx, rec, claimTimeout)
	if err != nil {
		d.failed = append(d.failed, err)
		return false
	}
	if !claimed {
		if !sent {
			// Another run holds the claim: it is delivering right now, or
			// it died doing so (a replica killed mid-delivery). Either way
			// this page is not done: retry later, when it is sent or the
			// claim is stale and ours to take.
			d.failed = append(d.failed, fmt.Errorf("%s to %q: another run is delivering it", channel, person))
		}
		return sent
	}
	r, err := deliver()
	rec.Sent, rec.ReceiptChannel, rec.ReceiptID = err == nil, r.Channel, r.ID
	if err != nil {
		rec.Error = err.Error()
		if integrations.Permanent(err) {
			d.p.o.Logger.Warn("page cannot be delivered", "incident", d.in.ID, "channel", channel, "person", person, "err", err)
		} else {
			d.failed = append(d.failed, fmt.Errorf("%s to %q: %w", channel, person, err))
		}
	}
	if rerr := d.p.o.Incidents.RecordPage(ctx, rec); rerr != nil {
		d.failed = append(d.failed, rerr)
	}
	return err == nil
}

type updateWorker struct {
	river.WorkerDefaults[UpdateArgs]
	p *Pager
}

// Work edits the incident's Slack messages in place to show who did what,
// and says it in the thread of the incident's newest team-channel page.
func (w *updateWorker) Work(ctx context.Context, job *river.Job[UpdateArgs]) error {
	p := w.p
	if p.o.Slack == nil {
		return nil
	}
	in, err := p.o.Incidents.Incident(ctx, job.Args.IncidentID)
	if quietpager.ErrorCode(err) == quietpager.NotFound {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	page := p.page(in)
	page.Actor = in.AcknowledgedBy
	if in.State == dedupe.IncidentResolved {
		page.Actor = in.ResolvedBy
	}
	var (
		errs   []error
		thread integrations.Receipt
	)
	for _, pg := range in.Pages {
		if pg.Sent && (pg.Channel == dedupe.ChannelSlackTeam || pg.Channel == dedupe.ChannelSlackDM) {
			r := integrations.Receipt{Channel: pg.ReceiptChannel, ID: pg.ReceiptID}
			if err := p.o.Slack.Update(ctx, r, page); err != nil && !integrations.Permanent(err) {
				errs = append(errs, err)
			}
			if pg.Channel == dedupe.ChannelSlackTeam {
				thread = r // pages are oldest first: the last is the newest
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // retried whole; the thread line comes once the edits are done
	}
	if text := threadLine(in, job.Args.Event); text != "" && thread.ID != "" {
		if err := p.o.Slack.Reply(ctx, thread, text); err != nil && !integrations.Permanent(err) {
			return err
		}
	}
	return nil
}

// threadLine says in a page's thread what happened to the incident.
func threadLine(in dedupe.IncidentDetail, event string) string {
	switch event {
	case dedupe.EventAcknowledged:
		return "Acknowledged by " + in.AcknowledgedBy
	case dedupe.EventResolved:
		if in.ResolvedBy == dedupe.ActorAlertmanager || in.ResolvedBy == dedupe.ActorQuietpager {
			return "Resolved: all alerts resolved"
		}
		return "Resolved by " + in.ResolvedBy
	case dedupe.EventSilenced, dedupe.EventNotActionable:
		if n := notes(in); len(n) > 0 {
			if event == dedupe.EventSilenced && len(in.Silences) > 0 {
				return n[0]
			}
			return n[len(n)-1]
		}
	case dedupe.EventAlertAdded:
		return "Update: " + in.Summary
	}
	return ""
}
