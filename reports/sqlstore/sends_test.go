package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports/sqlstore"
)

// TestSendStates: per team, the last time its report reached someone and
// the sends that failed and wait for a retry, which the metrics and the
// "report not sent" alert read.
func TestSendStates(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		ctx := context.Background()
		mon := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		send := func(team, week, to string, at time.Time, err error) {
			t.Helper()
			if ok, cerr := s.ClaimSend(ctx, team, week, to, at, 10*time.Minute); cerr != nil || !ok {
				t.Fatalf("ClaimSend(%s %s %s) = %v, %v", team, week, to, ok, cerr)
			}
			if ferr := s.FinishSend(ctx, team, week, to, at.Add(time.Second), err); ferr != nil {
				t.Fatal(ferr)
			}
		}
		send("payments", "2026-W47", "mailto:alice@example.com", mon.AddDate(0, 0, -7), nil)
		send("payments", "2026-W48", "mailto:alice@example.com", mon, nil)
		send("payments", "2026-W48", "mailto:bob@example.com", mon, errors.New("550 no such user"))
		send("databases", "2026-W48", "slack:#db", mon, errors.New("channel_not_found"))

		got, err := s.SendStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []sqlstore.SendState{
			{Team: "databases", Failed: 1},
			{Team: "payments", LastSent: mon.Add(time.Second), Failed: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("SendStates = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].Team != want[i].Team || !got[i].LastSent.Equal(want[i].LastSent) || got[i].Failed != want[i].Failed {
				t.Errorf("SendStates[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
