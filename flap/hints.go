package flap

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/prometheus/common/model"
)

// Episode is what the hints need to know of one firing period.
type Episode struct {
	Start time.Time
	End   time.Time // zero while firing
	// Acknowledged: a person acknowledged its incident before it ended.
	Acknowledged bool
}

// Duration is how long a resolved episode fired.
func (e Episode) Duration() time.Duration { return e.End.Sub(e.Start) }

// HintOptions tune what counts as transient and how much a suggestion must
// cover.
type HintOptions struct {
	// TransientMax: an episode that resolved by itself, unacknowledged,
	// within this long is transient.
	TransientMax time.Duration
	// Cover is the share of transient episodes (for `for:`) or of short
	// gaps (for `keep_firing_for:`) a suggestion must remove.
	Cover float64
	// GapMax: gaps between two episodes of one alert up to this long are
	// flap gaps that keep_firing_for could bridge.
	GapMax time.Duration
}

// DefaultHints are the documented defaults.
var DefaultHints = HintOptions{TransientMax: 5 * time.Minute, Cover: 0.8, GapMax: 30 * time.Minute}

// Transient reports whether e resolved by itself, unacknowledged, within
// TransientMax.
func (o HintOptions) Transient(e Episode) bool {
	return !e.End.IsZero() && !e.Acknowledged && e.Duration() <= o.TransientMax
}

// RuleHint is what quietpager would change in one alert rule.
type RuleHint struct {
	Episodes  int
	Transient int
	// For is the `for:` that would have kept most transient episodes
	// from firing; zero when no `for:` would help.
	For        time.Duration
	ForRemoves int
	// ForLongest is the longest episode the suggested `for:` removes.
	ForLongest time.Duration
	// KeepFiringFor is the `keep_firing_for:` that would have merged most
	// flap gaps; zero when none would.
	KeepFiringFor    time.Duration
	KeepFiringMerges int
}

// MarshalJSON writes durations as rule files spell them ("4m", "30s") and
// leaves out suggestions that were not made.
func (h RuleHint) MarshalJSON() ([]byte, error) {
	out := map[string]any{"episodes": h.Episodes, "transient": h.Transient}
	if h.For > 0 {
		out["for"] = model.Duration(h.For).String()
		out["for_removes"] = h.ForRemoves
		out["for_longest"] = h.ForLongest.String()
	}
	if h.KeepFiringFor > 0 {
		out["keep_firing_for"] = model.Duration(h.KeepFiringFor).String()
		out["keep_firing_merges"] = h.KeepFiringMerges
	}
	return json.Marshal(out)
}

// steps are the values suggested: the ones people write in rule files.
var steps = []time.Duration{
	30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
}

// roundUp returns the smallest step greater than d, or zero past the last.
func roundUp(d time.Duration) time.Duration {
	for _, s := range steps {
		if s > d {
			return s
		}
	}
	return 0
}

// quantile returns the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Hints derives the rule hints from the episodes of one alert rule, given
// per alert (fingerprint), each alert's episodes in any order.
func (o HintOptions) Hints(alerts [][]Episode) RuleHint {
	var (
		h         RuleHint
		transient []time.Duration
		resolved  []time.Duration
		gaps      []time.Duration
	)
	for _, eps := range alerts {
		eps = slices.Clone(eps)
		slices.SortFunc(eps, func(a, b Episode) int { return a.Start.Compare(b.Start) })
		for i, e := range eps {
			h.Episodes++
			if !e.End.IsZero() {
				resolved = append(resolved, e.Duration())
			}
			if o.Transient(e) {
				h.Transient++
				transient = append(transient, e.Duration())
			}
			if i > 0 && !eps[i-1].End.IsZero() {
				if g := e.Start.Sub(eps[i-1].End); g >= 0 && g <= o.GapMax {
					gaps = append(gaps, g)
				}
			}
		}
	}
	// for: only worth suggesting when transient episodes are common.
	if h.Transient >= 2 && float64(h.Transient) >= 0.25*float64(h.Episodes) {
		slices.Sort(transient)
		if f := roundUp(quantile(transient, o.Cover)); f > 0 {
			h.For = f
			for _, d := range resolved {
				if d < f {
					h.ForRemoves++
					h.ForLongest = max(h.ForLongest, d)
				}
			}
		}
	}
	if len(gaps) >= 2 {
		slices.Sort(gaps)
		if k := roundUp(quantile(gaps, o.Cover)); k > 0 {
			h.KeepFiringFor = k
			for _, g := range gaps {
				if g < k {
					h.KeepFiringMerges++
				}
			}
		}
	}
	return h
}
