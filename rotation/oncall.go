package rotation

import (
	"math"
	"slices"
	"time"
)

// Theory of operation: handoffs and daylight saving time.
//
// A rotation's shifts are numbered: shift 0 starts at Start, shift k at
// HandoffAt(k), and k may be negative for the time before Start (the
// rotation has always been running; Start only fixes its phase). Shift k
// belongs to Members[k mod n].
//
// A rotation measured in Shift.Days hands off at the same local wall time
// as Start, k*Days calendar days later, in the rotation's TimeZone. A
// daily 09:00 rotation in New York therefore hands off at 09:00 EST and
// then 09:00 EDT: the shift that contains the spring-forward change is
// 23 hours long and the one that contains the fall-back change 25 hours.
// People think in wall time ("my week starts Monday 09:00"), so that is
// what the schedule keeps; a Shift.Duration rotation is for the rare team
// that wants exact, equal lengths and accepts the wall time drifting.
//
// Two wall times need a rule. A time that does not exist (02:30 on a
// spring-forward night) and a time that happens twice (01:30 on a
// fall-back night) are both read with the UTC offset in effect before the
// change, as RFC 5545 (iCalendar) and java.time do: 02:30 becomes 03:30
// the new time, and 01:30 means the first 01:30. time.Date does not
// promise a choice here and in practice picks differently east and west
// of Greenwich (02:30 in Berlin becomes 03:30, in New York 01:30), so
// localWall resolves these cases itself. Handoffs stay in order because
// shifts are whole days and a gap is shorter than a day; in the one
// historic exception, Samoa skipping 30 December 2011, two handoffs fall on
// the same instant and the shift between them is empty, which ShiftIndex
// and Shifts skip.
//
// ShiftIndex inverts HandoffAt without stepping shift by shift: it guesses
// k from the number of calendar days (or the elapsed time) since Start and
// corrects the guess by the at most one or two shifts a DST change can put
// it off, so it is exact and fast for any instant.

// HandoffAt returns the start of shift k, where shift 0 starts at Start and
// k may be negative. A Shift.Days rotation hands off k*Days calendar days
// after Start at Start's local wall time in TimeZone (see the theory of
// operation above for DST); a Shift.Duration rotation hands off exactly
// k*Duration after Start. The result is in the rotation's zone. A rotation
// without a positive shift length never hands off: HandoffAt returns Start
// for every k.
func (r Rotation) HandoffAt(k int) time.Time {
	loc := r.zone()
	start := r.Start.In(loc)
	switch {
	case k == 0:
		return start
	case r.Shift.Days > 0:
		y, m, d := start.Date()
		return localWall(y, m, d+k*r.Shift.Days, start.Hour(), start.Minute(), start.Second(), start.Nanosecond(), loc)
	case r.Shift.Duration > 0:
		return addTimes(start, int64(k), r.Shift.Duration)
	default:
		return start
	}
}

// ShiftIndex returns the number k of the shift that t falls in: the k with
// HandoffAt(k) <= t < HandoffAt(k+1). An instant exactly at a handoff
// belongs to the new shift. It returns 0 for a rotation without a positive
// shift length.
func (r Rotation) ShiftIndex(t time.Time) int {
	var k int
	switch {
	case r.Shift.Days > 0:
		loc := r.zone()
		days := civilDay(t.In(loc)) - civilDay(r.Start.In(loc))
		k = int(floorDiv(days, int64(r.Shift.Days)))
	case r.Shift.Duration > 0:
		d := t.Sub(r.Start)
		if d > math.MinInt64 && d < math.MaxInt64 {
			k = int(floorDiv(int64(d), int64(r.Shift.Duration)))
		} else {
			// Sub saturates about 292 years out; guess from seconds.
			secs := float64(t.Unix() - r.Start.Unix())
			k = int(math.Floor(secs / r.Shift.Duration.Seconds()))
		}
	default:
		return 0
	}
	for r.HandoffAt(k).After(t) {
		k--
	}
	for !t.Before(r.HandoffAt(k + 1)) {
		k++
	}
	return k
}

// Scheduled returns the rotation's own shift around t, ignoring overrides:
// Members[k mod n] for shift k = ShiftIndex(t), counting backwards for
// shifts before Start, from HandoffAt(k) to HandoffAt(k+1). Person is ""
// when the rotation has no members. A rotation without a positive shift
// length is one endless shift of its first member, reported with zero
// Start and End.
func (r Rotation) Scheduled(t time.Time) OnCallShift {
	if !r.hands() {
		return OnCallShift{Rotation: r.Name, Person: r.member(0)}
	}
	k := r.ShiftIndex(t)
	return OnCallShift{
		Rotation: r.Name,
		Person:   r.member(k),
		Start:    r.HandoffAt(k),
		End:      r.HandoffAt(k + 1),
	}
}

// OnCall returns who is on call for the rotation at t. An override of this
// rotation (Override.Rotation == r.Name) that covers t, Start <= t < End,
// wins over the schedule; when several do, the one with the latest Start,
// then the highest ID, then the last in the slice wins, so a later, more
// specific override cuts into a broader one. Overrides of other rotations
// and overrides that end before they start are ignored.
//
// Start and End are the stretch during which that person is on call from
// the same source around t: an override's own bounds, or a scheduled shift,
// each clipped where a winning override cuts into it. OnCall(End) is
// therefore who comes next. Times are in the rotation's zone.
func (r Rotation) OnCall(t time.Time, overrides []Override) OnCallShift {
	ovs := r.ownOverrides(overrides)
	var from, to time.Time
	if i := winner(ovs, t); i >= 0 {
		from, to = ovs[i].Start, ovs[i].End
	} else {
		if !r.hands() {
			// An endless shift has no bounds to report; see Scheduled.
			return r.Scheduled(t)
		}
		k := r.ShiftIndex(t)
		from, to = r.HandoffAt(k), r.HandoffAt(k+1)
	}
	for _, s := range r.timeline(from, to, ovs) {
		if !t.Before(s.Start) && t.Before(s.End) {
			return s
		}
	}
	// Unreachable: the timeline covers [from, to), which contains t.
	return r.Scheduled(t)
}

// Shifts returns who is on call for the rotation from `from` to `to`: the
// stretches, in order, that cover [from, to) exactly and without gaps,
// the first and last clipped to it. Overrides of this rotation are applied
// as in OnCall by splitting the scheduled shifts they cut into, so an
// override across a handoff shortens both shifts. Each stretch is one
// person from one source (one scheduled shift or one override); two
// adjacent stretches may name the same person. Times are in the
// rotation's zone. Shifts returns nil when to is not after from.
func (r Rotation) Shifts(from, to time.Time, overrides []Override) []OnCallShift {
	if !to.After(from) {
		return nil
	}
	return r.timeline(from, to, r.ownOverrides(overrides))
}

// timeline computes Shifts over [from, to) with ovs already filtered to
// this rotation. Every handoff and every override start and end inside the
// range is a boundary; between two boundaries the winner cannot change, so
// it is decided once per piece and equal neighbours are merged.
func (r Rotation) timeline(from, to time.Time, ovs []Override) []OnCallShift {
	loc := r.zone()
	bounds := []time.Time{from, to}
	if r.hands() {
		for k := r.ShiftIndex(from) + 1; ; k++ {
			h := r.HandoffAt(k)
			if !h.Before(to) {
				break
			}
			bounds = append(bounds, h)
		}
	}
	for _, o := range ovs {
		for _, b := range []time.Time{o.Start, o.End} {
			if b.After(from) && b.Before(to) {
				bounds = append(bounds, b)
			}
		}
	}
	slices.SortFunc(bounds, func(a, b time.Time) int { return a.Compare(b) })
	bounds = slices.CompactFunc(bounds, func(a, b time.Time) bool { return a.Equal(b) })

	type source struct {
		override int // index in ovs, or -1 for the schedule
		shift    int // shift number when override is -1
	}
	var out []OnCallShift
	var last source
	for i := 0; i+1 < len(bounds); i++ {
		at, end := bounds[i], bounds[i+1]
		var src source
		var s OnCallShift
		if w := winner(ovs, at); w >= 0 {
			src = source{override: w}
			s = OnCallShift{Rotation: r.Name, Person: ovs[w].Person, Override: true}
		} else {
			k := 0
			if r.hands() {
				k = r.ShiftIndex(at)
			}
			src = source{override: -1, shift: k}
			s = OnCallShift{Rotation: r.Name, Person: r.member(k)}
		}
		if len(out) > 0 && src == last {
			out[len(out)-1].End = end.In(loc)
			continue
		}
		s.Start, s.End = at.In(loc), end.In(loc)
		out = append(out, s)
		last = src
	}
	return out
}

// ownOverrides returns the overrides that apply to this rotation.
func (r Rotation) ownOverrides(overrides []Override) []Override {
	var own []Override
	for _, o := range overrides {
		if o.Rotation == r.Name && o.End.After(o.Start) {
			own = append(own, o)
		}
	}
	return own
}

// winner returns the index of the override that decides who is on call at
// t, or -1 when none covers t.
func winner(ovs []Override, t time.Time) int {
	best := -1
	for i, o := range ovs {
		if t.Before(o.Start) || !t.Before(o.End) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := ovs[best]
		if c := o.Start.Compare(b.Start); c > 0 || c == 0 && o.ID >= b.ID {
			best = i
		}
	}
	return best
}

// member returns the person for shift k, counting backwards from the end of
// Members for negative k.
func (r Rotation) member(k int) string {
	n := len(r.Members)
	if n == 0 {
		return ""
	}
	return r.Members[((k%n)+n)%n]
}

// hands reports whether the rotation has a shift length and so hands off.
func (r Rotation) hands() bool {
	return r.Shift.Days > 0 || r.Shift.Duration > 0
}

// zone is the rotation's time zone, or Start's when none is set.
func (r Rotation) zone() *time.Location {
	if r.TimeZone != nil {
		return r.TimeZone
	}
	return r.Start.Location()
}

// localWall returns the instant at which clocks in loc show the given wall
// time, normalising out-of-range fields as time.Date does. A wall time that
// does not exist (skipped by a DST change) or exists twice (repeated by
// one) is read with the UTC offset in effect before the change.
func localWall(year int, month time.Month, day, hour, minute, sec, nsec int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, hour, minute, sec, nsec, loc)
	want := time.Date(year, month, day, hour, minute, sec, nsec, time.UTC)
	_, off := t.Zone()
	switch got := wallAsUTC(t); {
	case got.Equal(want):
		// It exists. If it also exists in the previous zone period (a
		// repeated hour), that earlier reading wins.
		start, _ := t.ZoneBounds()
		if start.IsZero() {
			return t
		}
		_, prev := start.Add(-time.Nanosecond).Zone()
		if prev == off {
			return t
		}
		if u := want.Add(-time.Duration(prev) * time.Second).In(loc); u.Before(start) && wallAsUTC(u).Equal(want) {
			return u
		}
		return t
	case got.Before(want):
		// Skipped, and time.Date read it with the offset before the change
		// (west of Greenwich): keep that offset, landing after the gap.
		return want.Add(-time.Duration(off) * time.Second).In(loc)
	default:
		// Skipped, and time.Date read it with the offset after the change
		// (east of Greenwich): use the one before it instead.
		start, _ := t.ZoneBounds()
		if start.IsZero() {
			return t
		}
		_, prev := start.Add(-time.Nanosecond).Zone()
		return want.Add(-time.Duration(prev) * time.Second).In(loc)
	}
}

// wallAsUTC returns t's wall clock reading as if it were UTC, so that wall
// times can be compared and subtracted.
func wallAsUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// civilDay numbers t's local calendar date: days since 1970-01-01.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// addTimes returns t + k*d without overflowing time.Duration, which holds
// only about 292 years.
func addTimes(t time.Time, k int64, d time.Duration) time.Time {
	sec, nsec := int64(d/time.Second), int64(d%time.Second)
	return time.Unix(t.Unix()+k*sec, int64(t.Nanosecond())+k*nsec).In(t.Location())
}

// floorDiv is a/b rounded towards negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
