package rotation

import "time"

// Band is the interruption class of an instant for one person: when a page
// lands decides what it costs them. The definitions are PagerDuty's, so
// figures compare with theirs.
type Band string

const (
	// Business is Monday to Friday, 08:00 to 18:00 local time.
	Business Band = "business"
	// Off is Monday to Friday 18:00 to 22:00, and all of Saturday and
	// Sunday outside sleep hours.
	Off Band = "off"
	// Sleep is 22:00 to 08:00 local time, every day.
	Sleep Band = "sleep"
)

// Business hours, by the local clock; sleep starts at sleepHour.
const (
	businessStartHour = 8
	businessEndHour   = 18
	sleepHour         = 22
)

// Classify returns the band t falls in for a person in loc, by the wall
// clock there: the same instant can be business hours in Berlin and sleep
// hours in Los Angeles. A nil loc means UTC.
func Classify(t time.Time, loc *time.Location) Band {
	lt := t.In(orUTC(loc))
	h := lt.Hour()
	switch {
	case h >= sleepHour || h < businessStartHour:
		return Sleep
	case !workday(lt.Weekday()) || h >= businessEndHour:
		return Off
	default:
		return Business
	}
}

// NextBusinessStart returns t itself when t is in business hours in loc,
// and otherwise the next Monday-to-Friday 08:00 there: a business-hours
// page held on Friday evening goes out on Monday at 08:00. Days are
// counted on the calendar, not in 24-hour steps, so the result is 08:00
// local across a DST change. A nil loc means UTC.
func NextBusinessStart(t time.Time, loc *time.Location) time.Time {
	loc = orUTC(loc)
	if Classify(t, loc) == Business {
		return t
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	if lt.Hour() >= businessStartHour {
		d++ // today's business hours have passed (or there are none)
	}
	for {
		// 08:00 is never skipped by a real DST change, but localWall keeps
		// the answer defined (and after t) if a zone ever did so.
		next := localWall(y, m, d, businessStartHour, 0, 0, 0, loc)
		if workday(next.Weekday()) && next.After(t) {
			return next
		}
		d++
	}
}

func workday(d time.Weekday) bool {
	return d != time.Saturday && d != time.Sunday
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
