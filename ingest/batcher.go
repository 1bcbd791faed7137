package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// Writer commits one folded batch in one transaction.
type Writer interface {
	Write(ctx context.Context, b dedupe.Batch) (dedupe.WriteResult, error)
}

// BatcherOptions configures a Batcher.
type BatcherOptions struct {
	Writer Writer
	// Writers is how many transactions may be open at once: 1 for SQLite,
	// which has one writer anyway; a few for PostgreSQL.
	Writers int
	// MaxAlerts caps the alerts folded into one transaction.
	MaxAlerts int
	Metrics   *Metrics
	Logger    *slog.Logger
}

// Batcher is a group commit: concurrent webhook requests share
// transactions. A writer takes the first waiting request, gathers every
// other request already waiting (up to MaxAlerts alerts), commits them all
// in one transaction and then answers each. Under light load a batch is one
// request and nothing waits; under a storm, requests pile up while a commit
// is in flight and the next commit takes them all, so the cost of a commit
// (an fsync on SQLite) is paid once per batch, not once per request.
type Batcher struct {
	o       BatcherOptions
	in      chan *request
	mu      sync.RWMutex // guards stopped against Submit racing Stop
	stopped bool
	wg      sync.WaitGroup
}

type request struct {
	alerts []dedupe.Received
	done   chan error
}

// ErrStopped is returned by Submit after Stop.
var ErrStopped = quietpager.Errorf(quietpager.Unavailable, "shutting down")

// NewBatcher returns a Batcher; call Start before Submit.
func NewBatcher(o BatcherOptions) *Batcher {
	if o.Writers < 1 {
		o.Writers = 1
	}
	if o.MaxAlerts < 1 {
		o.MaxAlerts = 5000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Batcher{o: o, in: make(chan *request, 1024)}
}

// Start launches the writers.
func (b *Batcher) Start() {
	for range b.o.Writers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.loop()
		}()
	}
}

// Stop refuses new requests, commits every request already submitted and
// returns when the writers are done. Stop the HTTP server first so that
// in-flight webhooks finish their Submit.
func (b *Batcher) Stop() {
	b.mu.Lock()
	if !b.stopped {
		b.stopped = true
		close(b.in)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// Submit commits alerts and returns once they are durable, or with the
// error that kept them from being written.
func (b *Batcher) Submit(ctx context.Context, alerts []dedupe.Received) error {
	if len(alerts) == 0 {
		return nil
	}
	r := &request{alerts: alerts, done: make(chan error, 1)}
	b.mu.RLock()
	if b.stopped {
		b.mu.RUnlock()
		return ErrStopped
	}
	select {
	case b.in <- r:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Wait for the commit even if the client went away: the writer owns
	// the request now, and a caller that returned early would report a
	// failure for alerts that may be stored.
	return <-r.done
}

func (b *Batcher) loop() {
	for first := range b.in {
		batch := []*request{first}
		n := len(first.alerts)
	gather:
		for n < b.o.MaxAlerts {
			select {
			case r, ok := <-b.in:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				n += len(r.alerts)
			default:
				break gather
			}
		}
		b.commit(batch, n)
	}
}

// commitTimeout bounds one transaction, so that a hung database turns into
// 503s (and Alertmanager's retries) instead of requests that never return.
const commitTimeout = 10 * time.Second

func (b *Batcher) commit(batch []*request, n int) {
	recs := batch[0].alerts
	if len(batch) > 1 {
		recs = make([]dedupe.Received, 0, n)
		for _, r := range batch {
			recs = append(recs, r.alerts...)
		}
	}
	err := b.write(recs)
	if err != nil && len(batch) > 1 && !errors.Is(err, context.DeadlineExceeded) {
		// One request must not fail the others: retry each on its own.
		b.o.Logger.Warn("batch commit failed; retrying its requests one by one",
			"requests", len(batch), "alerts", n, "err", err)
		for _, r := range batch {
			r.done <- b.write(r.alerts)
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

func (b *Batcher) write(recs []dedupe.Received) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	folded := dedupe.Fold(recs)
	start := time.Now()
	res, err := b.o.Writer.Write(ctx, folded)
	if m := b.o.Metrics; m != nil {
		m.CommitSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			m.DatabaseErrors.Inc()
		} else {
			m.BatchSize.Observe(float64(len(recs)))
			m.NewEpisodes.Add(float64(res.NewEpisodes))
			m.Folded.Add(float64(res.Folded))
			m.Resolves.Add(float64(res.Resolved))
			m.IncidentsOpened.Add(float64(len(res.Incidents)))
			m.FlapStarted.Add(float64(res.FlapStarted))
			m.PagesHeld.Add(float64(res.Held))
		}
	}
	if err != nil {
		b.o.Logger.Error("commit alerts", "alerts", len(recs), "err", err)
	}
	return err
}
