package reports_test

import (
	"testing"
	"time"

	"github.com/quietpager/quietpager/reports"
)

func TestCountRhythm(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) reports.Page {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return reports.Page{At: at}
	}
	pages := []reports.Page{
		// Sunday 25 October 2026, clocks go back at 03:00 CEST: 02:30
		// happens twice, and both count at 02.
		utc("2026-10-25T00:30:00Z"), // 02:30 CEST
		utc("2026-10-25T01:30:00Z"), // 02:30 CET
		// Sunday 29 March 2026, clocks go forward at 02:00 CET: no 02 hour.
		utc("2026-03-29T00:59:00Z"), // 01:59 CET
		utc("2026-03-29T01:00:00Z"), // 03:00 CEST
		// Sunday 23:30 in UTC is Monday 00:30 in Berlin.
		utc("2026-11-22T23:30:00Z"),
	}
	r := reports.CountRhythm(pages, berlin)
	wantHours := map[int]int{0: 1, 1: 1, 2: 2, 3: 1}
	for h, n := range r.ByHour {
		if n != wantHours[h] {
			t.Errorf("hour %02d: %d pages, want %d (all: %v)", h, n, wantHours[h], r.ByHour)
		}
	}
	if want := [7]int{1, 0, 0, 0, 0, 0, 4}; r.ByWeekday != want {
		t.Errorf("by weekday (Monday first) %v, want %v", r.ByWeekday, want)
	}
	if r.Pages != 5 || r.TimeZone != "Europe/Berlin" {
		t.Errorf("%d pages in %s, want 5 in Europe/Berlin", r.Pages, r.TimeZone)
	}
	if utcOnly := reports.CountRhythm(pages[4:], nil); utcOnly.ByWeekday[6] != 1 || utcOnly.ByHour[23] != 1 {
		t.Errorf("without a zone the clock is UTC's: %+v", utcOnly)
	}
}
