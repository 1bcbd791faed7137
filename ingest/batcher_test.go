package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// newStore returns the real alert store on a fresh, migrated SQLite
// database, the database, and its DSN (to reopen it after closing it).
func newStore(t testing.TB) (*dedupestore.Store, *migrations.DB, string) {
	t.Helper()
	dsn := migrationstest.DSN(t, migrations.SQLite)
	db := migrationstest.Open(t, dsn)
	return dedupestore.New(db, dedupestore.Options{}), db, dsn
}

// alerts returns n firing alerts named name, each its own fingerprint.
func alerts(name string, n int) []dedupe.Received {
	out := make([]dedupe.Received, n)
	for i := range out {
		ls := map[string]string{"alertname": name, "instance": fmt.Sprintf("host-%d:9100", i)}
		out[i] = dedupe.Received{
			Fingerprint: dedupe.Fingerprint(ls),
			Labels:      ls,
			Annotations: map[string]string{"summary": name},
			Receiver:    "web.hook",
			GroupKey:    `{}:{alertname="` + name + `"}`,
			StartsAt:    time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC),
			ReceivedAt:  time.Now().UTC(),
		}
	}
	return out
}

// stored returns the fingerprints of every stored alert.
func stored(t testing.TB, s *dedupestore.Store) map[string]bool {
	t.Helper()
	list, err := s.Alerts(context.Background(), dedupe.AlertQuery{Limit: 10000}, time.Now())
	if err != nil {
		t.Fatalf("read alerts back: %v", err)
	}
	out := make(map[string]bool, len(list))
	for _, a := range list {
		out[a.Fingerprint] = true
	}
	return out
}

// countingWriter delegates to the real store and counts transactions; if
// gate is set, the first Write waits for it to close.
type countingWriter struct {
	ingest.Writer
	writes  atomic.Int64
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (w *countingWriter) Write(ctx context.Context, b dedupe.Batch) (dedupe.WriteResult, error) {
	if w.writes.Add(1) == 1 && w.gate != nil {
		w.once.Do(func() { close(w.entered) })
		<-w.gate
	}
	return w.Writer.Write(ctx, b)
}

func histogram(t testing.TB, reg *prometheus.Registry, name string) (sum float64, count uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), h.GetSampleCount()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0, 0
}

func TestBatcherConcurrentSubmitsAreStoredAndShareTransactions(t *testing.T) {
	store, _, _ := newStore(t)
	reg := prometheus.NewRegistry()
	w := &countingWriter{Writer: store}
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: w, Writers: 1, Metrics: ingest.NewMetrics(reg)})
	b.Start()
	defer b.Stop()

	const requests, perRequest = 50, 2
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, requests)
		want  = map[string]bool{}
		batch = make([][]dedupe.Received, requests)
	)
	for i := range requests {
		batch[i] = alerts(fmt.Sprintf("Req%02d", i), perRequest)
		for _, r := range batch[i] {
			want[r.Fingerprint] = true
		}
	}
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = b.Submit(context.Background(), batch[i])
		}()
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("Submit %d: %v", i, err)
		}
	}
	got := stored(t, store)
	for fp := range want {
		if !got[fp] {
			t.Errorf("alert %s acknowledged but not stored", fp)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d alerts stored, want %d", len(got), len(want))
	}

	sum, count := histogram(t, reg, "quietpager_write_batch_alerts")
	t.Logf("%d requests committed in %d transactions (histogram: %v alerts in %d batches)", requests, w.writes.Load(), sum, count)
	if sum != requests*perRequest {
		t.Errorf("batch size histogram counts %v alerts, want %d", sum, requests*perRequest)
	}
	if count == 0 || sum/float64(count) <= perRequest {
		t.Errorf("no group commit under concurrency: %v alerts in %d transactions", sum, count)
	}
	if n := w.writes.Load(); n >= requests {
		t.Errorf("%d requests took %d transactions: no group commit", requests, n)
	}
}

func TestBatcherSubmitAfterStopIsUnavailable(t *testing.T) {
	store, _, _ := newStore(t)
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: store})
	b.Start()
	b.Stop()
	b.Stop() // a second Stop must not panic or hang

	a := alerts("AfterStop", 1)
	err := b.Submit(context.Background(), a)
	if err == nil {
		t.Fatal("Submit after Stop returned nil")
	}
	if code := quietpager.ErrorCode(err); code != quietpager.Unavailable {
		t.Errorf("code %q, want unavailable (so the webhook answers 503 and Alertmanager retries)", code)
	}
	if got := stored(t, store); len(got) != 0 {
		t.Errorf("%d alerts stored after Stop", len(got))
	}
}

func TestBatcherStopWaitsForSubmittedRequests(t *testing.T) {
	store, _, _ := newStore(t)
	w := &countingWriter{Writer: store, gate: make(chan struct{}), entered: make(chan struct{})}
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: w})
	b.Start()

	const requests = 10
	var wg sync.WaitGroup
	errs := make([]error, requests)
	want := map[string]bool{}
	for i := range requests {
		a := alerts(fmt.Sprintf("Stop%02d", i), 3)
		for _, r := range a {
			want[r.Fingerprint] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Submit(context.Background(), a)
		}()
	}
	// The first transaction is now held open; let the others queue.
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no write started")
	}
	time.Sleep(200 * time.Millisecond)

	stopped := make(chan struct{})
	go func() {
		b.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a transaction was still open")
	case <-time.After(100 * time.Millisecond):
	}
	close(w.gate)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}

	// Everything submitted before Stop is committed by the time it returns.
	got := stored(t, store)
	for fp := range want {
		if !got[fp] {
			t.Errorf("alert %s submitted before Stop is not stored after Stop returned", fp)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Submit %d: %v", i, err)
		}
	}
}

func TestBatcherDatabaseClosedIsUnavailable(t *testing.T) {
	store, db, dsn := newStore(t)
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: store})
	b.Start()
	defer b.Stop()

	before := alerts("BeforeClose", 5)
	if err := b.Submit(context.Background(), before); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	db.Close()

	done := make(chan error, 1)
	go func() { done <- b.Submit(context.Background(), alerts("AfterClose", 5)) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Submit hangs on a closed database")
	}
	if err == nil {
		t.Fatal("Submit on a closed database returned nil")
	}
	if code := quietpager.ErrorCode(err); code != quietpager.Unavailable {
		t.Errorf("code %q, want unavailable (503, so Alertmanager retries): %v", code, err)
	}

	re, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	got := stored(t, dedupestore.New(re, dedupestore.Options{}))
	for _, r := range before {
		if !got[r.Fingerprint] {
			t.Errorf("acknowledged alert %s lost", r.Fingerprint)
		}
	}
	if len(got) != len(before) {
		t.Errorf("%d alerts stored, want %d", len(got), len(before))
	}
}

// Requests in flight while the database goes away: every one that was
// answered nil is stored, every other one got Unavailable.
func TestBatcherDatabaseClosedUnderLoadLosesNothingAcknowledged(t *testing.T) {
	store, db, dsn := newStore(t)
	reg := prometheus.NewRegistry()
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: store, Metrics: ingest.NewMetrics(reg)})
	b.Start()
	defer b.Stop()

	const clients, rounds = 20, 10
	var (
		mu     sync.Mutex
		acked  = map[string]bool{}
		failed int
		codes  = map[quietpager.Code]int{}
		oks    atomic.Int64
		wg     sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				a := alerts(fmt.Sprintf("Load%02d_%02d", c, r), 2)
				err := b.Submit(context.Background(), a)
				mu.Lock()
				if err == nil {
					for _, x := range a {
						acked[x.Fingerprint] = true
					}
					oks.Add(1)
				} else {
					failed++
					codes[quietpager.ErrorCode(err)]++
				}
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for oks.Load() < clients && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	db.Close()
	wg.Wait()
	t.Logf("%d requests acknowledged, %d refused: %v", oks.Load(), failed, codes)
	for code, n := range codes {
		if code != quietpager.Unavailable {
			t.Errorf("%d requests failed with %q, want unavailable", n, code)
		}
	}
	if failed == 0 {
		t.Error("no request failed after the database was closed")
	}

	re, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	got := stored(t, dedupestore.New(re, dedupestore.Options{}))
	for fp := range acked {
		if !got[fp] {
			t.Errorf("acknowledged alert %s lost", fp)
		}
	}
}

func TestBatcherSubmitNothingIsNil(t *testing.T) {
	store, _, _ := newStore(t)
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: store})
	b.Start()
	defer b.Stop()
	if err := b.Submit(context.Background(), nil); err != nil {
		t.Errorf("Submit(nil) = %v", err)
	}
}

// A client that gives up while its request waits for the commit must not
// leave the request half-done: the alerts it submitted are committed.
func TestBatcherCancelledCallerStillCommits(t *testing.T) {
	store, _, _ := newStore(t)
	w := &countingWriter{Writer: store, gate: make(chan struct{}), entered: make(chan struct{})}
	b := ingest.NewBatcher(ingest.BatcherOptions{Writer: w})
	b.Start()
	defer b.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	a := alerts("Cancelled", 2)
	done := make(chan error, 1)
	go func() { done <- b.Submit(ctx, a) }()
	<-w.entered
	cancel()
	close(w.gate)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Submit: %v", err)
	}
	got := stored(t, store)
	for _, r := range a {
		if !got[r.Fingerprint] {
			t.Errorf("alert %s of a cancelled request was not committed", r.Fingerprint)
		}
	}
}
