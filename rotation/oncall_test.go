package rotation

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

var (
	berlin  = mustZone("Europe/Berlin")
	newYork = mustZone("America/New_York")
	la      = mustZone("America/Los_Angeles")
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// wall is a local time in loc; the tests only use wall times that exist
// once, or spell the instant in UTC.
func wall(loc *time.Location, y int, m time.Month, d, h, minute int) time.Time {
	return time.Date(y, m, d, h, minute, 0, 0, loc)
}

func utc(y int, m time.Month, d, h, minute int) time.Time {
	return time.Date(y, m, d, h, minute, 0, 0, time.UTC)
}

// Rotations used across the tests.
var (
	// Daily at 09:00 in Berlin from Monday 23 March 2026, a week before
	// summer time starts.
	berlinDaily = Rotation{Name: "berlin", Team: "db", Members: []string{"alice", "bob", "carol"},
		Shift: Shift{Days: 1}, Start: wall(berlin, 2026, 3, 23, 9, 0), TimeZone: berlin}
	// Daily at 09:00 in New York from Monday 2 March 2026.
	nyDaily = Rotation{Name: "ny", Members: []string{"dan", "erin"},
		Shift: Shift{Days: 1}, Start: wall(newYork, 2026, 3, 2, 9, 0), TimeZone: newYork}
	// Daily at midnight in New York from 1 March 2026.
	nyMidnight = Rotation{Name: "ny-midnight", Members: []string{"dan", "erin"},
		Shift: Shift{Days: 1}, Start: wall(newYork, 2026, 3, 1, 0, 0), TimeZone: newYork}
	// Weekly, Mondays at 10:00 in Berlin, from 2 March 2026.
	berlinWeekly = Rotation{Name: "weekly", Members: []string{"alice", "bob", "carol"},
		Shift: Shift{Days: 7}, Start: wall(berlin, 2026, 3, 2, 10, 0), TimeZone: berlin}
	// Every 12 hours from 20:00 EST on Saturday 7 March 2026, the evening
	// before New York's clocks go forward.
	ny12h = Rotation{Name: "ny-12h", Members: []string{"xavier", "yara"},
		Shift: Shift{Duration: 12 * time.Hour}, Start: wall(newYork, 2026, 3, 7, 20, 0), TimeZone: newYork}
)

func TestScheduledAcrossDST(t *testing.T) {
	tests := []struct {
		name       string
		rot        Rotation
		at         time.Time
		person     string
		start, end time.Time
		hours      float64
		localStart string // the handoff as Berlin or New York clocks show it
	}{
		// Berlin: clocks go 02:00 CET → 03:00 CEST on 29 March and
		// 03:00 CEST → 02:00 CET on 25 October 2026.
		{"berlin before spring change", berlinDaily, wall(berlin, 2026, 3, 28, 12, 0), "carol",
			utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), 23, "2026-03-28 09:00 CET"},
		{"berlin spring change night is in the short shift", berlinDaily, utc(2026, 3, 29, 1, 30), "carol",
			utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), 23, "2026-03-28 09:00 CET"},
		{"berlin handoff at 09:00 CEST belongs to the new person", berlinDaily, wall(berlin, 2026, 3, 29, 9, 0), "alice",
			utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 7, 0), 24, "2026-03-29 09:00 CEST"},
		{"berlin one nanosecond before the handoff", berlinDaily, utc(2026, 3, 29, 7, 0).Add(-time.Nanosecond), "carol",
			utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), 23, "2026-03-28 09:00 CET"},
		{"berlin autumn change is in the long shift", berlinDaily, utc(2026, 10, 25, 1, 30), "carol",
			utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0), 25, "2026-10-24 09:00 CEST"},
		{"berlin 08:59 CET after the autumn change", berlinDaily, wall(berlin, 2026, 10, 25, 8, 59), "carol",
			utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0), 25, "2026-10-24 09:00 CEST"},
		{"berlin 09:00 CET after the autumn change", berlinDaily, wall(berlin, 2026, 10, 25, 9, 0), "alice",
			utc(2026, 10, 25, 8, 0), utc(2026, 10, 26, 8, 0), 24, "2026-10-25 09:00 CET"},

		// New York: 02:00 EST → 03:00 EDT on 8 March, 02:00 EDT → 01:00
		// EST on 1 November 2026.
		{"new york 09:00 handoff, spring change", nyDaily, utc(2026, 3, 8, 7, 0), "erin",
			utc(2026, 3, 7, 14, 0), utc(2026, 3, 8, 13, 0), 23, "2026-03-07 09:00 EST"},
		{"new york 09:00 EDT handoff", nyDaily, wall(newYork, 2026, 3, 8, 9, 0), "dan",
			utc(2026, 3, 8, 13, 0), utc(2026, 3, 9, 13, 0), 24, "2026-03-08 09:00 EDT"},
		{"new york 09:00 handoff, autumn change (second 01:30)", nyDaily, utc(2026, 11, 1, 6, 30), "erin",
			utc(2026, 10, 31, 13, 0), utc(2026, 11, 1, 14, 0), 25, "2026-10-31 09:00 EDT"},
		{"new york midnight handoff: 8 March is 23 hours", nyMidnight, wall(newYork, 2026, 3, 8, 12, 0), "erin",
			utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0), 23, "2026-03-08 00:00 EST"},
		{"new york midnight handoff: 1 November is 25 hours", nyMidnight, wall(newYork, 2026, 11, 1, 12, 0), "erin",
			utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0), 25, "2026-11-01 00:00 EDT"},

		{"weekly: the week of the spring change is 167 hours", berlinWeekly, wall(berlin, 2026, 3, 29, 12, 0), "alice",
			utc(2026, 3, 23, 9, 0), utc(2026, 3, 30, 8, 0), 167, "2026-03-23 10:00 CET"},
		{"weekly: Monday 10:00 CEST", berlinWeekly, wall(berlin, 2026, 3, 31, 12, 0), "bob",
			utc(2026, 3, 30, 8, 0), utc(2026, 4, 6, 8, 0), 168, "2026-03-30 10:00 CEST"},
		{"weekly: the week of the autumn change is 169 hours", berlinWeekly, wall(berlin, 2026, 10, 26, 9, 59), "alice",
			utc(2026, 10, 19, 8, 0), utc(2026, 10, 26, 9, 0), 169, "2026-10-19 10:00 CEST"},

		{"12h: stays 12 hours apart across the change", ny12h, wall(newYork, 2026, 3, 8, 12, 0), "yara",
			utc(2026, 3, 8, 13, 0), utc(2026, 3, 9, 1, 0), 12, "2026-03-08 09:00 EDT"},
		{"12h: the first shift", ny12h, utc(2026, 3, 8, 1, 0), "xavier",
			utc(2026, 3, 8, 1, 0), utc(2026, 3, 8, 13, 0), 12, "2026-03-07 20:00 EST"},

		// Before Start, shift k < 0 is Members[k mod n] counted from the
		// end: shift -1 is carol's, -2 bob's, -3 alice's.
		{"before start: shift -1", berlinDaily, wall(berlin, 2026, 3, 22, 9, 0), "carol",
			utc(2026, 3, 22, 8, 0), utc(2026, 3, 23, 8, 0), 24, "2026-03-22 09:00 CET"},
		{"before start: shift -2", berlinDaily, wall(berlin, 2026, 3, 21, 9, 0), "bob",
			utc(2026, 3, 21, 8, 0), utc(2026, 3, 22, 8, 0), 24, "2026-03-21 09:00 CET"},
		{"before start: shift -3", berlinDaily, wall(berlin, 2026, 3, 21, 8, 59), "alice",
			utc(2026, 3, 20, 8, 0), utc(2026, 3, 21, 8, 0), 24, "2026-03-20 09:00 CET"},
		{"before start: shift -4", berlinDaily, wall(berlin, 2026, 3, 19, 23, 0), "carol",
			utc(2026, 3, 19, 8, 0), utc(2026, 3, 20, 8, 0), 24, "2026-03-19 09:00 CET"},
		{"before start: a year earlier, across last autumn's change", berlinDaily, wall(berlin, 2025, 10, 25, 12, 0), "bob",
			utc(2025, 10, 25, 7, 0), utc(2025, 10, 26, 8, 0), 25, "2025-10-25 09:00 CEST"},
		{"before start: 12h rotation, one nanosecond before", ny12h, ny12h.Start.Add(-time.Nanosecond), "yara",
			utc(2026, 3, 7, 13, 0), utc(2026, 3, 8, 1, 0), 12, "2026-03-07 08:00 EST"},
		{"before start: 12h rotation, shift -2", ny12h, utc(2026, 3, 7, 12, 59), "xavier",
			utc(2026, 3, 7, 1, 0), utc(2026, 3, 7, 13, 0), 12, "2026-03-06 20:00 EST"},
		{"before start: 12h rotation, shift -3", ny12h, utc(2026, 3, 7, 0, 59), "yara",
			utc(2026, 3, 6, 13, 0), utc(2026, 3, 7, 1, 0), 12, "2026-03-06 08:00 EST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rot.Scheduled(tt.at)
			if got.Person != tt.person || !got.Start.Equal(tt.start) || !got.End.Equal(tt.end) || got.Override || got.Rotation != tt.rot.Name {
				t.Fatalf("Scheduled(%v) = %+v, want %s from %v to %v", tt.at, got, tt.person, tt.start, tt.end)
			}
			if h := got.End.Sub(got.Start).Hours(); h != tt.hours {
				t.Errorf("shift is %vh, want %vh", h, tt.hours)
			}
			if s := got.Start.Format("2006-01-02 15:04 MST"); s != tt.localStart {
				t.Errorf("shift starts %s local, want %s", s, tt.localStart)
			}
			// With no overrides OnCall is the schedule.
			if oc := tt.rot.OnCall(tt.at, nil); oc != got {
				t.Errorf("OnCall = %+v, want the schedule %+v", oc, got)
			}
			if sh := tt.rot.Shifts(got.Start, got.End, nil); len(sh) != 1 || sh[0] != got {
				t.Errorf("Shifts over the shift = %+v, want just %+v", sh, got)
			}
		})
	}
}

func TestHandoffAt(t *testing.T) {
	// A handoff at a wall time the change skips or repeats is read with the
	// offset before the change, in both hemispheres of Greenwich (time.Date
	// alone moves 02:30 to 03:30 in Berlin but to 01:30 in New York, and
	// picks the second 02:30 in Berlin but the first 01:30 in New York).
	nyGap := Rotation{Shift: Shift{Days: 1}, Start: wall(newYork, 2026, 3, 1, 2, 30), TimeZone: newYork}
	berlinGap := Rotation{Shift: Shift{Days: 1}, Start: wall(berlin, 2026, 3, 22, 2, 30), TimeZone: berlin}
	nyTwice := Rotation{Shift: Shift{Days: 1}, Start: wall(newYork, 2026, 10, 25, 1, 30), TimeZone: newYork}
	berlinTwice := Rotation{Shift: Shift{Days: 1}, Start: wall(berlin, 2026, 10, 18, 2, 30), TimeZone: berlin}
	// Start given in UTC; the handoff wall time is Start's in TimeZone.
	utcStart := Rotation{Shift: Shift{Days: 1}, Start: utc(2026, 3, 23, 8, 0), TimeZone: berlin}
	// No TimeZone: Start's own location.
	noZone := Rotation{Shift: Shift{Days: 1}, Start: wall(berlin, 2026, 3, 23, 9, 0)}

	tests := []struct {
		name  string
		rot   Rotation
		k     int
		want  time.Time
		local string
	}{
		{"berlin k=0 is Start", berlinDaily, 0, utc(2026, 3, 23, 8, 0), "2026-03-23 09:00 CET"},
		{"berlin k=6 after the change", berlinDaily, 6, utc(2026, 3, 29, 7, 0), "2026-03-29 09:00 CEST"},
		{"berlin k=216 after the autumn change", berlinDaily, 216, utc(2026, 10, 25, 8, 0), "2026-10-25 09:00 CET"},
		{"berlin k=-1", berlinDaily, -1, utc(2026, 3, 22, 8, 0), "2026-03-22 09:00 CET"},
		{"berlin k=-200, last summer", berlinDaily, -200, utc(2025, 9, 4, 7, 0), "2025-09-04 09:00 CEST"},
		{"weekly k=4", berlinWeekly, 4, utc(2026, 3, 30, 8, 0), "2026-03-30 10:00 CEST"},
		{"weekly k=-1", berlinWeekly, -1, utc(2026, 2, 23, 9, 0), "2026-02-23 10:00 CET"},
		{"12h k=3", ny12h, 3, utc(2026, 3, 9, 13, 0), "2026-03-09 09:00 EDT"},
		{"12h k=-3", ny12h, -3, utc(2026, 3, 6, 13, 0), "2026-03-06 08:00 EST"},
		{"new york 02:30 on the spring night is 03:30 EDT", nyGap, 7, utc(2026, 3, 8, 7, 30), "2026-03-08 03:30 EDT"},
		{"new york 02:30 the day after", nyGap, 8, utc(2026, 3, 9, 6, 30), "2026-03-09 02:30 EDT"},
		{"berlin 02:30 on the spring night is 03:30 CEST", berlinGap, 7, utc(2026, 3, 29, 1, 30), "2026-03-29 03:30 CEST"},
		{"new york 01:30 on the autumn night is the first one", nyTwice, 7, utc(2026, 11, 1, 5, 30), "2026-11-01 01:30 EDT"},
		{"berlin 02:30 on the autumn night is the first one", berlinTwice, 7, utc(2026, 10, 25, 0, 30), "2026-10-25 02:30 CEST"},
		{"berlin 02:30 the day after the autumn night", berlinTwice, 8, utc(2026, 10, 26, 1, 30), "2026-10-26 02:30 CET"},
		{"start given in UTC", utcStart, 7, utc(2026, 3, 30, 7, 0), "2026-03-30 09:00 CEST"},
		{"no TimeZone uses Start's location", noZone, 7, utc(2026, 3, 30, 7, 0), "2026-03-30 09:00 CEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rot.HandoffAt(tt.k)
			if !got.Equal(tt.want) {
				t.Errorf("HandoffAt(%d) = %v, want %v", tt.k, got, tt.want)
			}
			if s := got.Format("2006-01-02 15:04 MST"); s != tt.local {
				t.Errorf("HandoffAt(%d) shows %s, want %s", tt.k, s, tt.local)
			}
			if k := tt.rot.ShiftIndex(got); k != tt.k {
				t.Errorf("ShiftIndex(HandoffAt(%d)) = %d", tt.k, k)
			}
		})
	}
}

func TestHandoffKeepsWallTime(t *testing.T) {
	tests := []struct {
		rot  Rotation
		from int
		to   int
		hm   string
	}{
		{berlinDaily, -400, 400, "09:00"},
		{nyDaily, -400, 400, "09:00"},
		{nyMidnight, -400, 400, "00:00"},
		{berlinWeekly, -60, 60, "10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.rot.Name, func(t *testing.T) {
			start := tt.rot.Start.In(tt.rot.TimeZone)
			for k := tt.from; k <= tt.to; k++ {
				h := tt.rot.HandoffAt(k)
				if got := h.In(tt.rot.TimeZone).Format("15:04"); got != tt.hm {
					t.Fatalf("HandoffAt(%d) = %v, at %s local, want %s", k, h, got, tt.hm)
				}
				want := start.AddDate(0, 0, k*tt.rot.Shift.Days)
				if y, m, d := h.Date(); y != want.Year() || m != want.Month() || d != want.Day() {
					t.Fatalf("HandoffAt(%d) = %v, want the date of %v", k, h, want)
				}
			}
		})
	}
	t.Run("fixed 12h", func(t *testing.T) {
		for k := -100; k < 100; k++ {
			if d := ny12h.HandoffAt(k + 1).Sub(ny12h.HandoffAt(k)); d != 12*time.Hour {
				t.Fatalf("shift %d is %v, want 12h", k, d)
			}
		}
	})
}

// TestShiftIndexInvertsHandoffAt checks HandoffAt(k) <= t < HandoffAt(k+1)
// for random instants over decades, in zones with odd rules: the southern
// hemisphere, a 30-minute change (Lord Howe), no DST, and Samoa, which
// skipped 30 December 2011 entirely.
func TestShiftIndexInvertsHandoffAt(t *testing.T) {
	var rots []Rotation
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata", "UTC"} {
		loc := zone(t, name)
		for _, hm := range [][2]int{{9, 0}, {0, 0}, {2, 30}, {1, 30}, {23, 59}} {
			for _, days := range []int{1, 3, 7, 14} {
				rots = append(rots, Rotation{Name: fmt.Sprintf("%s %02d:%02d every %dd", name, hm[0], hm[1], days),
					Members: []string{"a", "b", "c"}, Shift: Shift{Days: days},
					Start: time.Date(2011, 6, 1, hm[0], hm[1], 0, 0, loc), TimeZone: loc})
			}
		}
		for _, d := range []time.Duration{12 * time.Hour, 8 * time.Hour, 90 * time.Minute, 7 * 24 * time.Hour} {
			rots = append(rots, Rotation{Name: fmt.Sprintf("%s every %v", name, d),
				Members: []string{"a", "b", "c"}, Shift: Shift{Duration: d},
				Start: time.Date(2011, 6, 1, 9, 0, 0, 0, loc), TimeZone: loc})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range rots {
		for range 300 {
			at := r.Start.Add(time.Duration(rng.Int64N(int64(40*365*24*time.Hour))) - 20*365*24*time.Hour)
			k := r.ShiftIndex(at)
			lo, hi := r.HandoffAt(k), r.HandoffAt(k+1)
			if at.Before(lo) || !at.Before(hi) {
				t.Fatalf("%s: ShiftIndex(%v) = %d, but shift %d is [%v, %v)", r.Name, at, k, k, lo, hi)
			}
			// A Days rotation hands off at Start's wall time unless that
			// wall time does not exist that day.
			if r.Shift.Days > 0 {
				s := r.Start.In(r.TimeZone)
				y, m, d := s.Date()
				wantWall := time.Date(y, m, d+k*r.Shift.Days, s.Hour(), s.Minute(), 0, 0, time.UTC)
				if !wallAsUTC(lo).Equal(wantWall) && wallAsUTC(time.Date(wantWall.Year(), wantWall.Month(), wantWall.Day(), s.Hour(), s.Minute(), 0, 0, r.TimeZone)).Equal(wantWall) {
					t.Fatalf("%s: HandoffAt(%d) = %v, want wall time %v", r.Name, k, lo, wantWall)
				}
			}
		}
	}
	// Samoa: 29 December 2011 09:00 (UTC-10) to 31 December 09:00 (UTC+14)
	// is one day; 30 December never happened, and its shift is empty.
	apia := zone(t, "Pacific/Apia")
	r := Rotation{Members: []string{"a", "b", "c"}, Shift: Shift{Days: 1}, Start: time.Date(2011, 12, 29, 9, 0, 0, 0, apia), TimeZone: apia}
	if got := r.Scheduled(time.Date(2011, 12, 31, 8, 0, 0, 0, apia)); got.Person != "a" || got.End.Sub(got.Start) != 24*time.Hour {
		t.Errorf("Samoa: %+v, want a's shift of 24h", got)
	}
	if got := r.Scheduled(time.Date(2011, 12, 31, 9, 0, 0, 0, apia)); got.Person != "c" {
		t.Errorf("Samoa 31 Dec 09:00: %+v, want c (b's day never happened)", got)
	}
}

func TestInvalidRotation(t *testing.T) {
	r := Rotation{Name: "broken", Members: []string{"a", "b"}, Start: utc(2026, 1, 1, 9, 0), TimeZone: time.UTC}
	at := utc(2026, 6, 1, 0, 0)
	if k := r.ShiftIndex(at); k != 0 {
		t.Errorf("ShiftIndex = %d, want 0", k)
	}
	if got := r.Scheduled(at); got.Person != "a" || !got.Start.IsZero() || !got.End.IsZero() {
		t.Errorf("Scheduled = %+v, want a, unbounded", got)
	}
	sh := r.Shifts(at, at.Add(time.Hour), []Override{{ID: 1, Rotation: "broken", Person: "z", Start: at.Add(time.Minute), End: at.Add(2 * time.Minute)}})
	if len(sh) != 3 || sh[0].Person != "a" || sh[1].Person != "z" || sh[2].Person != "a" {
		t.Errorf("Shifts = %+v", sh)
	}
	empty := Rotation{Name: "empty", Shift: Shift{Days: 1}, Start: utc(2026, 1, 1, 9, 0)}
	if got := empty.Scheduled(at); got.Person != "" {
		t.Errorf("no members: %+v, want nobody", got)
	}
}

// Overrides are tested on a daily 09:00 Berlin rotation starting Monday
// 1 June 2026: alice 1 June, bob 2 June, carol 3 June, alice 4 June...
var primary = Rotation{Name: "db-primary", Team: "db", Members: []string{"alice", "bob", "carol"},
	Shift: Shift{Days: 1}, Start: wall(berlin, 2026, 6, 1, 9, 0), TimeZone: berlin}

func jun(d, h, minute int) time.Time { return wall(berlin, 2026, 6, d, h, minute) }

var (
	// dave covers alice's evening and bob's morning, across the 09:00
	// handoff on 2 June.
	daveNight = Override{ID: 1, Rotation: "db-primary", Person: "dave", Start: jun(1, 20, 0), End: jun(2, 12, 0)}
	// erin takes the middle of dave's override; she started later, so she
	// wins there.
	erinInside = Override{ID: 2, Rotation: "db-primary", Person: "erin", Start: jun(1, 22, 0), End: jun(2, 2, 0)}
	// frank starts with dave, with a higher ID.
	frankSameStart = Override{ID: 5, Rotation: "db-primary", Person: "frank", Start: jun(1, 20, 0), End: jun(1, 21, 0)}
	// gus overrides another rotation.
	gusElsewhere = Override{ID: 9, Rotation: "db-secondary", Person: "gus", Start: jun(1, 0, 0), End: jun(5, 0, 0)}
	// hana's override ends before it starts.
	hanaBackwards = Override{ID: 10, Rotation: "db-primary", Person: "hana", Start: jun(1, 12, 0), End: jun(1, 11, 0)}
	// ivan covers a whole shift and more, before Start (shift -1 is
	// carol's, 31 May 09:00 to 1 June 09:00).
	ivanBefore = Override{ID: 11, Rotation: "db-primary", Person: "ivan", Start: wall(berlin, 2026, 5, 31, 6, 0), End: jun(1, 9, 30)}
	// jo started earlier than dave but outlasts him.
	joLonger = Override{ID: 12, Rotation: "db-primary", Person: "jo", Start: jun(1, 18, 0), End: jun(2, 14, 0)}
	// kim has the same Start and ID as dave, and comes later in the slice.
	kimTwin = Override{ID: 1, Rotation: "db-primary", Person: "kim", Start: jun(1, 20, 0), End: jun(2, 0, 0)}
)

func sched(person string, start, end time.Time) OnCallShift {
	return OnCallShift{Rotation: "db-primary", Person: person, Start: start, End: end}
}

func over(person string, start, end time.Time) OnCallShift {
	return OnCallShift{Rotation: "db-primary", Person: person, Start: start, End: end, Override: true}
}

func sameShift(a, b OnCallShift) bool {
	return a.Rotation == b.Rotation && a.Person == b.Person && a.Override == b.Override &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End)
}

func TestOnCallOverrides(t *testing.T) {
	tests := []struct {
		name      string
		at        time.Time
		overrides []Override
		want      OnCallShift
	}{
		{"no overrides", jun(1, 21, 0), nil, sched("alice", jun(1, 9, 0), jun(2, 9, 0))},
		{"schedule clipped by the override that cuts into it", jun(1, 12, 0), []Override{daveNight},
			sched("alice", jun(1, 9, 0), jun(1, 20, 0))},
		{"override starts exactly at t", jun(1, 20, 0), []Override{daveNight},
			over("dave", jun(1, 20, 0), jun(2, 12, 0))},
		{"override across the handoff keeps its own bounds", jun(2, 9, 0), []Override{daveNight},
			over("dave", jun(1, 20, 0), jun(2, 12, 0))},
		{"override one nanosecond before its end", jun(2, 12, 0).Add(-time.Nanosecond), []Override{daveNight},
			over("dave", jun(1, 20, 0), jun(2, 12, 0))},
		{"the override's end belongs to the schedule", jun(2, 12, 0), []Override{daveNight},
			sched("bob", jun(2, 12, 0), jun(3, 9, 0))},
		{"overlapping: the later start wins", jun(1, 23, 0), []Override{daveNight, erinInside},
			over("erin", jun(1, 22, 0), jun(2, 2, 0))},
		{"overlapping: the later start wins in any order", jun(1, 23, 0), []Override{erinInside, daveNight},
			over("erin", jun(1, 22, 0), jun(2, 2, 0))},
		{"overlapping: the earlier override resumes, clipped", jun(2, 3, 0), []Override{daveNight, erinInside},
			over("dave", jun(2, 2, 0), jun(2, 12, 0))},
		{"overlapping: the earlier override before the later one", jun(1, 21, 0), []Override{daveNight, erinInside},
			over("dave", jun(1, 20, 0), jun(1, 22, 0))},
		{"overlapping: a longer, earlier override is cut by a later start", jun(1, 19, 0), []Override{joLonger, daveNight},
			over("jo", jun(1, 18, 0), jun(1, 20, 0))},
		{"overlapping: the earlier override outlasts the later one", jun(2, 13, 0), []Override{joLonger, daveNight},
			over("jo", jun(2, 12, 0), jun(2, 14, 0))},
		{"same start: the highest ID wins", jun(1, 20, 30), []Override{frankSameStart, daveNight},
			over("frank", jun(1, 20, 0), jun(1, 21, 0))},
		{"same start and ID: the last in the slice wins", jun(1, 20, 30), []Override{daveNight, kimTwin},
			over("kim", jun(1, 20, 0), jun(2, 0, 0))},
		{"another rotation's override is ignored", jun(1, 12, 0), []Override{gusElsewhere},
			sched("alice", jun(1, 9, 0), jun(2, 9, 0))},
		{"a backwards override is ignored", jun(1, 11, 30), []Override{hanaBackwards},
			sched("alice", jun(1, 9, 0), jun(2, 9, 0))},
		{"override before Start", wall(berlin, 2026, 5, 31, 12, 0), []Override{ivanBefore},
			over("ivan", wall(berlin, 2026, 5, 31, 6, 0), jun(1, 9, 30))},
		{"schedule before Start (shift -2 is bob's), clipped", wall(berlin, 2026, 5, 31, 5, 0), []Override{ivanBefore},
			sched("bob", wall(berlin, 2026, 5, 30, 9, 0), wall(berlin, 2026, 5, 31, 6, 0))},
		{"schedule after an override that crossed the handoff", jun(1, 10, 0), []Override{ivanBefore},
			sched("alice", jun(1, 9, 30), jun(2, 9, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := primary.OnCall(tt.at, tt.overrides)
			if !sameShift(got, tt.want) {
				t.Errorf("OnCall(%v) =\n  %+v, want\n  %+v", tt.at, got, tt.want)
			}
			if got.Start.Location() != berlin || got.End.Location() != berlin {
				t.Errorf("OnCall bounds in %v/%v, want the rotation's zone", got.Start.Location(), got.End.Location())
			}
		})
	}
}

// checkCover fails unless shifts cover [from, to) exactly, in order,
// without gaps or empty stretches.
func checkCover(t *testing.T, shifts []OnCallShift, from, to time.Time) {
	t.Helper()
	if len(shifts) == 0 {
		t.Fatalf("no shifts for [%v, %v)", from, to)
	}
	if !shifts[0].Start.Equal(from) {
		t.Errorf("first stretch starts %v, want %v", shifts[0].Start, from)
	}
	if last := shifts[len(shifts)-1]; !last.End.Equal(to) {
		t.Errorf("last stretch ends %v, want %v", last.End, to)
	}
	for i, s := range shifts {
		if !s.End.After(s.Start) {
			t.Errorf("stretch %d is empty or backwards: %+v", i, s)
		}
		if i > 0 && !shifts[i-1].End.Equal(s.Start) {
			t.Errorf("gap or overlap between %+v and %+v", shifts[i-1], s)
		}
	}
}

func TestShifts(t *testing.T) {
	tests := []struct {
		name      string
		rot       Rotation
		from, to  time.Time
		overrides []Override
		want      []OnCallShift
	}{
		{"plain schedule, clipped at both ends", primary, jun(1, 0, 0), jun(3, 0, 0), nil, []OnCallShift{
			sched("carol", jun(1, 0, 0), jun(1, 9, 0)),
			sched("alice", jun(1, 9, 0), jun(2, 9, 0)),
			sched("bob", jun(2, 9, 0), jun(3, 0, 0)),
		}},
		{"range inside one shift", primary, jun(1, 10, 0), jun(1, 11, 0), nil, []OnCallShift{
			sched("alice", jun(1, 10, 0), jun(1, 11, 0)),
		}},
		{"override across a handoff splits both shifts", primary, jun(1, 9, 0), jun(3, 9, 0), []Override{daveNight}, []OnCallShift{
			sched("alice", jun(1, 9, 0), jun(1, 20, 0)),
			over("dave", jun(1, 20, 0), jun(2, 12, 0)),
			sched("bob", jun(2, 12, 0), jun(3, 9, 0)),
		}},
		{"overlapping overrides: the later start cuts into the earlier", primary, jun(1, 9, 0), jun(3, 9, 0), []Override{erinInside, daveNight}, []OnCallShift{
			sched("alice", jun(1, 9, 0), jun(1, 20, 0)),
			over("dave", jun(1, 20, 0), jun(1, 22, 0)),
			over("erin", jun(1, 22, 0), jun(2, 2, 0)),
			over("dave", jun(2, 2, 0), jun(2, 12, 0)),
			sched("bob", jun(2, 12, 0), jun(3, 9, 0)),
		}},
		{"an earlier, longer override around a later one", primary, jun(1, 9, 0), jun(2, 18, 0), []Override{daveNight, joLonger}, []OnCallShift{
			sched("alice", jun(1, 9, 0), jun(1, 18, 0)),
			over("jo", jun(1, 18, 0), jun(1, 20, 0)),
			over("dave", jun(1, 20, 0), jun(2, 12, 0)),
			over("jo", jun(2, 12, 0), jun(2, 14, 0)),
			sched("bob", jun(2, 14, 0), jun(2, 18, 0)),
		}},
		{"override clipped by the range", primary, jun(1, 21, 0), jun(2, 10, 0), []Override{daveNight}, []OnCallShift{
			over("dave", jun(1, 21, 0), jun(2, 10, 0)),
		}},
		{"override ending at the range start", primary, jun(2, 12, 0), jun(2, 13, 0), []Override{daveNight}, []OnCallShift{
			sched("bob", jun(2, 12, 0), jun(2, 13, 0)),
		}},
		{"another rotation's and backwards overrides are ignored", primary, jun(1, 0, 0), jun(2, 0, 0), []Override{gusElsewhere, hanaBackwards}, []OnCallShift{
			sched("carol", jun(1, 0, 0), jun(1, 9, 0)),
			sched("alice", jun(1, 9, 0), jun(2, 0, 0)),
		}},
		{"before Start", primary, wall(berlin, 2026, 5, 30, 0, 0), jun(1, 12, 0), []Override{ivanBefore}, []OnCallShift{
			sched("alice", wall(berlin, 2026, 5, 30, 0, 0), wall(berlin, 2026, 5, 30, 9, 0)),
			sched("bob", wall(berlin, 2026, 5, 30, 9, 0), wall(berlin, 2026, 5, 31, 6, 0)),
			over("ivan", wall(berlin, 2026, 5, 31, 6, 0), jun(1, 9, 30)),
			sched("alice", jun(1, 9, 30), jun(1, 12, 0)),
		}},
		{"berlin spring change: 23-hour shift", berlinDaily, wall(berlin, 2026, 3, 28, 9, 0), wall(berlin, 2026, 3, 30, 9, 0), nil, []OnCallShift{
			{Rotation: "berlin", Person: "carol", Start: utc(2026, 3, 28, 8, 0), End: utc(2026, 3, 29, 7, 0)},
			{Rotation: "berlin", Person: "alice", Start: utc(2026, 3, 29, 7, 0), End: utc(2026, 3, 30, 7, 0)},
		}},
		{"berlin autumn change: 25-hour shift, override on the long night", berlinDaily, wall(berlin, 2026, 10, 24, 9, 0), wall(berlin, 2026, 10, 26, 9, 0),
			[]Override{{ID: 3, Rotation: "berlin", Person: "zoe", Start: utc(2026, 10, 24, 23, 0), End: utc(2026, 10, 25, 3, 0)}}, []OnCallShift{
				{Rotation: "berlin", Person: "carol", Start: utc(2026, 10, 24, 7, 0), End: utc(2026, 10, 24, 23, 0)},
				{Rotation: "berlin", Person: "zoe", Start: utc(2026, 10, 24, 23, 0), End: utc(2026, 10, 25, 3, 0), Override: true},
				{Rotation: "berlin", Person: "carol", Start: utc(2026, 10, 25, 3, 0), End: utc(2026, 10, 25, 8, 0)},
				{Rotation: "berlin", Person: "alice", Start: utc(2026, 10, 25, 8, 0), End: utc(2026, 10, 26, 8, 0)},
			}},
		{"new york: 23 and 25-hour shifts", nyDaily, wall(newYork, 2026, 3, 7, 9, 0), wall(newYork, 2026, 3, 9, 9, 0), nil, []OnCallShift{
			{Rotation: "ny", Person: "erin", Start: utc(2026, 3, 7, 14, 0), End: utc(2026, 3, 8, 13, 0)},
			{Rotation: "ny", Person: "dan", Start: utc(2026, 3, 8, 13, 0), End: utc(2026, 3, 9, 13, 0)},
		}},
		{"new york midnight: 1 November is 25 hours", nyMidnight, utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0), nil, []OnCallShift{
			{Rotation: "ny-midnight", Person: "dan", Start: utc(2026, 10, 31, 12, 0), End: utc(2026, 11, 1, 4, 0)},
			{Rotation: "ny-midnight", Person: "erin", Start: utc(2026, 11, 1, 4, 0), End: utc(2026, 11, 2, 5, 0)},
			{Rotation: "ny-midnight", Person: "dan", Start: utc(2026, 11, 2, 5, 0), End: utc(2026, 11, 2, 12, 0)},
		}},
		{"12h: equal in UTC across the change", ny12h, utc(2026, 3, 8, 1, 0), utc(2026, 3, 9, 13, 0), nil, []OnCallShift{
			{Rotation: "ny-12h", Person: "xavier", Start: utc(2026, 3, 8, 1, 0), End: utc(2026, 3, 8, 13, 0)},
			{Rotation: "ny-12h", Person: "yara", Start: utc(2026, 3, 8, 13, 0), End: utc(2026, 3, 9, 1, 0)},
			{Rotation: "ny-12h", Person: "xavier", Start: utc(2026, 3, 9, 1, 0), End: utc(2026, 3, 9, 13, 0)},
		}},
		{"weekly", berlinWeekly, wall(berlin, 2026, 3, 23, 10, 0), wall(berlin, 2026, 4, 6, 10, 0), nil, []OnCallShift{
			{Rotation: "weekly", Person: "alice", Start: utc(2026, 3, 23, 9, 0), End: utc(2026, 3, 30, 8, 0)},
			{Rotation: "weekly", Person: "bob", Start: utc(2026, 3, 30, 8, 0), End: utc(2026, 4, 6, 8, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rot.Shifts(tt.from, tt.to, tt.overrides)
			checkCover(t, got, tt.from, tt.to)
			if len(got) != len(tt.want) {
				t.Fatalf("Shifts = %d stretches, want %d:\n%s", len(got), len(tt.want), listShifts(got))
			}
			for i := range got {
				if !sameShift(got[i], tt.want[i]) {
					t.Errorf("stretch %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestShiftsEmptyRange(t *testing.T) {
	if got := primary.Shifts(jun(1, 0, 0), jun(1, 0, 0), nil); got != nil {
		t.Errorf("from == to: %+v, want nil", got)
	}
	if got := primary.Shifts(jun(2, 0, 0), jun(1, 0, 0), nil); got != nil {
		t.Errorf("to before from: %+v, want nil", got)
	}
}

func listShifts(ss []OnCallShift) string {
	var s string
	for _, x := range ss {
		s += fmt.Sprintf("  %s %v–%v override=%v\n", x.Person, x.Start, x.End, x.Override)
	}
	return s
}

// TestShiftsIsTheSchedule checks that without overrides Shifts returns
// exactly the scheduled shifts, clipped to the range, for a year of each
// rotation.
func TestShiftsIsTheSchedule(t *testing.T) {
	for _, r := range []Rotation{berlinDaily, nyDaily, nyMidnight, berlinWeekly, ny12h, primary} {
		t.Run(r.Name, func(t *testing.T) {
			from := utc(2026, 1, 1, 3, 17)
			to := from.AddDate(1, 0, 0)
			got := r.Shifts(from, to, nil)
			checkCover(t, got, from, to)
			for i, s := range got {
				want := r.Scheduled(s.Start)
				if i == 0 {
					want.Start = from
				}
				if i == len(got)-1 {
					want.End = to
				}
				if !sameShift(s, want) {
					t.Fatalf("stretch %d = %+v, want the schedule %+v", i, s, want)
				}
			}
		})
	}
}

// TestShiftsAgreeWithOnCall checks Shifts and OnCall against each other
// and against a brute-force winner under random overrides.
func TestShiftsAgreeWithOnCall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := wall(berlin, 2026, 3, 20, 0, 0) // across the spring change
	randTime := func() time.Time { return base.Add(time.Duration(rng.IntN(14*24*4)) * 15 * time.Minute) }
	for _, r := range []Rotation{berlinDaily, berlinWeekly} {
		for trial := range 200 {
			var ovs []Override
			for i := range rng.IntN(6) {
				a, b := randTime(), randTime()
				if b.Before(a) {
					a, b = b, a
				}
				rot := r.Name
				if rng.IntN(5) == 0 {
					rot = "other"
				}
				ovs = append(ovs, Override{ID: int64(rng.IntN(4)), Rotation: rot, Person: fmt.Sprintf("o%d", i), Start: a, End: b})
			}
			from, to := randTime(), randTime()
			if !to.After(from) {
				continue
			}
			got := r.Shifts(from, to, ovs)
			checkCover(t, got, from, to)
			for i, s := range got {
				for _, at := range []time.Time{s.Start, s.End.Add(-time.Nanosecond)} {
					oc := r.OnCall(at, ovs)
					if oc.Person != s.Person || oc.Override != s.Override {
						t.Fatalf("%s trial %d: stretch %d %+v but OnCall(%v) = %+v", r.Name, trial, i, s, at, oc)
					}
					if oc.Start.After(s.Start) || oc.End.Before(s.End) {
						t.Fatalf("%s trial %d: OnCall(%v) = %+v does not contain stretch %+v", r.Name, trial, at, oc, s)
					}
					if want := bruteForce(r, ovs, at); want != s.Person {
						t.Fatalf("%s trial %d: at %v Shifts says %s, brute force %s", r.Name, trial, at, s.Person, want)
					}
				}
				// A stretch ends only where something changes hands; the
				// next OnCall is the next stretch (unless clipped by to).
				if i+1 < len(got) {
					if next := r.OnCall(s.End, ovs); next.Person != got[i+1].Person || !next.Start.Equal(s.End) {
						t.Fatalf("%s trial %d: OnCall(End of %+v) = %+v, want %+v", r.Name, trial, s, next, got[i+1])
					}
				}
			}
		}
	}
}

// bruteForce is the definition of who is on call, spelled out.
func bruteForce(r Rotation, ovs []Override, at time.Time) string {
	var best *Override
	for i := range ovs {
		o := &ovs[i]
		if o.Rotation != r.Name || at.Before(o.Start) || !at.Before(o.End) {
			continue
		}
		if best == nil || o.Start.After(best.Start) || o.Start.Equal(best.Start) && o.ID >= best.ID {
			best = o
		}
	}
	if best != nil {
		return best.Person
	}
	k := 0
	for !r.HandoffAt(k).After(at) {
		k++
	}
	for r.HandoffAt(k).After(at) {
		k--
	}
	return r.Members[((k%len(r.Members))+len(r.Members))%len(r.Members)]
}

// TestFarFromStart covers instants centuries from Start, beyond what a
// time.Duration can hold.
func TestFarFromStart(t *testing.T) {
	for _, r := range []Rotation{ny12h, berlinDaily, {Name: "90m", Members: []string{"a", "b"}, Shift: Shift{Duration: 90 * time.Minute}, Start: utc(2026, 1, 1, 0, 0), TimeZone: time.UTC}} {
		for _, at := range []time.Time{utc(2526, 7, 1, 12, 0), utc(1600, 2, 29, 12, 0), utc(9999, 12, 31, 23, 59)} {
			k := r.ShiftIndex(at)
			if lo, hi := r.HandoffAt(k), r.HandoffAt(k+1); at.Before(lo) || !at.Before(hi) {
				t.Errorf("%s: ShiftIndex(%v) = %d, but that shift is [%v, %v)", r.Name, at, k, lo, hi)
			}
		}
	}
}

func BenchmarkShifts93Days(b *testing.B) {
	from := utc(2026, 3, 1, 0, 0)
	to := from.Add(93 * 24 * time.Hour)
	ovs := []Override{daveNight, erinInside, joLonger, gusElsewhere}
	for b.Loop() {
		primary.Shifts(from, to, ovs)
	}
}

func BenchmarkOnCall(b *testing.B) {
	ovs := []Override{daveNight, erinInside, joLonger, gusElsewhere}
	at := jun(1, 23, 0)
	for b.Loop() {
		primary.OnCall(at, ovs)
	}
}
