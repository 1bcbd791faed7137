package rotation

import (
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	// Wednesday 3 June 2026 and the weekend of 6–7 June, in Berlin.
	wed := func(h, m int) time.Time { return wall(berlin, 2026, 6, 3, h, m) }
	tests := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want Band
	}{
		{"weekday 07:59", wed(7, 59), berlin, Sleep},
		{"weekday 07:59:59.999", wed(7, 59).Add(time.Minute - time.Millisecond), berlin, Sleep},
		{"weekday 08:00", wed(8, 0), berlin, Business},
		{"weekday 12:00", wed(12, 0), berlin, Business},
		{"weekday 17:59", wed(17, 59), berlin, Business},
		{"weekday 18:00", wed(18, 0), berlin, Off},
		{"weekday 21:59", wed(21, 59), berlin, Off},
		{"weekday 22:00", wed(22, 0), berlin, Sleep},
		{"weekday 00:00", wed(0, 0), berlin, Sleep},
		{"weekday 03:12", wed(3, 12), berlin, Sleep},
		{"Monday 08:00", wall(berlin, 2026, 6, 1, 8, 0), berlin, Business},
		{"Friday 17:59", wall(berlin, 2026, 6, 5, 17, 59), berlin, Business},
		{"Friday 18:00", wall(berlin, 2026, 6, 5, 18, 0), berlin, Off},
		{"Saturday 07:59", wall(berlin, 2026, 6, 6, 7, 59), berlin, Sleep},
		{"Saturday 08:00", wall(berlin, 2026, 6, 6, 8, 0), berlin, Off},
		{"Saturday 12:00", wall(berlin, 2026, 6, 6, 12, 0), berlin, Off},
		{"Saturday 21:59", wall(berlin, 2026, 6, 6, 21, 59), berlin, Off},
		{"Saturday 23:00", wall(berlin, 2026, 6, 6, 23, 0), berlin, Sleep},
		{"Sunday 12:00", wall(berlin, 2026, 6, 7, 12, 0), berlin, Off},
		{"Sunday 23:30", wall(berlin, 2026, 6, 7, 23, 30), berlin, Sleep},
		// One instant, three people: 10:00 UTC on Wednesday 3 June.
		{"10:00Z is 12:00 in Berlin", utc(2026, 6, 3, 10, 0), berlin, Business},
		{"10:00Z is 03:00 in Los Angeles", utc(2026, 6, 3, 10, 0), la, Sleep},
		{"10:00Z in UTC", utc(2026, 6, 3, 10, 0), time.UTC, Business},
		{"nil zone is UTC", utc(2026, 6, 3, 7, 0), nil, Sleep},
		// 01:00Z Thursday: Berlin 03:00 Thursday, Los Angeles 18:00 Wednesday.
		{"01:00Z Thursday in Berlin", utc(2026, 6, 4, 1, 0), berlin, Sleep},
		{"01:00Z Thursday in Los Angeles", utc(2026, 6, 4, 1, 0), la, Off},
		// 16:30Z Friday: Berlin 18:30 Friday, Los Angeles 09:30 Friday.
		{"16:30Z Friday in Berlin", utc(2026, 6, 5, 16, 30), berlin, Off},
		{"16:30Z Friday in Los Angeles", utc(2026, 6, 5, 16, 30), la, Business},
		// DST nights. Berlin jumps 02:00 → 03:00 on Sunday 29 March: 01:00Z
		// is 03:00 CEST there (sleep), and 18:00 PDT on Saturday in Los
		// Angeles (off), which changed three weeks earlier.
		{"Berlin 03:00 CEST on the spring night", utc(2026, 3, 29, 1, 0), berlin, Sleep},
		{"the same instant in Los Angeles", utc(2026, 3, 29, 1, 0), la, Off},
		// 07:00Z on 29 March is 09:00 CEST, a Sunday: off. An hour earlier
		// by the old offset it would be 08:00.
		{"Berlin Sunday 09:00 CEST after the change", utc(2026, 3, 29, 7, 0), berlin, Off},
		// Monday 30 March 06:00Z is 08:00 CEST: business; with the winter
		// offset it would be 07:00, still sleep.
		{"Berlin Monday 08:00 CEST", utc(2026, 3, 30, 6, 0), berlin, Business},
		{"Berlin Monday 07:59 CEST", utc(2026, 3, 30, 5, 59), berlin, Sleep},
		// New York on the autumn night: both 01:30s are sleep; 03:00 EST.
		{"New York first 01:30", utc(2026, 11, 1, 5, 30), newYork, Sleep},
		{"New York second 01:30", utc(2026, 11, 1, 6, 30), newYork, Sleep},
		{"New York 03:00 EST on the autumn night", utc(2026, 11, 1, 8, 0), newYork, Sleep},
		// Monday 2 November 13:00Z is 08:00 EST (it would be 09:00 EDT).
		{"New York Monday 07:59 EST", utc(2026, 11, 2, 12, 59), newYork, Sleep},
		{"New York Monday 08:00 EST", utc(2026, 11, 2, 13, 0), newYork, Business},
		{"New York Monday 17:59 EST", utc(2026, 11, 2, 22, 59), newYork, Business},
		{"New York Monday 18:00 EST", utc(2026, 11, 2, 23, 0), newYork, Off},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.at, tt.loc); got != tt.want {
				t.Errorf("Classify(%v, %v) = %s, want %s", tt.at, tt.loc, got, tt.want)
			}
		})
	}
}

func TestNextBusinessStart(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want time.Time
	}{
		{"Friday 19:00 → Monday 08:00", wall(berlin, 2026, 6, 5, 19, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Friday 18:00 → Monday 08:00", wall(berlin, 2026, 6, 5, 18, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Friday 23:00 → Monday 08:00", wall(berlin, 2026, 6, 5, 23, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Saturday 03:00 → Monday 08:00", wall(berlin, 2026, 6, 6, 3, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Sunday 12:00 → Monday 08:00", wall(berlin, 2026, 6, 7, 12, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Monday 00:00 → Monday 08:00", wall(berlin, 2026, 6, 8, 0, 0), berlin, wall(berlin, 2026, 6, 8, 8, 0)},
		{"Tuesday 03:00 → Tuesday 08:00", wall(berlin, 2026, 6, 2, 3, 0), berlin, wall(berlin, 2026, 6, 2, 8, 0)},
		{"Tuesday 07:59:59 → Tuesday 08:00", wall(berlin, 2026, 6, 2, 7, 59).Add(59 * time.Second), berlin, wall(berlin, 2026, 6, 2, 8, 0)},
		{"Tuesday 20:00 → Wednesday 08:00", wall(berlin, 2026, 6, 2, 20, 0), berlin, wall(berlin, 2026, 6, 3, 8, 0)},
		{"Tuesday 22:30 → Wednesday 08:00", wall(berlin, 2026, 6, 2, 22, 30), berlin, wall(berlin, 2026, 6, 3, 8, 0)},
		{"inside business hours → t", wall(berlin, 2026, 6, 3, 10, 17), berlin, wall(berlin, 2026, 6, 3, 10, 17)},
		{"08:00 exactly → t", wall(berlin, 2026, 6, 3, 8, 0), berlin, wall(berlin, 2026, 6, 3, 8, 0)},
		{"17:59 → t", wall(berlin, 2026, 6, 3, 17, 59), berlin, wall(berlin, 2026, 6, 3, 17, 59)},
		// Across DST the answer is 08:00 by the new clock, not 24-hour steps.
		{"Berlin Friday before the spring change → Monday 08:00 CEST", wall(berlin, 2026, 3, 27, 19, 0), berlin, utc(2026, 3, 30, 6, 0)},
		{"Berlin Friday before the autumn change → Monday 08:00 CET", wall(berlin, 2026, 10, 23, 19, 0), berlin, utc(2026, 10, 26, 7, 0)},
		{"New York Friday before the autumn change → Monday 08:00 EST", wall(newYork, 2026, 10, 30, 20, 0), newYork, utc(2026, 11, 2, 13, 0)},
		{"New York Saturday night of the spring change → Monday 08:00 EDT", utc(2026, 3, 8, 7, 0), newYork, utc(2026, 3, 9, 12, 0)},
		// Cairo springs forward at midnight on a workday, Friday 24 April
		// 2026: 08:00 is eight wall-clock hours but seven real hours after
		// the day begins.
		{"Cairo Thursday evening → Friday 08:00 EEST", time.Date(2026, 4, 23, 20, 0, 0, 0, zone(t, "Africa/Cairo")), zone(t, "Africa/Cairo"), utc(2026, 4, 24, 5, 0)},
		// Zones: 09:00Z Tuesday is business in Berlin but 02:00 in LA.
		{"the same instant for a Los Angeles person", utc(2026, 6, 2, 9, 0), la, wall(la, 2026, 6, 2, 8, 0)},
		{"the same instant for a Berlin person", utc(2026, 6, 2, 9, 0), berlin, utc(2026, 6, 2, 9, 0)},
		{"nil zone is UTC", utc(2026, 6, 6, 9, 0), nil, utc(2026, 6, 8, 8, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextBusinessStart(tt.at, tt.loc)
			if !got.Equal(tt.want) {
				t.Errorf("NextBusinessStart(%v) = %v, want %v", tt.at, got, tt.want)
			}
			if Classify(got, tt.loc) != Business {
				t.Errorf("NextBusinessStart(%v) = %v is not in business hours", tt.at, got)
			}
			if got.Before(tt.at) {
				t.Errorf("NextBusinessStart(%v) = %v is in the past", tt.at, got)
			}
		})
	}
}

// TestNextBusinessStartIsTheNextOne walks a year in 20-minute steps and
// checks that nothing between t and NextBusinessStart(t) is business hours.
func TestNextBusinessStartIsTheNextOne(t *testing.T) {
	for _, loc := range []*time.Location{berlin, newYork, la, zone(t, "Australia/Lord_Howe"), zone(t, "Africa/Cairo")} {
		for at := utc(2026, 1, 1, 0, 7); at.Before(utc(2027, 1, 1, 0, 0)); at = at.Add(20 * time.Minute) {
			next := NextBusinessStart(at, loc)
			if got := next.In(loc).Format("15:04"); !next.Equal(at) && got != "08:00" {
				t.Fatalf("%v: NextBusinessStart(%v) = %v, want 08:00 local", loc, at, next)
			}
			for s := at; s.Before(next); s = s.Add(20 * time.Minute) {
				if Classify(s, loc) == Business {
					t.Fatalf("%v: NextBusinessStart(%v) = %v skips business hours at %v", loc, at, next, s)
				}
			}
		}
	}
}
