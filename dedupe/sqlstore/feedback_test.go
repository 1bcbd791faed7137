package sqlstore_test

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
)

// OnGrown hears of alerts joining an open incident, not of incidents
// opening, and not of repeats.
func TestOnGrown(t *testing.T) {
	var (
		mu    sync.Mutex
		grown []int64
	)
	o := sqlstore.Options{OnGrown: func(_ context.Context, _ *sql.Tx, changes []dedupe.IncidentChange) error {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range changes {
			grown = append(grown, c.ID)
		}
		return nil
	}}
	incContractWith(t, o, func(t *testing.T, s *sqlstore.Store) {
		mu.Lock()
		grown = nil
		mu.Unlock()
		a1, a2 := incNew("DiskFull", "instance", "db-1"), incNew("DiskFull", "instance", "db-2")
		res := incWrite(t, s, a1.fire(incT0, incT0))
		id := res.Incidents[0].ID
		incWrite(t, s, a1.fire(incT0, incT0.Add(time.Minute))) // a repeat
		incWrite(t, s, a2.fire(incT0.Add(time.Minute), incT0.Add(time.Minute)))
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(grown, []int64{id}) {
			t.Errorf("OnGrown heard of %v, want only the join of incident %d", grown, id)
		}
	})
}

func TestSilencesAndFeedback(t *testing.T) {
	incContract(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		id := incWrite(t, s, incNew("DiskFull").fire(incT0, incT0)).Incidents[0].ID
		at := incT0.Add(time.Minute)
		if err := s.RecordSilence(ctx, id, dedupe.Silence{ID: "abc", CreatedBy: "alice", CreatedAt: at, EndsAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, actor := range []string{"bob", "bob", "carol"} {
			if _, err := s.MarkNotActionable(ctx, id, actor, at); err != nil {
				t.Fatal(err)
			}
		}
		in, err := s.Incident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Silences) != 1 || in.Silences[0] != (dedupe.Silence{ID: "abc", CreatedBy: "alice", CreatedAt: at, EndsAt: at.Add(time.Hour)}) {
			t.Errorf("silences %+v", in.Silences)
		}
		if len(in.Feedback) != 2 || in.Feedback[0].Actor != "bob" || in.Feedback[1].Actor != "carol" {
			t.Errorf("feedback %+v, want bob once and carol", in.Feedback)
		}
		var kinds []string
		for _, e := range in.Timeline {
			kinds = append(kinds, e.Kind)
		}
		if want := []string{"opened", "silenced", "not_actionable", "not_actionable"}; !slices.Equal(kinds, want) {
			t.Errorf("timeline %v, want %v", kinds, want)
		}
		for _, err := range []error{
			s.RecordSilence(ctx, 999, dedupe.Silence{ID: "x", CreatedBy: "a", CreatedAt: at, EndsAt: at.Add(time.Hour)}),
			func() error { _, err := s.MarkNotActionable(ctx, 999, "a", at); return err }(),
		} {
			if quietpager.ErrorCode(err) != quietpager.NotFound {
				t.Errorf("unknown incident: %v, want not found", err)
			}
		}
		if err := s.RecordSilence(ctx, id, dedupe.Silence{ID: "x", CreatedBy: "a", CreatedAt: at, EndsAt: at}); quietpager.ErrorCode(err) != quietpager.Invalid {
			t.Errorf("silence ending as it starts: %v, want invalid", err)
		}
	})
}
