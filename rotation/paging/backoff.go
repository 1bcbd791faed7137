package paging

import (
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Backoff retries a failed page after Base, then twice as long each time,
// capped at an hour: with the default 15 s and six attempts, a page keeps
// trying for about eight minutes before it becomes a dead letter. River's
// default (attempt⁴ seconds, up to 25 attempts) would keep a page retrying
// for weeks, long after it could help anyone.
type Backoff struct {
	Base time.Duration
}

// NextRetry implements river.ClientRetryPolicy.
func (b Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.Base << max(0, min(job.Attempt-1, 20))
	return time.Now().Add(min(d, time.Hour))
}
