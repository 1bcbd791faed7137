package paging

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quietpager/quietpager"
)

// DeadLetter is a page job that exhausted its retries.
type DeadLetter struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	IncidentID  int64     `json:"incident_id"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error"`
	DiscardedAt time.Time `json:"discarded_at"`
}

var deadLetterKinds = []string{PageArgs{}.Kind(), UpdateArgs{}.Kind()}

// DeadLetters lists discarded page jobs, newest first.
func (p *Pager) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	client, err := p.riverClient()
	if err != nil {
		return nil, err
	}
	res, err := client.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateDiscarded).Kinds(deadLetterKinds...).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).First(1000))
	if err != nil {
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not list dead letters")
	}
	out := []DeadLetter{}
	for _, j := range res.Jobs {
		d := DeadLetter{ID: j.ID, Kind: j.Kind, Attempts: j.Attempt}
		var args struct {
			IncidentID int64 `json:"incident_id"`
		}
		if err := json.Unmarshal(j.EncodedArgs, &args); err == nil {
			d.IncidentID = args.IncidentID
		}
		if n := len(j.Errors); n > 0 {
			d.LastError = j.Errors[n-1].Error
		}
		if j.FinalizedAt != nil {
			d.DiscardedAt = j.FinalizedAt.UTC()
		}
		out = append(out, d)
	}
	return out, nil
}

// Replay runs a dead letter again. What already reached people is not sent
// twice: the job skips every delivery the pages table records as sent. A
// dead letter whose page has been scheduled again since is removed
// instead: that job will send it.
func (p *Pager) Replay(ctx context.Context, id int64) error {
	client, err := p.riverClient()
	if err != nil {
		return err
	}
	job, err := client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return quietpager.Errorf(quietpager.NotFound, "no dead letter %d", id)
	}
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not read the job")
	}
	if job.State != rivertype.JobStateDiscarded {
		return quietpager.Errorf(quietpager.Conflict, "job %d is %s, not a dead letter", id, job.State)
	}
	if _, err := client.JobRetry(ctx, id); err != nil {
		// A retry of an earlier step can have scheduled this very page
		// again; River's uniqueness then refuses the replay. The page is
		// on its way already: the dead letter is superseded and goes.
		if live, lerr := liveTwin(ctx, client, job); lerr == nil && live != 0 {
			if _, err := client.JobDelete(ctx, id); err != nil {
				return quietpager.Wrap(quietpager.Unavailable, err, "could not remove the superseded dead letter")
			}
			p.o.Logger.Info("dead letter superseded by a live job", "dead_letter", id, "job", live)
			return nil
		}
		return quietpager.Wrap(quietpager.Unavailable, err, "could not replay the job")
	}
	return nil
}

// liveTwin returns the id of a job that is not finished and has the same
// kind and arguments as job, or 0.
func liveTwin(ctx context.Context, client *river.Client[*sql.Tx], job *rivertype.JobRow) (int64, error) {
	res, err := client.JobList(ctx, river.NewJobListParams().Kinds(job.Kind).States(uniqueWhileLive.ByState...).First(1000))
	if err != nil {
		return 0, err
	}
	for _, j := range res.Jobs {
		if j.ID != job.ID && bytes.Equal(j.EncodedArgs, job.EncodedArgs) {
			return j.ID, nil
		}
	}
	return 0, nil
}
