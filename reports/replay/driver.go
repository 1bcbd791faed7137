package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// Clock is the simulated time: the pager's Now and River's time generator
// both read it, and only the driver moves it, forward.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the simulated instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// NowOrNil makes Clock a River time generator whose time is always set, so
// that River stamps and compares job times in simulated time.
func (c *Clock) NowOrNil() *time.Time {
	t := c.Now()
	return &t
}

// advance moves the clock to t, never back.
func (c *Clock) advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// Writer commits decoded alerts; dedupe/sqlstore.Store is one.
type Writer interface {
	Write(ctx context.Context, b dedupe.Batch) (dedupe.WriteResult, error)
}

// Actions are what a person does to an incident; dedupe/sqlstore.Store
// does them.
type Actions interface {
	Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error
	Resolve(ctx context.Context, id int64, actor string, at time.Time) error
	MarkNotActionable(ctx context.Context, id int64, actor string, at time.Time) (added bool, err error)
}

// Finder finds the incident an action line means, and the incidents held
// open after flapping; replay/sqlstore.Store is one.
type Finder interface {
	// IncidentOf is the incident holding the newest episode of the alert
	// with fingerprint started at or before at, among this replay's.
	IncidentOf(ctx context.Context, fingerprint string, at time.Time) (int64, error)
	// NextHold is the earliest end of a quiet period after flapping among
	// unresolved incidents; ok is false when there is none.
	NextHold(ctx context.Context) (t time.Time, ok bool, err error)
	// NextFlapStop is when the first flapping alert stops flapping if
	// nothing changes; ok is false when none flaps.
	NextFlapStop(ctx context.Context) (t time.Time, ok bool, err error)
}

// Jobs is the job queue seen from the driver: River under the simulated
// clock (RiverJobs).
type Jobs interface {
	// Start starts working jobs; the clock is at the first event then.
	Start(ctx context.Context) error
	// NextDue is the simulated instant the earliest waiting job is due.
	NextDue(ctx context.Context) (t time.Time, ok bool, err error)
	// RunDue runs every job due at or before now, and the jobs those
	// schedule at or before now, until none is left.
	RunDue(ctx context.Context, now time.Time) error
}

// Options are the driver's dependencies.
type Options struct {
	Clock    *Clock
	Writer   Writer
	Actions  Actions
	Finder   Finder
	Maintain dedupe.MaintenanceStore
	// MaintainEvery is the maintenance interval of the live server; the
	// driver runs maintenance on that grid while something needs it.
	MaintainEvery time.Duration
	Jobs          Jobs
	// Until, when later than the last line, is how far jobs (escalations,
	// held pages) keep running after it.
	Until  time.Time
	Logger *slog.Logger
}

// Result says what a replay did.
type Result struct {
	Lines, Webhooks, Alerts, Actions int
	// Skipped counts actions that did not apply (the incident was already
	// resolved, say): the replayed pipeline diverged from the recorded one.
	Skipped     int
	First, Last time.Time
}

// Driver replays events. Theory of operation: the simulated clock only
// moves forward, to the earliest of the next line's time, the next waiting
// job's due time and the next maintenance tick. At each instant the driver
// first does what the instant holds (commits the webhook, applies the
// action, or runs maintenance), then makes the jobs due by then available
// and waits until the queue is idle, so that everything a job schedules at
// or before the instant runs before time moves on. The workers are the
// live ones, reading the simulated clock.
type Driver struct {
	o       Options
	tick    time.Time // next maintenance pass; zero: none needed
	started bool
}

// New returns a driver.
func New(o Options) *Driver {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaintainEvery <= 0 {
		o.MaintainEvery = 15 * time.Second
	}
	return &Driver{o: o}
}

// Run replays every event r yields. It stops at the first bad line with an
// error naming it; what was replayed before it stays committed.
func (d *Driver) Run(ctx context.Context, r *Reader) (Result, error) {
	var res Result
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		if !d.started {
			d.o.Clock.advance(ev.At)
			if err := d.o.Jobs.Start(ctx); err != nil {
				return res, err
			}
			d.started = true
			res.First = ev.At
		}
		if err := d.advance(ctx, ev.At); err != nil {
			return res, err
		}
		if err := d.apply(ctx, ev, &res); err != nil {
			return res, err
		}
		res.Lines++
		res.Last = ev.At
		if err := d.o.Jobs.RunDue(ctx, ev.At); err != nil {
			return res, err
		}
	}
	if d.started && d.o.Until.After(res.Last) {
		if err := d.advance(ctx, d.o.Until); err != nil {
			return res, err
		}
	}
	return res, nil
}

// advance runs jobs and maintenance due before to, in time order, and
// leaves the clock at to.
func (d *Driver) advance(ctx context.Context, to time.Time) error {
	for {
		next, ok, err := d.o.Jobs.NextDue(ctx)
		if err != nil {
			return err
		}
		maintain := !d.tick.IsZero() && (!ok || !d.tick.After(next))
		if maintain {
			next, ok = d.tick, true
		}
		if !ok || next.After(to) {
			break
		}
		d.o.Clock.advance(next)
		now := d.o.Clock.Now()
		if maintain {
			if err := d.maintain(ctx, now); err != nil {
				return err
			}
		}
		if err := d.o.Jobs.RunDue(ctx, now); err != nil {
			return err
		}
	}
	d.o.Clock.advance(to)
	return nil
}

// maintain does the live server's maintenance pass at now and decides when
// the next one can change something: the first pass on the live grid after
// a flapping alert's score falls below its low threshold, or after the
// earliest quiet period ends (or the next event, which schedules a pass).
// The passes in between would find nothing to do, so the driver skips
// them; the result is the same as a pass every MaintainEvery.
func (d *Driver) maintain(ctx context.Context, now time.Time) error {
	if _, _, err := d.o.Maintain.Maintain(ctx, now); err != nil {
		return err
	}
	d.tick = time.Time{}
	for _, next := range []func(context.Context) (time.Time, bool, error){d.o.Finder.NextFlapStop, d.o.Finder.NextHold} {
		t, ok, err := next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		t = d.grid(later(t, now.Add(time.Nanosecond)))
		if d.tick.IsZero() || t.Before(d.tick) {
			d.tick = t
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// grid is the first maintenance instant at or after t: the live server
// runs maintenance every MaintainEvery, wherever events fall.
func (d *Driver) grid(t time.Time) time.Time {
	g := t.Truncate(d.o.MaintainEvery)
	if g.Before(t) {
		g = g.Add(d.o.MaintainEvery)
	}
	return g
}

func (d *Driver) apply(ctx context.Context, ev Event, res *Result) error {
	if d.tick.IsZero() {
		d.tick = d.grid(ev.At.Add(time.Nanosecond))
	}
	if len(ev.Webhook) > 0 {
		if _, err := d.o.Writer.Write(ctx, dedupe.Fold(ev.Alerts)); err != nil {
			return quietpager.Wrap(quietpager.ErrorCode(err), err, lineMessage(ev.Number, err))
		}
		res.Webhooks++
		res.Alerts += len(ev.Alerts)
		return nil
	}
	id, err := d.o.Finder.IncidentOf(ctx, ev.Fingerprint, ev.At)
	if quietpager.ErrorCode(err) == quietpager.NotFound {
		return lineError(ev.Number, "%s by %s: no incident of alert %s at %s", ev.Action, ev.By,
			ev.Fingerprint, ev.At.Format(time.RFC3339))
	}
	if err != nil {
		return err
	}
	switch ev.Action {
	case ActionAcknowledge:
		err = d.o.Actions.Acknowledge(ctx, id, ev.By, ev.At)
	case ActionResolve:
		err = d.o.Actions.Resolve(ctx, id, ev.By, ev.At)
	case ActionNotActionable:
		_, err = d.o.Actions.MarkNotActionable(ctx, id, ev.By, ev.At)
	}
	if quietpager.ErrorCode(err) == quietpager.Conflict {
		d.o.Logger.Warn("action skipped", "line", ev.Number, "action", ev.Action, "incident", id, "err", quietpager.ErrorMessage(err))
		res.Skipped++
		return nil
	}
	if err != nil {
		return quietpager.Wrap(quietpager.ErrorCode(err), err, lineMessage(ev.Number, err))
	}
	res.Actions++
	return nil
}

func lineMessage(n int, err error) string {
	return fmt.Sprintf("line %d: %s", n, quietpager.ErrorMessage(err))
}
