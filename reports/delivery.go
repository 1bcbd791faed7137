package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

// Delivery: every Monday at 09:00 in each team's zone, the team's report
// for the week that just ended goes by e-mail to each member and as a
// short summary to the team's Slack channel.
//
// Exactly once per team, week and recipient, across replicas, restarts
// and retries: before sending to a recipient, a sender claims the
// (team, week, recipient) row of report_sends in the same statement that
// checks it (SendStore.ClaimSend); only the winner sends, then records the
// outcome. A failed send is retried by the job's next run; a claim whose
// sender died mid-send is taken over after claimStale, and the e-mail's
// Message-ID is derived from team, week and recipient, so if the dead
// sender had in fact delivered, mail clients show the message once.

// sendHour is when the report goes out, on Monday in the team's zone.
const sendHour = 9

// sendWindow is how long after sendHour the job still sends a week's
// report: a replica started on a Wednesday does not send last week's late,
// and a report missed because no replica ran for a whole day is sent by
// hand (quietpager report weekly --send).
const sendWindow = 24 * time.Hour

// claimStale is how long a claim protects a send whose sender never
// finished.
const claimStale = 10 * time.Minute

// SendStore records which reports were sent; reports/sqlstore implements it.
type SendStore interface {
	ClaimSend(ctx context.Context, team, week, recipient string, now time.Time, stale time.Duration) (bool, error)
	FinishSend(ctx context.Context, team, week, recipient string, now time.Time, sendErr error) error
}

// MailSender sends e-mail; *integrations.Mailer is one.
type MailSender interface {
	SendMail(ctx context.Context, to string, m integrations.Mail, messageID string) error
}

// SlackPoster posts to a channel; *integrations.Slack is one.
type SlackPoster interface {
	PostText(ctx context.Context, channel, text string) (integrations.Receipt, error)
}

// DeliveryOptions are the Delivery's dependencies. Mail and Slack may be
// nil when not configured; that channel is then skipped.
type DeliveryOptions struct {
	Reports     *Service
	Sends       SendStore
	Mail        MailSender
	Slack       SlackPoster
	ExternalURL string // base URL of the UI, for the link to the full report
	Now         func() time.Time
	Logger      *slog.Logger
	// Interval is how often the periodic job looks for due reports;
	// default 15 minutes.
	Interval time.Duration
}

// Delivery sends the weekly reports.
type Delivery struct {
	o DeliveryOptions
}

// NewDelivery returns a Delivery.
func NewDelivery(o DeliveryOptions) *Delivery {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Minute
	}
	return &Delivery{o: o}
}

// Sent says what one Send did.
type Sent struct {
	Team       string   `json:"team"`
	Week       Week     `json:"week"`
	Recipients []string `json:"recipients"` // sent now
	Skipped    []string `json:"skipped"`    // sent before, or being sent by another replica
}

// Link is the full report's address in the UI at externalURL.
func Link(externalURL, team string, week Week) string {
	return strings.TrimSuffix(externalURL, "/") + "/reports?" +
		url.Values{"team": {team}, "week": {week.String()}}.Encode()
}

// Send delivers team's report for week to every member with an e-mail
// address and to the team's Slack channel, each at most once. It returns
// an error (after trying every recipient) when any send failed.
func (d *Delivery) Send(ctx context.Context, team string, week Week) (Sent, error) {
	cfg, err := d.o.Reports.o.OnCall.Load(ctx)
	if err != nil {
		return Sent{Team: team, Week: week}, err
	}
	for _, t := range cfg.Teams {
		if t.Name == team {
			return d.send(ctx, cfg, t, week)
		}
	}
	return Sent{Team: team, Week: week}, quietpager.Errorf(quietpager.NotFound, "no team %q", team)
}

func (d *Delivery) send(ctx context.Context, cfg rotation.Config, team rotation.Team, week Week) (Sent, error) {
	out := Sent{Team: team.Name, Week: week}
	w, err := d.o.Reports.Weekly(ctx, team.Name, week)
	if err != nil {
		return out, err
	}
	link := Link(d.o.ExternalURL, team.Name, week)
	var text, html bytes.Buffer
	if err := WriteText(&text, w, link); err != nil {
		return out, err
	}
	if err := WriteHTML(&html, w, link); err != nil {
		return out, err
	}
	mail := integrations.Mail{Subject: Subject(w), Text: text.String(), HTML: html.String()}
	emails := map[string]string{}
	for _, p := range cfg.People {
		emails[p.Name] = p.Email
	}

	var errs []error
	deliver := func(recipient string, send func() error) {
		ok, err := d.o.Sends.ClaimSend(ctx, team.Name, week.String(), recipient, d.o.Now(), claimStale)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if !ok {
			out.Skipped = append(out.Skipped, recipient)
			return
		}
		sendErr := send()
		if err := d.o.Sends.FinishSend(ctx, team.Name, week.String(), recipient, d.o.Now(), sendErr); err != nil {
			errs = append(errs, err)
		}
		if sendErr != nil {
			errs = append(errs, fmt.Errorf("weekly report of %s to %s: %w", team.Name, recipient, sendErr))
			return
		}
		out.Recipients = append(out.Recipients, recipient)
	}
	if d.o.Mail != nil {
		for _, name := range team.Members {
			if addr := emails[name]; addr != "" {
				deliver("mailto:"+addr, func() error {
					return d.o.Mail.SendMail(ctx, addr, mail, messageID(team.Name, week, addr))
				})
			}
		}
	}
	if d.o.Slack != nil && team.SlackChannel != "" {
		deliver("slack:"+team.SlackChannel, func() error {
			_, err := d.o.Slack.PostText(ctx, team.SlackChannel, SlackSummary(w, link))
			return err
		})
	}
	return out, errors.Join(errs...)
}

// messageID is the weekly e-mail's Message-ID: the same for every attempt
// to send one team's week to one address.
func messageID(team string, week Week, to string) string {
	sum := sha256.Sum256([]byte(team + "\x00" + to))
	return fmt.Sprintf("report-%s-%s@quietpager", week, hex.EncodeToString(sum[:8]))
}

// Due returns the week whose report is due for a team at now: the week
// before now's, from Monday 09:00 in the team's zone for sendWindow; ok is
// false outside that window.
func Due(team rotation.Team, now time.Time) (Week, bool) {
	loc := zoneOrUTC(team.TimeZone)
	this := WeekOf(now, loc)
	start := this.Start(loc)
	sendAt := time.Date(start.Year(), start.Month(), start.Day(), sendHour, 0, 0, 0, loc)
	return this.Prev(), !now.Before(sendAt) && now.Before(sendAt.Add(sendWindow))
}

// SendDue sends every team's report that is due and not yet sent. Each
// team is tried even when another fails.
func (d *Delivery) SendDue(ctx context.Context) error {
	cfg, err := d.o.Reports.o.OnCall.Load(ctx)
	if err != nil {
		return err
	}
	var errs []error
	now := d.o.Now()
	for _, t := range cfg.Teams {
		week, ok := Due(t, now)
		if !ok {
			continue
		}
		sent, err := d.send(ctx, cfg, t, week)
		if len(sent.Recipients) > 0 {
			d.o.Logger.Info("weekly report sent", "team", t.Name, "week", week.String(), "recipients", sent.Recipients)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// weeklyReportsArgs is the periodic job that sends due reports.
type weeklyReportsArgs struct{}

func (weeklyReportsArgs) Kind() string { return "weekly_reports" }

type weeklyReportsWorker struct {
	river.WorkerDefaults[weeklyReportsArgs]
	d *Delivery
}

func (w *weeklyReportsWorker) Work(ctx context.Context, _ *river.Job[weeklyReportsArgs]) error {
	return w.d.SendDue(ctx)
}

// Register adds the delivery's worker.
func (d *Delivery) Register(w *river.Workers) {
	river.AddWorker(w, &weeklyReportsWorker{d: d})
}

// PeriodicJob is the job, run by the leader every Interval and when it
// becomes leader, that sends the reports that are due.
func (d *Delivery) PeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(d.o.Interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return weeklyReportsArgs{}, &river.InsertOpts{MaxAttempts: 5}
		}, &river.PeriodicJobOpts{RunOnStart: true})
}
