package replay

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// Queue is the River queue replayed jobs run on. A server on the same
// database works only its default queue, so it never delivers a replayed
// page.
const Queue = "replay"

// RiverJobs runs the pager's River jobs under the simulated clock. The
// client must work Queue and use the driver's Clock as its time generator
// (river.Config.Test.Time), so that River stamps, snoozes and schedules in
// simulated time; RiverJobs then does what River's scheduler does on the
// wall clock: it makes a waiting job available once the simulated clock
// reaches its time.
type RiverJobs struct {
	Client *river.Client[*sql.Tx]

	events  <-chan *river.Event
	cancel  func()
	started bool
}

// Start starts the client and listens for finished jobs.
func (j *RiverJobs) Start(ctx context.Context) error {
	j.events, j.cancel = j.Client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled,
		river.EventKindJobFailed, river.EventKindJobSnoozed)
	j.started = true
	return j.Client.Start(ctx)
}

// Stop stops the client, letting running jobs finish.
func (j *RiverJobs) Stop(ctx context.Context) error {
	if !j.started {
		return nil
	}
	j.cancel()
	return j.Client.Stop(ctx)
}

var waitingStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled,
	rivertype.JobStateRetryable, rivertype.JobStatePending}

// NextDue implements Jobs.
func (j *RiverJobs) NextDue(ctx context.Context) (time.Time, bool, error) {
	res, err := j.Client.JobList(ctx, river.NewJobListParams().Queues(Queue).States(waitingStates...).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil || len(res.Jobs) == 0 {
		return time.Time{}, false, err
	}
	return res.Jobs[0].ScheduledAt, true, nil
}

// RunDue implements Jobs.
func (j *RiverJobs) RunDue(ctx context.Context, now time.Time) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		busy, err := j.promote(ctx, now)
		if err != nil {
			return err
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.events:
		case <-tick.C:
		}
	}
}

// promote makes the waiting jobs due by now available and reports whether
// any job is still to run or running.
func (j *RiverJobs) promote(ctx context.Context, now time.Time) (busy bool, err error) {
	res, err := j.Client.JobList(ctx, river.NewJobListParams().Queues(Queue).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(100))
	if err != nil {
		return false, err
	}
	for _, job := range res.Jobs {
		switch {
		case job.State == rivertype.JobStateRunning:
			busy = true
		case job.ScheduledAt.After(now):
			// waiting for a later instant
		case job.State == rivertype.JobStateAvailable:
			busy = true
		default:
			if _, err := j.Client.JobRetry(ctx, job.ID); err != nil {
				return false, err
			}
			busy = true
		}
	}
	return busy, nil
}

// CancelWaiting cancels the jobs still waiting when a replay ends: they
// are due after the replayed period, and nothing would ever run them.
func (j *RiverJobs) CancelWaiting(ctx context.Context) error {
	for {
		res, err := j.Client.JobList(ctx, river.NewJobListParams().Queues(Queue).States(waitingStates...).First(100))
		if err != nil || len(res.Jobs) == 0 {
			return err
		}
		for _, job := range res.Jobs {
			if _, err := j.Client.JobCancel(ctx, job.ID); err != nil {
				return err
			}
		}
	}
}

// CompleteAtOnce is a worker middleware for the replay's River client: it
// marks a job that succeeded completed in the database at once. River's
// completer batches completions and writes a small batch only every 250 ms,
// which would make the driver, who waits for each instant's jobs to finish,
// spend most of a replay waiting. Failed and snoozed jobs still go through
// River's completer.
type CompleteAtOnce struct {
	river.MiddlewareDefaults
	DB *sql.DB
}

// anyArgs lets CompleteAtOnce complete a job of any kind.
type anyArgs map[string]any

func (anyArgs) Kind() string { return "" }

// Work implements rivertype.WorkerMiddleware.
func (m *CompleteAtOnce) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if err := doInner(ctx); err != nil {
		return err
	}
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	if _, err := river.JobCompleteTx[riverdriver.Driver[*sql.Tx]](ctx, tx, &river.Job[anyArgs]{JobRow: job}); err != nil {
		return err
	}
	return tx.Commit()
}
