package reports

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/quietpager/quietpager"
)

// Week is an ISO 8601 week: weeks start on Monday, and week 1 is the one
// that holds the year's first Thursday.
type Week struct {
	Year int
	Num  int
}

var weekPattern = regexp.MustCompile(`^(\d{4})-?W(\d{2})$`)

// ParseWeek reads "2026-W47" (or "2026W47").
func ParseWeek(s string) (Week, error) {
	m := weekPattern.FindStringSubmatch(s)
	if m == nil {
		return Week{}, quietpager.Errorf(quietpager.Invalid, "week must look like 2026-W47, not %q", s)
	}
	y, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	w := Week{y, n}
	if n < 1 || w.Start(time.UTC).AddDate(0, 0, 3).Year() != y {
		return Week{}, quietpager.Errorf(quietpager.Invalid, "%d has no ISO week %d", y, n)
	}
	return w, nil
}

// WeekOf returns the ISO week t falls in, by the calendar in loc.
func WeekOf(t time.Time, loc *time.Location) Week {
	y, n := t.In(zoneOrUTC(loc)).ISOWeek()
	return Week{y, n}
}

func (w Week) String() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Num) }

// MarshalText writes the week as "2026-W47".
func (w Week) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads "2026-W47".
func (w *Week) UnmarshalText(b []byte) error {
	v, err := ParseWeek(string(b))
	*w = v
	return err
}

// Start is Monday 00:00 of the week in loc. Days are counted on the
// calendar, so a week holding a DST change is 167 or 169 hours long.
func (w Week) Start(loc *time.Location) time.Time {
	loc = zoneOrUTC(loc)
	// 4 January is always in week 1.
	jan4 := time.Date(w.Year, time.January, 4, 0, 0, 0, 0, loc)
	monday := 4 - (int(jan4.Weekday())+6)%7 // day of January of week 1's Monday
	return time.Date(w.Year, time.January, monday+7*(w.Num-1), 0, 0, 0, 0, loc)
}

// End is the next week's Start.
func (w Week) End(loc *time.Location) time.Time { return w.Next().Start(loc) }

// Next is the week after w.
func (w Week) Next() Week { return w.add(1) }

// Prev is the week before w.
func (w Week) Prev() Week { return w.add(-1) }

func (w Week) add(n int) Week {
	return WeekOf(w.Start(time.UTC).AddDate(0, 0, 7*n+3), time.UTC)
}

func zoneOrUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
