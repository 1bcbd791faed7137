package rotation

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// icalEvent is one parsed VEVENT: property name (parameters dropped) to
// its value, TEXT unescaped.
type icalEvent map[string]string

// parseICal checks the physical form of an iCalendar object (CRLF line
// endings, lines of at most 75 octets, folds that keep UTF-8 whole),
// unfolds it, and returns the calendar's properties and its events.
func parseICal(t *testing.T, data []byte) (icalEvent, []icalEvent) {
	t.Helper()
	text := string(data)
	if !strings.HasSuffix(text, "\r\n") {
		t.Fatalf("calendar does not end in CRLF: %q", text[max(0, len(text)-20):])
	}
	physical := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	for i, l := range physical {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i, l)
		}
		if len(l) > 75 {
			t.Errorf("line %d has %d octets, more than 75: %q", i, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d splits a UTF-8 character: %q", i, l)
		}
	}
	// Unfold: a CRLF followed by one space joins two lines.
	lines := strings.Split(strings.ReplaceAll(strings.TrimSuffix(text, "\r\n"), "\r\n ", ""), "\r\n")
	if lines[0] != "BEGIN:VCALENDAR" || lines[len(lines)-1] != "END:VCALENDAR" {
		t.Fatalf("not one VCALENDAR: first %q, last %q", lines[0], lines[len(lines)-1])
	}
	cal := icalEvent{}
	var events []icalEvent
	var ev icalEvent
	for _, l := range lines[1 : len(lines)-1] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("content line without a colon: %q", l)
		}
		name, _, _ = strings.Cut(name, ";")
		switch {
		case l == "BEGIN:VEVENT":
			ev = icalEvent{}
		case l == "END:VEVENT":
			events = append(events, ev)
			ev = nil
		case ev != nil:
			ev[name] = unescapeICalText(t, value)
		default:
			cal[name] = unescapeICalText(t, value)
		}
	}
	return cal, events
}

func unescapeICalText(t *testing.T, v string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			if v[i] == ';' || v[i] == ',' {
				t.Errorf("unescaped %q in TEXT value %q", v[i], v)
			}
			b.WriteByte(v[i])
			continue
		}
		i++
		if i == len(v) {
			t.Fatalf("TEXT value ends in a backslash: %q", v)
		}
		switch v[i] {
		case '\\', ';', ',':
			b.WriteByte(v[i])
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			t.Fatalf("bad escape \\%c in %q", v[i], v)
		}
	}
	return b.String()
}

func TestICalendarCalendarProperties(t *testing.T) {
	cal, events := parseICal(t, ICalendar("quietpager: payments-primary", utc(2026, 11, 2, 10, 0), nil))
	want := map[string]string{"VERSION": "2.0", "PRODID": "-//quietpager//on-call shifts//EN", "CALSCALE": "GREGORIAN",
		"METHOD": "PUBLISH", "X-WR-CALNAME": "quietpager: payments-primary"}
	for k, v := range want {
		if cal[k] != v {
			t.Errorf("%s = %q, want %q", k, cal[k], v)
		}
	}
	if len(events) != 0 {
		t.Errorf("no shifts gave %d events", len(events))
	}
}

func TestICalendarFoldsLongUTF8Lines(t *testing.T) {
	// Multi-byte characters in every position, so that some fold falls
	// inside one if the writer counts characters or cuts blindly.
	long := strings.Repeat("Bereitschaft-Zahlungsverkehr-München-ü日本語🙂", 4)
	s := OnCallShift{Rotation: long, Person: "Zoë", Start: utc(2026, 11, 2, 8, 0), End: utc(2026, 11, 9, 8, 0)}
	data := ICalendar(long, utc(2026, 11, 2, 10, 0), []OnCallShift{s})
	if !strings.Contains(string(data), "\r\n ") {
		t.Fatalf("a %d-octet summary was not folded:\n%s", len(long), data)
	}
	cal, events := parseICal(t, data) // checks every physical line
	if cal["X-WR-CALNAME"] != long {
		t.Errorf("calendar name after unfolding = %q, want %q", cal["X-WR-CALNAME"], long)
	}
	if got, want := events[0]["SUMMARY"], "On call: "+long+" (Zoë)"; got != want {
		t.Errorf("summary after unfolding = %q, want %q", got, want)
	}
}

func TestICalendarEscapesText(t *testing.T) {
	s := OnCallShift{Rotation: `db, eu; "main" \ 1`, Person: "ann\nbea\r\nx\x01y", Start: utc(2026, 11, 2, 8, 0), End: utc(2026, 11, 3, 8, 0)}
	data := string(ICalendar("a;b,c", utc(2026, 11, 2, 10, 0), []OnCallShift{s}))
	for _, raw := range []string{`X-WR-CALNAME:a\;b\,c`, `SUMMARY:On call: db\, eu\; "main" \\ 1 (ann\nbea\nxy)`} {
		if !strings.Contains(data, raw+"\r\n") {
			t.Errorf("calendar lacks the escaped line %q:\n%s", raw, data)
		}
	}
	_, events := parseICal(t, []byte(data))
	if got, want := events[0]["SUMMARY"], "On call: db, eu; \"main\" \\ 1 (ann\nbea\nxy)"; got != want {
		t.Errorf("summary unescapes to %q, want %q", got, want)
	}
}

func TestICalendarEventsAndStableUIDs(t *testing.T) {
	shifts := []OnCallShift{
		{Rotation: "payments-primary", Person: "alice", Start: wall(berlin, 2026, 11, 2, 9, 0), End: wall(berlin, 2026, 11, 9, 9, 0)},
		{Rotation: "payments-primary", Person: "bob", Start: wall(berlin, 2026, 11, 9, 9, 0), End: wall(berlin, 2026, 11, 16, 9, 0)},
		{Rotation: "payments-secondary", Person: "alice", Start: wall(berlin, 2026, 11, 2, 9, 0), End: wall(berlin, 2026, 11, 3, 9, 0)},
	}
	_, first := parseICal(t, ICalendar("x", utc(2026, 11, 2, 10, 0), shifts))
	// Fetched an hour later, and the first shift cut short by an override:
	// the event keeps its UID, so calendar apps update it.
	later := append([]OnCallShift(nil), shifts...)
	later[0].End = wall(berlin, 2026, 11, 5, 9, 0)
	_, second := parseICal(t, ICalendar("x", utc(2026, 11, 2, 11, 0), later))

	if len(first) != 3 || len(second) != 3 {
		t.Fatalf("events: %d and %d, want 3", len(first), len(second))
	}
	seen := map[string]bool{}
	for i, e := range first {
		if e["UID"] == "" || seen[e["UID"]] {
			t.Errorf("event %d: UID %q missing or repeated", i, e["UID"])
		}
		seen[e["UID"]] = true
		if second[i]["UID"] != e["UID"] {
			t.Errorf("event %d: UID changed between fetches: %q then %q", i, e["UID"], second[i]["UID"])
		}
	}
	if first[0]["DTSTAMP"] != "20261102T100000Z" || second[0]["DTSTAMP"] != "20261102T110000Z" {
		t.Errorf("DTSTAMP %q, %q: want the time of each fetch", first[0]["DTSTAMP"], second[0]["DTSTAMP"])
	}
	e := first[0]
	want := icalEvent{"DTSTART": "20261102T080000Z", "DTEND": "20261109T080000Z",
		"SUMMARY": "On call: payments-primary (alice)", "TRANSP": "TRANSPARENT"}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	if second[0]["DTEND"] != "20261105T080000Z" {
		t.Errorf("shortened shift's DTEND = %q", second[0]["DTEND"])
	}
	if strings.Contains(e["DESCRIPTION"], "override") {
		t.Errorf("a scheduled shift's description mentions an override: %q", e["DESCRIPTION"])
	}
}

func TestICalendarOverrideShowsCoveringPerson(t *testing.T) {
	r := Rotation{Name: "payments-secondary", Members: []string{"alice", "bob"}, Shift: Shift{Days: 1},
		Start: wall(berlin, 2026, 11, 2, 9, 0), TimeZone: berlin}
	// Alice's shift of 4 November, 09:00 to 09:00; bob covers 12:00 to 18:00.
	ov := Override{ID: 1, Rotation: r.Name, Person: "bob", Start: wall(berlin, 2026, 11, 4, 12, 0), End: wall(berlin, 2026, 11, 4, 18, 0)}
	shifts := r.WholeShifts(wall(berlin, 2026, 11, 4, 10, 0), wall(berlin, 2026, 11, 5, 0, 0), []Override{ov})
	_, events := parseICal(t, ICalendar("x", utc(2026, 11, 4, 10, 0), shifts))

	type ev struct{ start, end, summary string }
	want := []ev{
		{"20261104T080000Z", "20261104T110000Z", "On call: payments-secondary (alice)"},
		{"20261104T110000Z", "20261104T170000Z", "On call: payments-secondary (bob)"},
		{"20261104T170000Z", "20261105T080000Z", "On call: payments-secondary (alice)"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if got := (ev{e["DTSTART"], e["DTEND"], e["SUMMARY"]}); got != w {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}
	if d := events[1]["DESCRIPTION"]; !strings.Contains(d, "bob") || !strings.Contains(d, "override") {
		t.Errorf("the override's description = %q, want it to name bob and the override", d)
	}
}

func TestWholeShiftsAreNotClippedToTheRange(t *testing.T) {
	r := Rotation{Name: "weekly", Members: []string{"alice", "bob"}, Shift: Shift{Days: 7},
		Start: wall(berlin, 2026, 11, 2, 9, 0), TimeZone: berlin}
	// Bob covers the first day of alice's week; the range starts and ends
	// mid-shift.
	ov := Override{ID: 1, Rotation: r.Name, Person: "bob", Start: wall(berlin, 2026, 11, 2, 9, 0), End: wall(berlin, 2026, 11, 3, 9, 0)}
	for _, from := range []time.Time{wall(berlin, 2026, 11, 4, 0, 0), wall(berlin, 2026, 11, 5, 13, 0)} {
		got := r.WholeShifts(from, wall(berlin, 2026, 11, 10, 0, 0), []Override{ov})
		want := []OnCallShift{
			{Rotation: "weekly", Person: "alice", Start: wall(berlin, 2026, 11, 3, 9, 0), End: wall(berlin, 2026, 11, 9, 9, 0)},
			{Rotation: "weekly", Person: "bob", Start: wall(berlin, 2026, 11, 9, 9, 0), End: wall(berlin, 2026, 11, 16, 9, 0)},
		}
		if len(got) != len(want) {
			t.Fatalf("from %s: %v, want %v", from, got, want)
		}
		for i := range want {
			if got[i].Person != want[i].Person || !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) {
				t.Errorf("from %s: shift %d = %v, want %v", from, i, got[i], want[i])
			}
		}
	}
	if got := r.WholeShifts(wall(berlin, 2026, 11, 4, 0, 0), wall(berlin, 2026, 11, 4, 0, 0), nil); got != nil {
		t.Errorf("an empty range gave %v", got)
	}
}

func TestICalendarAcrossDaylightSavingTime(t *testing.T) {
	// A daily 09:00 Berlin rotation: 08:00 UTC in winter, 07:00 UTC in
	// summer. The shift that contains the spring-forward night (29 March
	// 2026) lasts 23 hours, the one with the fall-back night (25 October
	// 2026) 25 hours.
	r := Rotation{Name: "daily", Members: []string{"alice", "bob"}, Shift: Shift{Days: 1},
		Start: wall(berlin, 2026, 1, 5, 9, 0), TimeZone: berlin}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     [][2]string // DTSTART, DTEND
	}{
		{"spring forward", wall(berlin, 2026, 3, 28, 9, 0), wall(berlin, 2026, 3, 30, 9, 0), [][2]string{
			{"20260328T080000Z", "20260329T070000Z"},
			{"20260329T070000Z", "20260330T070000Z"},
		}},
		{"fall back", wall(berlin, 2026, 10, 24, 9, 0), wall(berlin, 2026, 10, 26, 9, 0), [][2]string{
			{"20261024T070000Z", "20261025T080000Z"},
			{"20261025T080000Z", "20261026T080000Z"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, events := parseICal(t, ICalendar("x", tc.from, r.WholeShifts(tc.from, tc.to, nil)))
			if len(events) != len(tc.want) {
				t.Fatalf("%d events, want %d: %v", len(events), len(tc.want), events)
			}
			for i, w := range tc.want {
				if got := [2]string{events[i]["DTSTART"], events[i]["DTEND"]}; got != w {
					t.Errorf("event %d runs %v, want %v", i, got, w)
				}
			}
		})
	}
}
