package reports

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// Proposal is a change to one alert rule of one team.
type Proposal struct {
	Team string `json:"team"`
	Rule string `json:"rule"` // alertname
	// For: an episode fires only once it has lasted this long (zero:
	// unchanged).
	For model.Duration `json:"for,omitempty"`
	// KeepFiringFor: an episode keeps firing this long after it ends, so
	// one that starts again within it continues the same firing (zero:
	// unchanged).
	KeepFiringFor model.Duration `json:"keep_firing_for,omitempty"`
	// Urgency: "business-hours" or "digest" ("" or "page": unchanged).
	Urgency rotation.Urgency `json:"urgency,omitempty"`
	// Since and Until bound the replayed history; zero Since means the
	// week before Until, zero Until means now.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// Impact is what a team's history cost its people over a window.
type Impact struct {
	Pages              int `json:"pages"`
	Interruptions      int `json:"interruptions"`
	SleepInterruptions int `json:"sleep_interruptions"`
	InterruptedNights  int `json:"interrupted_nights"`
}

// Saved is the difference between two impacts.
func (b Impact) Saved(a Impact) Impact {
	return Impact{b.Pages - a.Pages, b.Interruptions - a.Interruptions,
		b.SleepInterruptions - a.SleepInterruptions, b.InterruptedNights - a.InterruptedNights}
}

func (i Impact) String() string {
	return fmt.Sprintf("%s, %s, %s", plural(i.Pages, "page", "pages"),
		plural(i.Interruptions, "interruption", "interruptions"), plural(i.InterruptedNights, "interrupted night", "interrupted nights"))
}

// WhatIfResult is the team's impact over the window as it was and as it
// would have been under the proposal.
type WhatIfResult struct {
	Proposal Proposal `json:"proposal"`
	Before   Impact   `json:"before"`
	After    Impact   `json:"after"`
	Saved    Impact   `json:"saved"`
}

// WhatIf replays the team's history over the proposal's window with the
// proposal applied to its rule. The model is in docs/reports.md.
func (s *Service) WhatIf(ctx context.Context, p Proposal) (WhatIfResult, error) {
	if p.Until.IsZero() {
		p.Until = s.o.Now()
	}
	if p.Since.IsZero() {
		p.Since = p.Until.AddDate(0, 0, -7)
	}
	if err := p.valid(); err != nil {
		return WhatIfResult{}, err
	}
	st, err := s.setting(ctx, p.Team)
	if err != nil {
		return WhatIfResult{}, err
	}
	h, err := s.o.History.History(ctx, Query{Team: p.Team, From: p.Since, To: p.Until, Episodes: true})
	if err != nil {
		return WhatIfResult{}, err
	}
	return st.whatIf(h, p), nil
}

func (p Proposal) valid() error {
	switch {
	case p.Team == "":
		return quietpager.Errorf(quietpager.Invalid, "a proposal needs a team")
	case p.Rule == "":
		return quietpager.Errorf(quietpager.Invalid, "a proposal needs a rule (alertname)")
	case p.For < 0 || p.KeepFiringFor < 0:
		return quietpager.Errorf(quietpager.Invalid, "for and keep_firing_for must not be negative")
	case !p.Until.After(p.Since):
		return quietpager.Errorf(quietpager.Invalid, "since must be before until")
	case p.Until.Sub(p.Since) > maxWindow:
		return quietpager.Errorf(quietpager.Invalid, "a window may span at most %d days", maxWindow/(24*time.Hour))
	}
	switch p.Urgency {
	case "", rotation.UrgencyPage, rotation.UrgencyBusinessHours, rotation.UrgencyDigest:
	default:
		return quietpager.Errorf(quietpager.Invalid, "urgency must be page, business-hours or digest, not %q", p.Urgency)
	}
	if p.For == 0 && p.KeepFiringFor == 0 && (p.Urgency == "" || p.Urgency == rotation.UrgencyPage) {
		return quietpager.Errorf(quietpager.Invalid, "a proposal must change for, keep_firing_for or urgency")
	}
	return nil
}

// maxWindow bounds the history a noise ranking or what-if reads.
const maxWindow = 93 * 24 * time.Hour

func (st setting) whatIf(h History, p Proposal) WhatIfResult {
	r := WhatIfResult{Proposal: p, Before: st.impact(h), After: st.impact(st.apply(h, p))}
	r.Saved = r.Before.Saved(r.After)
	return r
}

func (st setting) impact(h History) Impact {
	f, _ := st.figures(h, h.From, h.To, nil)
	return Impact{Pages: f.Pages, Interruptions: f.Interruptions.Total,
		SleepInterruptions: f.Interruptions.Sleep, InterruptedNights: f.InterruptedNights}
}

// firing is what became of one episode under a proposal: whether it starts
// a firing of its own (F after it started; not dropped, not merged), and
// when the firing it belongs to ends (zero while firing).
type firing struct {
	fires bool
	until time.Time
}

// unit is one escalation step's round of one incident opening: the pages
// and interruptions sent together.
type unit struct {
	incident    int64
	opening     int
	step, round int
}

// apply returns h as it would have been under p. Theory of operation:
//
// Each alert's episodes of the rule are replayed in order. With
// keep_firing_for K, an episode that starts no later than K after the
// current firing ended continues that firing (it is merged and pages
// nobody). Otherwise it starts a new firing if it lasted at least for F,
// F after it started; an episode shorter than F never fires.
//
// Every page and interruption is charged to the episode that triggered
// its incident opening: the incident's latest episode that started at or
// before the opening's first interruption. An opening whose trigger no
// longer fires loses all its pages; one whose trigger fires late moves by
// F (bands are read again in each person's zone). A business-hours urgency
// holds each interruption outside business hours until the person's next
// business hours and keeps it only if the firing, the incident and its
// acknowledgement were all still open then; digest drops them all.
// Openings whose trigger is outside the history, or of another rule, stay
// as they were.
func (st setting) apply(h History, p Proposal) History {
	F, K := time.Duration(p.For), time.Duration(p.KeepFiringFor)
	fate := map[*Episode]*firing{} // episodes of the rule; merged ones share their firing's
	byAlert := map[int64][]*Episode{}
	byIncident := map[int64][]*Episode{}
	for i := range h.Episodes {
		e := &h.Episodes[i]
		byIncident[e.IncidentID] = append(byIncident[e.IncidentID], e)
		if e.Rule == p.Rule {
			byAlert[e.AlertID] = append(byAlert[e.AlertID], e)
		}
	}
	silent := &firing{}
	for _, eps := range byAlert {
		slices.SortFunc(eps, func(a, b *Episode) int { return a.Start.Compare(b.Start) })
		var cur *firing
		for _, e := range eps {
			if cur != nil && (cur.until.IsZero() || !e.Start.After(cur.until.Add(K))) {
				if e.End.IsZero() {
					cur.until = time.Time{}
				} else if !cur.until.IsZero() {
					cur.until = later(cur.until, e.End)
				}
				fate[e] = silent
				continue
			}
			end := e.End
			if end.IsZero() {
				end = h.To
			}
			if end.Sub(e.Start) < F {
				fate[e], cur = silent, nil
				continue
			}
			cur = &firing{fires: true, until: e.End}
			fate[e] = cur
		}
	}
	incidents := map[int64]Incident{}
	for _, inc := range h.Incidents {
		incidents[inc.ID] = inc
	}

	// the first interruption of each opening finds its trigger
	type opening struct {
		incident int64
		n        int
	}
	first := map[opening]time.Time{}
	for _, x := range h.Interruptions {
		k := opening{x.IncidentID, x.Opening}
		if t, ok := first[k]; !ok || x.At.Before(t) {
			first[k] = x.At
		}
	}
	trigger := func(incident int64, n int) *Episode {
		var best *Episode
		for _, e := range byIncident[incident] {
			if !e.Start.After(first[opening{incident, n}]) && (best == nil || e.Start.After(best.Start)) {
				best = e
			}
		}
		if best == nil || best.Rule != p.Rule {
			return nil
		}
		return best
	}

	out := h
	out.Interruptions = nil
	moved := map[unit]time.Time{} // surviving units, at their earliest new time
	for _, x := range h.Interruptions {
		u := unit{x.IncidentID, x.Opening, x.Step, x.Round}
		e := trigger(x.IncidentID, x.Opening)
		if e == nil {
			out.Interruptions = append(out.Interruptions, x)
			continue
		}
		f := fate[e]
		if !f.fires {
			continue
		}
		loc := st.zone(x.Person)
		if F > 0 {
			x.At = x.At.Add(F)
			x.Band = rotation.Classify(x.At, loc)
		}
		switch p.Urgency {
		case rotation.UrgencyDigest:
			continue
		case rotation.UrgencyBusinessHours:
			if x.Band != rotation.Business {
				at := rotation.NextBusinessStart(x.At, loc)
				inc, until := incidents[x.IncidentID], f.until
				if !until.IsZero() {
					until = until.Add(K) // keep_firing_for keeps it firing
				}
				if !openAt(until, at) || !openAt(inc.Resolved, at) || !openAt(inc.Acknowledged, at) {
					continue
				}
				x.At, x.Band = at, rotation.Business
			}
		}
		if t, ok := moved[u]; !ok || x.At.Before(t) {
			moved[u] = x.At
		}
		out.Interruptions = append(out.Interruptions, x)
	}

	out.Pages = nil
	for _, pg := range h.Pages {
		u := unit{pg.IncidentID, pg.Opening, pg.Step, pg.Round}
		if trigger(pg.IncidentID, pg.Opening) == nil {
			out.Pages = append(out.Pages, pg)
		} else if t, ok := moved[u]; ok {
			pg.At = t
			out.Pages = append(out.Pages, pg)
		}
	}
	return out
}

// openAt: something that ends at end (zero: never) is still open at t.
func openAt(end, t time.Time) bool { return end.IsZero() || end.After(t) }
