package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/rotation"
)

// Toil weights: what one interruption costs, by when it landed. A page in
// sleep hours costs the most: it breaks a night, and the next day too.
var toilWeights = map[rotation.Band]int{rotation.Business: 1, rotation.Off: 2, rotation.Sleep: 5}

// savingsFor is how many of the top rules get their fixes replayed.
const savingsFor = 10

// Scheduled-job detection: at least scheduledDays distinct days with an
// episode starting within scheduledSlack of the same time of day, and
// these days are at least scheduledShare of the days the rule fired.
const (
	scheduledDays  = 4
	scheduledSlack = 5 * time.Minute
	scheduledShare = 0.7
)

// Routing to business hours is suggested when at least nightMin pages and
// nightShare of them were in sleep hours, no incident was acknowledged
// before it resolved, and the rule's route pages at any hour.
const (
	nightMin   = 3
	nightShare = 0.5
)

// RuleNoise is one alert rule's noise over a window.
type RuleNoise struct {
	Rule           string        `json:"rule"` // alertname
	Team           string        `json:"team"`
	ToilCost       int           `json:"toil_cost"`
	Pages          int           `json:"pages"`
	Interruptions  Bands         `json:"interruptions"`
	Incidents      int           `json:"incidents"`
	Episodes       int           `json:"episodes"`
	TransientShare float64       `json:"transient_share"`
	FlappingShare  float64       `json:"flapping_share"`
	NightShare     float64       `json:"night_share"` // of its interruptions
	MedianDuration time.Duration `json:"-"`
	NotActionable  int           `json:"not_actionable"`
	Fixes          []Fix         `json:"fixes"`
}

// MarshalJSON adds the median duration in seconds.
func (r RuleNoise) MarshalJSON() ([]byte, error) {
	type plain RuleNoise
	return json.Marshal(struct {
		plain
		MedianSeconds float64 `json:"median_duration_seconds"`
	}{plain(r), r.MedianDuration.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *RuleNoise) UnmarshalJSON(b []byte) error {
	type plain RuleNoise
	var v struct {
		plain
		MedianSeconds float64 `json:"median_duration_seconds"`
	}
	err := json.Unmarshal(b, &v)
	*r = RuleNoise(v.plain)
	r.MedianDuration = seconds(v.MedianSeconds)
	return err
}

// Fix kinds.
const (
	FixFor           = "for"
	FixKeepFiringFor = "keep_firing_for"
	FixBusinessHours = "business_hours"
	FixScheduled     = "scheduled"
)

// Fix is one concrete change to a rule, why, and what it would have saved
// over the same window (for the top rules' fixes that change pages).
type Fix struct {
	Kind     string    `json:"kind"`
	Text     string    `json:"text"`
	Proposal *Proposal `json:"proposal,omitempty"`
	Saved    *Impact   `json:"saved,omitempty"`
}

// Noise ranks the team's alert rules by toil cost over [since, until).
func (s *Service) Noise(ctx context.Context, team string, since, until time.Time) ([]RuleNoise, error) {
	if !until.After(since) {
		return nil, quietpager.Errorf(quietpager.Invalid, "since must be before until")
	}
	if until.Sub(since) > maxWindow {
		return nil, quietpager.Errorf(quietpager.Invalid, "a window may span at most %d days", maxWindow/(24*time.Hour))
	}
	st, err := s.setting(ctx, team)
	if err != nil {
		return nil, err
	}
	h, err := s.o.History.History(ctx, Query{Team: team, From: since, To: until, Episodes: true})
	if err != nil {
		return nil, err
	}
	return s.rank(st, h, 0), nil
}

// window is h restricted to [from, to): interruptions and pages in it,
// episodes that started in it, all incidents.
func (h History) window(from, to time.Time) History {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	out := History{From: from, To: to, Incidents: h.Incidents}
	for _, x := range h.Interruptions {
		if in(x.At) {
			out.Interruptions = append(out.Interruptions, x)
		}
	}
	for _, p := range h.Pages {
		if in(p.At) {
			out.Pages = append(out.Pages, p)
		}
	}
	for _, e := range h.Episodes {
		if in(e.Start) {
			out.Episodes = append(out.Episodes, e)
		}
	}
	return out
}

// rank computes the ranking of h's rules, the first limit of them (all
// when limit is 0).
func (s *Service) rank(st setting, h History, limit int) []RuleNoise {
	incidents := map[int64]Incident{}
	for _, inc := range h.Incidents {
		incidents[inc.ID] = inc
	}
	type tally struct {
		RuleNoise
		incidents map[int64]bool
		alerts    map[int64][]flap.Episode
		durations []time.Duration
		starts    []time.Time
	}
	rules := map[string]*tally{}
	get := func(name string) *tally {
		if rules[name] == nil {
			rules[name] = &tally{RuleNoise: RuleNoise{Rule: name, Team: st.team.Name},
				incidents: map[int64]bool{}, alerts: map[int64][]flap.Episode{}}
		}
		return rules[name]
	}
	for _, x := range h.Interruptions {
		r := get(incidents[x.IncidentID].Rule)
		r.Interruptions.add(x.Band)
		r.ToilCost += toilWeights[x.Band]
		r.incidents[x.IncidentID] = true
	}
	for _, p := range h.Pages {
		r := get(incidents[p.IncidentID].Rule)
		r.Pages++
		r.incidents[p.IncidentID] = true
	}
	for _, e := range h.Episodes {
		r := get(e.Rule)
		r.Episodes++
		r.alerts[e.AlertID] = append(r.alerts[e.AlertID], flap.Episode{Start: e.Start, End: e.End, Acknowledged: e.Acknowledged})
		if !e.End.IsZero() {
			r.durations = append(r.durations, e.End.Sub(e.Start))
		}
		r.starts = append(r.starts, e.Start)
		if incidents[e.IncidentID].Rule == e.Rule {
			r.incidents[e.IncidentID] = true
		}
	}

	out := make([]RuleNoise, 0, len(rules))
	for _, r := range rules {
		r.Incidents = len(r.incidents)
		ackedInTime, paging := false, false
		for id := range r.incidents {
			inc := incidents[id]
			r.NotActionable += inc.NotActionable
			paging = paging || inc.Urgency == rotation.UrgencyPage
			if !inc.Acknowledged.IsZero() && (inc.Resolved.IsZero() || inc.Acknowledged.Before(inc.Resolved)) {
				ackedInTime = true
			}
		}
		if r.Interruptions.Total > 0 {
			r.NightShare = float64(r.Interruptions.Sleep) / float64(r.Interruptions.Total)
		}
		if len(r.durations) > 0 {
			slices.Sort(r.durations)
			r.MedianDuration = nearestRank(r.durations, 0.5)
		}
		series := make([][]flap.Episode, 0, len(r.alerts))
		for _, eps := range r.alerts {
			series = append(series, eps)
		}
		hint := s.o.Hints.Hints(series)
		if r.Episodes > 0 {
			r.TransientShare = float64(hint.Transient) / float64(r.Episodes)
			r.FlappingShare = float64(flaps(series, s.o.Hints.GapMax)) / float64(r.Episodes)
		}
		r.Fixes = st.fixes(r.RuleNoise, hint, paging && !ackedInTime, r.starts, h)
		out = append(out, r.RuleNoise)
	}
	slices.SortFunc(out, func(a, b RuleNoise) int {
		switch {
		case a.ToilCost != b.ToilCost:
			return b.ToilCost - a.ToilCost
		case a.Pages != b.Pages:
			return b.Pages - a.Pages
		case a.Episodes != b.Episodes:
			return b.Episodes - a.Episodes
		}
		return cmpString(a.Rule, b.Rule)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out[:min(len(out), savingsFor)] {
		for j, f := range out[i].Fixes {
			if f.Proposal != nil && out[i].Pages > 0 {
				saved := st.whatIf(h, *f.Proposal).Saved
				out[i].Fixes[j].Saved = &saved
				out[i].Fixes[j].Text += "; would have saved " + saved.String()
			}
		}
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// flaps counts the episodes that started within gapMax of the end of the
// same alert's previous episode: the episodes of a flapping alert.
func flaps(alerts [][]flap.Episode, gapMax time.Duration) int {
	n := 0
	for _, eps := range alerts {
		eps = slices.Clone(eps)
		slices.SortFunc(eps, func(a, b flap.Episode) int { return a.Start.Compare(b.Start) })
		for i := 1; i < len(eps); i++ {
			if prev := eps[i-1].End; !prev.IsZero() && eps[i].Start.Sub(prev) <= gapMax {
				n++
			}
		}
	}
	return n
}

// fixes says what to change in a rule, most useful first. holdable: the
// rule pages at any hour and nobody acknowledged any of its incidents
// before it resolved.
func (st setting) fixes(r RuleNoise, hint flap.RuleHint, holdable bool, starts []time.Time, h History) []Fix {
	propose := func(f func(*Proposal)) *Proposal {
		p := &Proposal{Team: st.team.Name, Rule: r.Rule, Since: h.From, Until: h.To}
		f(p)
		return p
	}
	var out []Fix
	if hint.For > 0 {
		out = append(out, Fix{Kind: FixFor,
			Text: fmt.Sprintf("raise `for:` to %s: %d of %d episodes resolved within %s",
				model.Duration(hint.For), hint.ForRemoves, hint.Episodes, hint.ForLongest),
			Proposal: propose(func(p *Proposal) { p.For = model.Duration(hint.For) })})
	}
	if hint.KeepFiringFor > 0 {
		out = append(out, Fix{Kind: FixKeepFiringFor,
			Text: fmt.Sprintf("add `keep_firing_for: %s`: merges %s",
				model.Duration(hint.KeepFiringFor), plural(hint.KeepFiringMerges, "flap", "flaps")),
			Proposal: propose(func(p *Proposal) { p.KeepFiringFor = model.Duration(hint.KeepFiringFor) })})
	}
	if holdable && r.Interruptions.Total >= nightMin && r.NightShare >= nightShare {
		out = append(out, Fix{Kind: FixBusinessHours,
			Text: fmt.Sprintf("route to business hours: %d of %d pages were at night and none was acknowledged before it resolved",
				r.Interruptions.Sleep, r.Interruptions.Total),
			Proposal: propose(func(p *Proposal) { p.Urgency = rotation.UrgencyBusinessHours })})
	}
	if at, ok := scheduled(starts, zoneOrUTC(st.team.TimeZone)); ok {
		out = append(out, Fix{Kind: FixScheduled,
			Text: fmt.Sprintf("fires daily at %02d:%02d ± %d min: likely a scheduled job; fix the job or silence its window",
				at/60, at%60, int(scheduledSlack.Minutes()))})
	}
	return out
}

// scheduled finds a time of day (minutes after local midnight) around
// which the rule starts firing on most of the days it fires at all.
// Starts are bucketed by minute of the day, so a rule with many episodes
// costs 1440 small windows, not a comparison of every pair.
func scheduled(starts []time.Time, loc *time.Location) (int, bool) {
	var buckets [1440][]civil
	firingDays := map[civil]bool{}
	for _, t := range starts {
		lt := t.In(loc)
		day := civilOf(lt)
		buckets[lt.Hour()*60+lt.Minute()] = append(buckets[lt.Hour()*60+lt.Minute()], day)
		firingDays[day] = true
	}
	if len(firingDays) < scheduledDays {
		return 0, false
	}
	slack := int(scheduledSlack.Minutes())
	bestDays, bestAt := 0, 0
	for c := range buckets {
		if len(buckets[c]) == 0 {
			continue
		}
		days := map[civil]bool{}
		var sin, cos float64
		for d := -slack; d <= slack; d++ {
			m := (c + d + 1440) % 1440
			a := 2 * math.Pi * float64(m) / 1440
			for _, day := range buckets[m] {
				days[day] = true
				sin, cos = sin+math.Sin(a), cos+math.Cos(a)
			}
		}
		if len(days) > bestDays {
			at := int(math.Round(math.Atan2(sin, cos) / (2 * math.Pi) * 1440))
			bestDays, bestAt = len(days), (at+1440)%1440
		}
	}
	ok := bestDays >= scheduledDays && float64(bestDays) >= scheduledShare*float64(len(firingDays))
	return bestAt, ok
}
