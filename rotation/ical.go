package rotation

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Calendar feeds: shifts as iCalendar (RFC 5545) text, for the calendar
// apps people already use.
//
// Every DTSTART and DTEND is written in UTC ("20261102T080000Z"), not as
// local time with a TZID: a UTC instant needs no VTIMEZONE component (which
// would have to spell out the zone's whole DST history), every calendar app
// reads it the same way, and the app shows it in its user's own zone. The
// rotation's handoff rule (09:00 Berlin, across DST) is already applied
// when the shifts are computed, so nothing is lost.
//
// A shift's UID is derived from the rotation, its start and its person, so
// fetching the feed again updates an event (say, an override shortened
// it) instead of adding a second copy; a shift that is gone from the feed
// is gone from the calendar at its next refresh. Events are TRANSPARENT:
// being on call does not make a person busy for meetings.

// iCalMaxLine is the longest content line in octets, CRLF excluded
// (RFC 5545 section 3.1).
const iCalMaxLine = 75

// WholeShifts is Shifts for a calendar: the stretches that overlap [from,
// to), but with the first and last not clipped to the range, so that an
// event's start, and so its UID, does not move as the range slides with
// the clock. overrides must include those overlapping the whole first and
// last shifts, not only the range.
func (r Rotation) WholeShifts(from, to time.Time, overrides []Override) []OnCallShift {
	out := r.Shifts(from, to, overrides)
	if len(out) == 0 {
		return nil
	}
	for _, i := range []int{0, len(out) - 1} {
		// OnCall reports the unclipped stretch around an instant; an
		// endless rotation has none (zero End) and stays clipped.
		if whole := r.OnCall(out[i].Start, overrides); !whole.End.IsZero() {
			out[i] = whole
		}
	}
	return out
}

// ICalendar returns shifts as an iCalendar object named name (what
// calendar apps show for the subscription), made at stamp. Each shift
// becomes one VEVENT; an override says so in its description.
func ICalendar(name string, stamp time.Time, shifts []OnCallShift) []byte {
	var b strings.Builder
	line := func(prop, value string) { writeICalLine(&b, prop+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//quietpager//on-call shifts//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("X-WR-CALNAME", iCalText(name))
	// RFC 7986's hint, and its older Microsoft spelling, for how often a
	// subscribed calendar should be fetched again.
	line("REFRESH-INTERVAL;VALUE=DURATION", "PT1H")
	line("X-PUBLISHED-TTL", "PT1H")
	for _, s := range shifts {
		line("BEGIN", "VEVENT")
		line("UID", shiftUID(s))
		line("DTSTAMP", iCalTime(stamp))
		line("DTSTART", iCalTime(s.Start))
		line("DTEND", iCalTime(s.End))
		line("SUMMARY", iCalText("On call: "+s.Rotation+" ("+s.Person+")"))
		desc := s.Person + " is on call for " + s.Rotation + " (scheduled shift)."
		if s.Override {
			desc = s.Person + " is on call for " + s.Rotation + " by an override, covering the schedule."
		}
		line("DESCRIPTION", iCalText(desc))
		line("TRANSP", "TRANSPARENT")
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	return []byte(b.String())
}

// shiftUID is a shift's iCalendar UID: the same for the same rotation,
// start and person on every fetch, and different otherwise.
func shiftUID(s OnCallShift) string {
	sum := sha256.Sum256([]byte(s.Rotation + "\x00" + s.Start.UTC().Format(time.RFC3339Nano) + "\x00" + s.Person))
	return hex.EncodeToString(sum[:16]) + "@quietpager"
}

// iCalTime is a DATE-TIME in UTC form, to the second.
func iCalTime(t time.Time) string {
	return t.UTC().Format("20060102T150405Z")
}

// iCalText escapes a TEXT value (RFC 5545 section 3.3.11): backslash,
// semicolon, comma and newline are escaped; other control characters,
// which TEXT may not hold, are dropped.
func iCalText(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, c := range s {
		switch {
		case c == '\\', c == ';', c == ',':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// writeICalLine writes one content line ending in CRLF, folded so that no
// physical line is longer than 75 octets: each continuation starts with a
// space, and a fold never splits a UTF-8 character.
func writeICalLine(b *strings.Builder, s string) {
	limit := iCalMaxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = iCalMaxLine - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
