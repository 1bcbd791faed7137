package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quietpager/quietpager/rotation"
)

// ShiftCeiling is the Google SRE book's ceiling: at most two incidents per
// 12-hour on-call shift, or there is no time to handle each one well.
const ShiftCeiling = 2

// shiftLength is the shift the ceiling is stated for.
const shiftLength = 12 * time.Hour

// trendWeeks is how many previous weeks the week-over-week change compares
// with.
const trendWeeks = 4

// weeklyNoise is how many of the week's noisiest rules a report lists.
const weeklyNoise = 5

// Bands counts interruptions by when they landed.
type Bands struct {
	Business int `json:"business"`
	Off      int `json:"off"`
	Sleep    int `json:"sleep"`
	Total    int `json:"total"`
}

func (b *Bands) add(band rotation.Band) {
	switch band {
	case rotation.Business:
		b.Business++
	case rotation.Off:
		b.Off++
	case rotation.Sleep:
		b.Sleep++
	}
	b.Total++
}

// Stat is the count, mean and 90th percentile (nearest rank) of some
// durations.
type Stat struct {
	Count int
	Mean  time.Duration
	P90   time.Duration
}

// MarshalJSON writes seconds.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"count": s.Count, "mean_seconds": s.Mean.Seconds(), "p90_seconds": s.P90.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var v struct {
		Count int     `json:"count"`
		Mean  float64 `json:"mean_seconds"`
		P90   float64 `json:"p90_seconds"`
	}
	err := json.Unmarshal(b, &v)
	*s = Stat{Count: v.Count, Mean: seconds(v.Mean), P90: seconds(v.P90)}
	return err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func stat(ds []time.Duration) Stat {
	if len(ds) == 0 {
		return Stat{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Stat{Count: len(ds), Mean: sum / time.Duration(len(ds)), P90: nearestRank(ds, 0.9)}
}

// nearestRank is the q-quantile of sorted values: the smallest value with
// at least q of them at or below it.
func nearestRank[T any](sorted []T, q float64) T {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Hours is a duration that JSON writes as hours.
type Hours time.Duration

// MarshalJSON writes hours.
func (h Hours) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(h).Hours()) }

// UnmarshalJSON reads hours.
func (h *Hours) UnmarshalJSON(b []byte) error {
	var v float64
	err := json.Unmarshal(b, &v)
	*h = Hours(seconds(v * 3600))
	return err
}

// ShiftLoad compares incidents with the ceiling of two per 12-hour shift.
// The team's week is cut into 12-hour shifts starting at 00:00 and 12:00
// in the team's zone.
type ShiftLoad struct {
	PerShift    float64 `json:"per_shift"`    // incidents per shift, on average
	Max         int     `json:"max"`          // in the busiest shift
	OverCeiling int     `json:"over_ceiling"` // shifts with more than ShiftCeiling
	Ceiling     int     `json:"ceiling"`
}

// Figures are a team's figures for one week.
type Figures struct {
	Pages                int       `json:"pages"`
	Incidents            int       `json:"incidents"`
	Interruptions        Bands     `json:"interruptions"`
	InterruptedNights    int       `json:"interrupted_nights"`
	LongestNightRun      int       `json:"longest_night_run"`
	WeekendInterruptions int       `json:"weekend_interruptions"`
	OnCall               Hours     `json:"on_call_hours"`
	TimeToAck            Stat      `json:"time_to_ack"`
	TimeToResolve        Stat      `json:"time_to_resolve"`
	Escalations          int       `json:"escalations"`
	Shifts               ShiftLoad `json:"shifts"`
}

// Risk is a burnout risk level with the reason in words.
type Risk struct {
	Level  string `json:"level"` // low, elevated or high
	Reason string `json:"reason"`
}

// Burnout risk levels.
const (
	RiskLow      = "low"
	RiskElevated = "elevated"
	RiskHigh     = "high"
)

// PersonFigures are one person's figures for the team's week, with bands,
// nights and weekends read in the person's own zone.
type PersonFigures struct {
	Person               string  `json:"person"`
	TimeZone             string  `json:"time_zone"`
	Interruptions        Bands   `json:"interruptions"`
	Incidents            int     `json:"incidents"` // incidents that interrupted them
	InterruptedNights    int     `json:"interrupted_nights"`
	LongestNightRun      int     `json:"longest_night_run"`
	WeekendInterruptions int     `json:"weekend_interruptions"`
	OnCall               Hours   `json:"on_call_hours"`
	IncidentsPerShift    float64 `json:"incidents_per_shift"` // per 12 hours on call
	InterruptionShare    float64 `json:"interruption_share"`  // of the team's interruptions
	OnCallShare          float64 `json:"on_call_share"`       // of the team's time on call
	Risk                 Risk    `json:"risk"`
}

// Change is one figure this week against the mean of the previous weeks.
type Change struct {
	Figure   string   `json:"figure"`
	This     int      `json:"this"`
	PrevMean float64  `json:"previous_mean"`
	Percent  *float64 `json:"percent"` // nil when the previous weeks had none
}

// Weekly is a team's weekly report.
type Weekly struct {
	Team     string    `json:"team"`
	Week     Week      `json:"week"`
	TimeZone string    `json:"time_zone"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Figures  Figures   `json:"figures"`
	// Days are the week's interruptions by day (in the team's zone) and
	// band (in each person's zone), Monday first: the e-mail's chart.
	Days   []Day           `json:"days"`
	People []PersonFigures `json:"people"`
	// Trend compares this week with the mean of the TrendWeeks before.
	TrendWeeks []Week      `json:"trend_weeks"`
	Trend      []Change    `json:"trend"`
	Noise      []RuleNoise `json:"noise"` // the week's noisiest rules, with fixes
}

// Day is one day's interruptions.
type Day struct {
	Date          string `json:"date"` // 2026-11-16
	Interruptions Bands  `json:"interruptions"`
}

// dayBands counts h's interruptions over the days of [from, to) in loc.
func dayBands(h History, from, to time.Time, loc *time.Location) []Day {
	first := civilOf(from.In(loc))
	out := make([]Day, days(from, to, loc))
	for i := range out {
		out[i].Date = from.In(loc).AddDate(0, 0, i).Format(time.DateOnly)
	}
	for _, x := range h.Interruptions {
		if i := int(civilOf(x.At.In(loc)) - first); !x.At.Before(from) && x.At.Before(to) && i < len(out) {
			out[i].Interruptions.add(x.Band)
		}
	}
	return out
}

// Weekly computes team's report for week, in the team's zone.
func (s *Service) Weekly(ctx context.Context, team string, week Week) (Weekly, error) {
	st, err := s.setting(ctx, team)
	if err != nil {
		return Weekly{}, err
	}
	loc := zoneOrUTC(st.team.TimeZone)
	from, to := week.Start(loc), week.End(loc)
	first := week
	for range trendWeeks {
		first = first.Prev()
	}
	h, err := s.o.History.History(ctx, Query{Team: team, From: from, To: to, Episodes: true})
	if err != nil {
		return Weekly{}, err
	}
	earlier, err := s.o.History.History(ctx, Query{Team: team, From: first.Start(loc), To: from})
	if err != nil {
		return Weekly{}, err
	}
	w := Weekly{Team: team, Week: week, TimeZone: loc.String(), From: from, To: to}
	shifts, err := s.onCall(ctx, st, from, to)
	if err != nil {
		return Weekly{}, err
	}
	w.Figures, w.People = st.figures(h, from, to, shifts)
	w.Days = dayBands(h, from, to, loc)

	var prev [trendWeeks]Figures
	for i, wk := 0, week.Prev(); i < trendWeeks; i, wk = i+1, wk.Prev() {
		w.TrendWeeks = append([]Week{wk}, w.TrendWeeks...)
		prev[i], _ = st.figures(earlier, wk.Start(loc), wk.End(loc), nil)
	}
	w.Trend = trend(w.Figures, prev[:])

	w.Noise = s.rank(st, h, weeklyNoise)
	return w, nil
}

// onCall returns the shifts of the team's rotations over [from, to).
func (s *Service) onCall(ctx context.Context, st setting, from, to time.Time) ([]rotation.OnCallShift, error) {
	var out []rotation.OnCallShift
	for _, r := range st.cfg.Rotations {
		if r.Team != st.team.Name {
			continue
		}
		ovs, err := s.o.OnCall.Overrides(ctx, r.Name, from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Shifts(from, to, ovs)...)
	}
	return out, nil
}

// figures computes the team's and each person's figures over [from, to).
func (st setting) figures(h History, from, to time.Time, shifts []rotation.OnCallShift) (Figures, []PersonFigures) {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	var f Figures
	teamLoc := zoneOrUTC(st.team.TimeZone)

	for _, p := range h.Pages {
		if in(p.At) {
			f.Pages++
		}
	}
	var acks, resolves []time.Duration
	perShift := map[int64]int{} // shift number (12-hour blocks since the epoch, local) → incidents
	for _, inc := range h.Incidents {
		if !in(inc.Opened) {
			continue
		}
		f.Incidents++
		if !inc.Acknowledged.IsZero() {
			acks = append(acks, inc.Acknowledged.Sub(inc.Opened))
		}
		if !inc.Resolved.IsZero() {
			resolves = append(resolves, inc.Resolved.Sub(inc.Opened))
		}
		perShift[halfDay(inc.Opened, teamLoc)]++
	}
	f.TimeToAck, f.TimeToResolve = stat(acks), stat(resolves)
	f.Shifts = ShiftLoad{Ceiling: ShiftCeiling, PerShift: float64(f.Incidents) / float64(2*days(from, to, teamLoc))}
	for _, n := range perShift {
		f.Shifts.Max = max(f.Shifts.Max, n)
		if n > ShiftCeiling {
			f.Shifts.OverCeiling++
		}
	}

	people := map[string]*personTally{}
	tally := func(name string) *personTally {
		if people[name] == nil {
			people[name] = &personTally{PersonFigures: PersonFigures{Person: name, TimeZone: st.zone(name).String()},
				nights: map[civil]bool{}, incidents: map[int64]bool{}}
		}
		return people[name]
	}
	for _, name := range st.team.Members {
		tally(name)
	}
	teamNights := map[civil]bool{}
	escalated := map[int64]bool{}
	for _, x := range h.Interruptions {
		if !in(x.At) {
			continue
		}
		p := tally(x.Person)
		loc := st.zone(x.Person)
		p.Interruptions.add(x.Band)
		f.Interruptions.add(x.Band)
		p.incidents[x.IncidentID] = true
		if x.Band == rotation.Sleep {
			n := nightOf(x.At, loc)
			p.nights[n] = true
			teamNights[n] = true
		}
		if wd := x.At.In(loc).Weekday(); wd == time.Saturday || wd == time.Sunday {
			p.WeekendInterruptions++
			f.WeekendInterruptions++
		}
		if x.Step > 0 || x.Round > 0 {
			escalated[x.IncidentID] = true
		}
	}
	f.Escalations = len(escalated)
	f.InterruptedNights, f.LongestNightRun = len(teamNights), longestRun(teamNights)

	for _, sh := range shifts {
		start, end := later(sh.Start, from), earlier(sh.End, to)
		if end.After(start) {
			d := Hours(end.Sub(start))
			tally(sh.Person).OnCall += d
			f.OnCall += d
		}
	}

	var out []PersonFigures
	for _, name := range sortedKeys(people) {
		p := people[name]
		p.Incidents = len(p.incidents)
		p.InterruptedNights, p.LongestNightRun = len(p.nights), longestRun(p.nights)
		if p.OnCall > 0 {
			p.IncidentsPerShift = float64(p.Incidents) / (time.Duration(p.OnCall).Hours() / shiftLength.Hours())
		}
		if f.Interruptions.Total > 0 {
			p.InterruptionShare = float64(p.Interruptions.Total) / float64(f.Interruptions.Total)
		}
		if f.OnCall > 0 {
			p.OnCallShare = float64(p.OnCall) / float64(f.OnCall)
		}
		p.Risk = burnout(p.PersonFigures)
		out = append(out, p.PersonFigures)
	}
	return f, out
}

type personTally struct {
	PersonFigures
	nights    map[civil]bool
	incidents map[int64]bool
}

// civil is a calendar date, counted in days since 1970-01-01.
type civil int64

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// nightOf names the night t falls in by the local date of its evening:
// 23:00 on Friday and 03:00 on Saturday are both Friday's night.
func nightOf(t time.Time, loc *time.Location) civil {
	lt := t.In(loc)
	if lt.Hour() < 12 {
		return civilOf(lt) - 1
	}
	return civilOf(lt)
}

// halfDay numbers the 12-hour shift (00:00–12:00, 12:00–24:00 local) t
// falls in.
func halfDay(t time.Time, loc *time.Location) int64 {
	lt := t.In(loc)
	n := int64(civilOf(lt)) * 2
	if lt.Hour() >= 12 {
		n++
	}
	return n
}

// days counts the calendar days of [from, to) in loc.
func days(from, to time.Time, loc *time.Location) int {
	return int(civilOf(to.In(loc)) - civilOf(from.In(loc)))
}

func longestRun(nights map[civil]bool) int {
	best := 0
	for n := range nights {
		if nights[n-1] {
			continue // not the start of a run
		}
		run := 1
		for nights[n+civil(run)] {
			run++
		}
		best = max(best, run)
	}
	return best
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Burnout risk rules, on one person's week (docs/reports.md):
//
//	high:     3 or more interrupted nights; or 2 or more in a row; or more
//	          than ShiftCeiling incidents per 12 hours on call
//	elevated: 2 interrupted nights; or 5 or more interruptions outside
//	          business hours; or 3 or more at the weekend; or at least 3
//	          interruptions and a share of the team's interruptions at
//	          least 1.5 times their share of its time on call
//	low:      none of these
const (
	highNights         = 3
	highRun            = 2
	elevatedNights     = 2
	elevatedOutOfHours = 5
	elevatedWeekend    = 3
	unfairRatio        = 1.5
	unfairMin          = 3
)

func burnout(p PersonFigures) Risk {
	var high, elevated []string
	nights := plural(p.InterruptedNights, "night", "nights") + " interrupted this week"
	if p.LongestNightRun >= highRun {
		nights += fmt.Sprintf(", %d in a row", p.LongestNightRun)
	}
	switch {
	case p.InterruptedNights >= highNights || p.LongestNightRun >= highRun:
		high = append(high, nights)
	case p.InterruptedNights >= elevatedNights:
		elevated = append(elevated, nights)
	}
	if p.OnCall > 0 && p.IncidentsPerShift > ShiftCeiling {
		high = append(high, fmt.Sprintf("%.1f incidents per 12 hours on call, above the ceiling of %d", p.IncidentsPerShift, ShiftCeiling))
	}
	if ooh := p.Interruptions.Off + p.Interruptions.Sleep; ooh >= elevatedOutOfHours {
		elevated = append(elevated, plural(ooh, "interruption", "interruptions")+" outside business hours")
	}
	if p.WeekendInterruptions >= elevatedWeekend {
		elevated = append(elevated, plural(p.WeekendInterruptions, "interruption", "interruptions")+" at the weekend")
	}
	if p.Interruptions.Total >= unfairMin && p.InterruptionShare >= unfairRatio*p.OnCallShare {
		elevated = append(elevated, fmt.Sprintf("%.0f%% of the team's interruptions for %.0f%% of its time on call",
			100*p.InterruptionShare, 100*p.OnCallShare))
	}
	switch {
	case len(high) > 0:
		return Risk{RiskHigh, strings.Join(append(high, elevated...), "; ")}
	case len(elevated) > 0:
		return Risk{RiskElevated, strings.Join(elevated, "; ")}
	case p.Interruptions.Total == 0:
		return Risk{RiskLow, "no interruptions this week"}
	case p.InterruptedNights == 0:
		return Risk{RiskLow, plural(p.Interruptions.Total, "interruption", "interruptions") + ", no night interrupted"}
	default:
		return Risk{RiskLow, plural(p.Interruptions.Total, "interruption", "interruptions") + ", " + nights}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// trend compares this week's figures with the mean of the previous weeks.
func trend(this Figures, prev []Figures) []Change {
	rows := []struct {
		name string
		get  func(Figures) int
	}{
		{"pages", func(f Figures) int { return f.Pages }},
		{"incidents", func(f Figures) int { return f.Incidents }},
		{"interruptions", func(f Figures) int { return f.Interruptions.Total }},
		{"sleep interruptions", func(f Figures) int { return f.Interruptions.Sleep }},
		{"interrupted nights", func(f Figures) int { return f.InterruptedNights }},
		{"escalations", func(f Figures) int { return f.Escalations }},
	}
	out := make([]Change, 0, len(rows))
	for _, r := range rows {
		c := Change{Figure: r.name, This: r.get(this)}
		for _, p := range prev {
			c.PrevMean += float64(r.get(p))
		}
		c.PrevMean /= float64(len(prev))
		if c.PrevMean > 0 {
			pct := 100 * (float64(c.This) - c.PrevMean) / c.PrevMean
			c.Percent = &pct
		}
		out = append(out, c)
	}
	return out
}
