package reports

import (
	"testing"
	"time"

	"github.com/quietpager/quietpager/rotation"
)

func TestDueMondayNineInTheTeamsZone(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		zone *time.Location
		now  string
		due  bool
	}{
		// Monday 2 November 2026: Berlin on CET (UTC+1), New York on EST
		// since the day before (UTC-5).
		{berlin, "2026-11-02T07:59:00Z", false},
		{berlin, "2026-11-02T08:00:00Z", true},
		{berlin, "2026-11-03T07:59:00Z", true},
		{berlin, "2026-11-03T08:00:00Z", false}, // a day late: by hand
		{ny, "2026-11-02T13:59:00Z", false},
		{ny, "2026-11-02T14:00:00Z", true},
		{ny, "2026-11-01T14:00:00Z", false}, // Sunday
	} {
		now, _ := time.Parse(time.RFC3339, c.now)
		week, due := Due(rotation.Team{Name: "t", TimeZone: c.zone}, now)
		if due != c.due || (due && week.String() != "2026-W44") {
			t.Errorf("%s in %s: week %s due %v, want due %v for 2026-W44", c.now, c.zone, week, due, c.due)
		}
	}
}

func TestParseWeek(t *testing.T) {
	for s, want := range map[string]string{"2026-W47": "2026-W47", "2026W01": "2026-W01", "2026-W53": "2026-W53", "2020-W53": "2020-W53"} {
		w, err := ParseWeek(s)
		if err != nil || w.String() != want {
			t.Errorf("%s: %v %v", s, w, err)
		}
	}
	for _, s := range []string{"2025-W53", "2026-W00", "2026-47", "W47", "2026-W7"} {
		if _, err := ParseWeek(s); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	// Week 1 of 2026 starts on Monday 29 December 2025.
	if got := (Week{2026, 1}).Start(time.UTC); !got.Equal(time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("2026-W01 starts %s", got)
	}
	if got := (Week{2026, 53}).Next().String(); got != "2027-W01" {
		t.Errorf("after 2026-W53: %s", got)
	}
}
