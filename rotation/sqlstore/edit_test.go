package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/sqlstore"
)

func rotationNamed(t *testing.T, cfg rotation.Config, name string) rotation.Rotation {
	t.Helper()
	for _, r := range cfg.Rotations {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rotation %s", name)
	return rotation.Rotation{}
}

func TestSetRotationMembers(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		file := parse(t, example(t))
		mustApply(t, s, file, false)

		if err := s.SetRotationMembers(ctx, "payments-primary", []string{"erin", "alice", "bob"}); err != nil {
			t.Fatal(err)
		}
		if got := rotationNamed(t, mustLoad(t, s), "payments-primary").Members; !slices.Equal(got, []string{"erin", "alice", "bob"}) {
			t.Errorf("members after reorder = %v", got)
		}

		for _, bad := range [][]string{
			{"erin", "alice"},               // someone left out
			{"erin", "alice", "bob", "bob"}, // someone twice
			{"erin", "alice", "frank"},      // someone new
			{"erin", "alice", "alice"},      // a duplicate in place of a member
			nil,
		} {
			err := s.SetRotationMembers(ctx, "payments-primary", bad)
			if quietpager.ErrorCode(err) != quietpager.Invalid {
				t.Errorf("SetRotationMembers(%v) = %v, want Invalid", bad, err)
			}
		}
		if got := rotationNamed(t, mustLoad(t, s), "payments-primary").Members; !slices.Equal(got, []string{"erin", "alice", "bob"}) {
			t.Errorf("a refused reorder changed the members: %v", got)
		}
		if err := s.SetRotationMembers(ctx, "nope", []string{"alice"}); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("unknown rotation: %v, want NotFound", err)
		}

		// The file owns the configuration: the next apply puts its order back.
		plan := mustApply(t, s, file, false)
		samePlan(t, plan, "update rotation payments-primary: members")
		if got := rotationNamed(t, mustLoad(t, s), "payments-primary").Members; !slices.Equal(got, []string{"alice", "bob", "erin"}) {
			t.Errorf("members after apply = %v, want the file's", got)
		}
	})
}

func TestSetRotationShift(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		file := parse(t, example(t))
		mustApply(t, s, file, false)
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		start := time.Date(2026, 11, 2, 10, 30, 0, 0, tokyo)

		if err := s.SetRotationShift(ctx, "payments-primary", rotation.Shift{Days: 2}, start, tokyo); err != nil {
			t.Fatal(err)
		}
		r := rotationNamed(t, mustLoad(t, s), "payments-primary")
		if r.Shift != (rotation.Shift{Days: 2}) || !r.Start.Equal(start) || r.TimeZone.String() != "Asia/Tokyo" {
			t.Errorf("after SetRotationShift: shift %+v, start %v, zone %v", r.Shift, r.Start, r.TimeZone)
		}
		if err := s.SetRotationShift(ctx, "payments-primary", rotation.Shift{Duration: 8 * time.Hour}, start, tokyo); err != nil {
			t.Fatal(err)
		}
		if r := rotationNamed(t, mustLoad(t, s), "payments-primary"); r.Shift != (rotation.Shift{Duration: 8 * time.Hour}) {
			t.Errorf("a day shift did not become an 8h shift: %+v", r.Shift)
		}

		for name, bad := range map[string]struct {
			shift rotation.Shift
			zone  *time.Location
		}{
			"zero length":     {rotation.Shift{}, tokyo},
			"negative days":   {rotation.Shift{Days: -1}, tokyo},
			"negative length": {rotation.Shift{Duration: -time.Hour}, tokyo},
			"days and length": {rotation.Shift{Days: 1, Duration: time.Hour}, tokyo},
			"no zone":         {rotation.Shift{Days: 1}, nil},
			"local zone":      {rotation.Shift{Days: 1}, time.Local},
		} {
			if err := s.SetRotationShift(ctx, "payments-primary", bad.shift, start, bad.zone); quietpager.ErrorCode(err) != quietpager.Invalid {
				t.Errorf("%s: %v, want Invalid", name, err)
			}
		}
		if r := rotationNamed(t, mustLoad(t, s), "payments-primary"); r.Shift != (rotation.Shift{Duration: 8 * time.Hour}) || r.TimeZone.String() != "Asia/Tokyo" {
			t.Errorf("a refused shift changed the rotation: %+v %v", r.Shift, r.TimeZone)
		}
		if err := s.SetRotationShift(ctx, "nope", rotation.Shift{Days: 1}, start, tokyo); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("unknown rotation: %v, want NotFound", err)
		}

		samePlan(t, mustApply(t, s, file, false), "update rotation payments-primary: shift, start, time_zone")
	})
}

func TestOverrideByID(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		mustApply(t, s, parse(t, example(t)), false)
		want, err := s.CreateOverride(ctx, rotation.Override{Rotation: "payments-primary", Person: "frank",
			Start: monday, End: monday.Add(3 * time.Hour), CreatedBy: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Override(ctx, want.ID)
		if err != nil || got != want {
			t.Errorf("Override(%d) = %+v, %v; want %+v", want.ID, got, err, want)
		}
		if _, err := s.Override(ctx, want.ID+1); quietpager.ErrorCode(err) != quietpager.NotFound {
			t.Errorf("Override of a missing id: %v, want NotFound", err)
		}
	})
}
