package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// TestGracefulShutdown cancels serve's context (what SIGTERM does) while
// twenty senders keep webhooks in flight, and checks that every alert whose
// request was answered 200 is in the database afterwards.
func TestGracefulShutdown(t *testing.T) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := migrationstest.DSN(t, d)
			token := createToken(t, dsn, "shutdown")
			s := startServer(t, dsn)

			const (
				senders  = 20
				perBatch = 20
			)
			client := &http.Client{
				Timeout:   40 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: senders},
			}
			defer client.CloseIdleConnections()

			var (
				mu           sync.Mutex
				acked        []string // fingerprints of alerts answered 200
				unexpected   []string
				okRequests   atomic.Int64
				stopping     atomic.Bool
				okAfterStop  atomic.Int64
				wg           sync.WaitGroup
				quit         = make(chan struct{})
				refusedAfter atomic.Int64
			)
			for w := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for seq := 0; ; seq++ {
						select {
						case <-quit:
							return
						default:
						}
						alerts := make([]amAlert, perBatch)
						fps := make([]string, perBatch)
						for i := range alerts {
							ls := map[string]string{"alertname": "Shutdown",
								"sender": fmt.Sprint(w), "seq": fmt.Sprint(seq), "n": fmt.Sprint(i)}
							alerts[i] = firing(ls)
							fps[i] = dedupe.Fingerprint(ls)
						}
						code, resp, err := postWebhook(client, s.URL, token, webhookBody(t, alerts...))
						if err != nil {
							if stopping.Load() {
								refusedAfter.Add(1)
								return // the server is gone
							}
							mu.Lock()
							unexpected = append(unexpected, "before shutdown: "+err.Error())
							mu.Unlock()
							return
						}
						switch code {
						case http.StatusOK:
							okRequests.Add(1)
							if stopping.Load() { // in flight when shutdown began
								okAfterStop.Add(1)
							}
							mu.Lock()
							acked = append(acked, fps...)
							mu.Unlock()
						case http.StatusServiceUnavailable:
							// Refused while shutting down: Alertmanager retries.
						default:
							mu.Lock()
							unexpected = append(unexpected, fmt.Sprintf("%d %s", code, resp))
							mu.Unlock()
							return
						}
					}
				}()
			}

			waitFor(t, 20*time.Second, "100 webhooks to be answered 200", func() (bool, string) {
				n := okRequests.Load()
				return n >= 100, fmt.Sprintf("%d answered 200", n)
			})
			stopping.Store(true)
			stopStart := time.Now()
			if err := s.Stop(); err != nil {
				t.Fatalf("serve returned %v after SIGTERM, want nil", err)
			}
			stopTook := time.Since(stopStart)
			close(quit)
			wg.Wait()
			for _, u := range unexpected {
				t.Errorf("unexpected webhook answer: %s", u)
			}
			t.Logf("%d requests answered 200 (%d of them in flight when shutdown began), %d refused after; run returned %s after cancel",
				okRequests.Load(), okAfterStop.Load(), refusedAfter.Load(), stopTook.Round(time.Millisecond))
			if okAfterStop.Load() == 0 {
				t.Error("no webhook was in flight when shutdown began; the test proved nothing")
			}
			if _, _, err := postWebhook(client, s.URL, token, webhookBody(t, firing(map[string]string{"alertname": "Late"}))); err == nil {
				t.Error("the server still answers webhooks after run returned")
			}

			// Every acknowledged alert is stored, with an episode.
			db, err := migrations.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// Read back through the store, so the check does not depend on
			// the schema's column names.
			all, err := dedupestore.New(db, dedupestore.Options{}).Alerts(context.Background(), dedupe.AlertQuery{Limit: len(acked) + senders*perBatch*1000}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			stored := map[string]bool{}
			for _, a := range all {
				if a.Episodes > 0 {
					stored[a.Fingerprint] = true
				}
			}
			lost := 0
			for _, fp := range acked {
				if !stored[fp] {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d alerts answered 200 are not in the database after shutdown", lost, len(acked))
			}
		})
	}
}
