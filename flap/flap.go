// Package flap notices flapping alerts and derives the alert-rule changes
// (`for:` and `keep_firing_for:`) that would have kept their episodes from
// paging anyone.
//
// # Theory of operation
//
// Nagios keeps the last 21 check results of a service, counts the state
// changes among them, weighting recent ones more, and calls the service
// flapping when that share rises above a high threshold, and stable again
// only when it falls below a lower one. The gap between the two thresholds
// (hysteresis) keeps an alert near the boundary from flipping in and out
// of "flapping" itself.
//
// Alertmanager sends state changes, not check results, and at irregular
// times, so quietpager uses the continuous-time cousin of that history: a
// score that every state change (an episode starting or ending) raises by
// one and that decays exponentially with time constant Tau,
//
//	score(t) = Σ exp(-(t - tᵢ) / Tau)   over the state changes tᵢ ≤ t.
//
// Only the score and the time it was last brought up to date are stored per
// alert: decaying to t multiplies the score by exp(-(t - t₀)/Tau). A state
// change that arrives late (its time is before the stored one) adds its own
// decayed weight, so delivery order does not change the result.
//
// The alert starts flapping when the score reaches High and stops when it
// falls below Low. A steady alert that fires and resolves once scores at
// most 2 and never flaps. An alert that fires for a minute every P minutes
// adds 2 per cycle; with the defaults (Tau 1h, High 6, Low 2) it starts
// flapping on its 4th cycle when P is 10 minutes, and stops once about
// Tau·ln(score/Low) has passed without a change (a little over an hour
// after the last change, from a score of 7). docs/flapping.md has the
// worked example and the measurements behind the defaults.
package flap

import (
	"math"
	"time"
)

// Options are the detector's thresholds. Routes may override them.
type Options struct {
	// Tau is the decay time constant: a state change weighs 1 when it
	// happens, 1/e after Tau.
	Tau time.Duration
	// High is the score at which an alert starts flapping.
	High float64
	// Low is the score below which a flapping alert stops.
	Low float64
	// Quiet is how long after flapping stops its incident stays open,
	// in case the alert starts again.
	Quiet time.Duration
}

// Defaults are the documented defaults (docs/flapping.md).
var Defaults = Options{Tau: time.Hour, High: 6, Low: 2, Quiet: 15 * time.Minute}

// Valid reports whether the options make sense: a positive Tau and
// 0 < Low < High.
func (o Options) Valid() bool {
	return o.Tau > 0 && o.Low > 0 && o.High > o.Low
}

// State is one alert's flap state.
type State struct {
	Score    float64
	At       time.Time // when Score was last decayed to
	Flapping bool
}

// Transition says whether a step changed the flapping verdict.
type Transition int

const (
	Unchanged Transition = iota
	Started
	Stopped
)

func (o Options) decay(score float64, d time.Duration) float64 {
	return score * math.Exp(-d.Seconds()/o.Tau.Seconds())
}

// Change records one state change of the alert at time at.
func (o Options) Change(s State, at time.Time) (State, Transition) {
	switch {
	case s.At.IsZero():
		s.Score, s.At = 1, at
	case at.Before(s.At): // a late delivery: add its weight as of s.At
		s.Score += o.decay(1, s.At.Sub(at))
	default:
		s.Score = o.decay(s.Score, at.Sub(s.At)) + 1
		s.At = at
	}
	return o.verdict(s)
}

// Decay brings the score forward to now without a state change; this is
// how a flapping alert that went quiet stops flapping.
func (o Options) Decay(s State, now time.Time) (State, Transition) {
	if !s.At.IsZero() && now.After(s.At) {
		s.Score = o.decay(s.Score, now.Sub(s.At))
		s.At = now
	}
	return o.verdict(s)
}

func (o Options) verdict(s State) (State, Transition) {
	switch {
	case !s.Flapping && s.Score >= o.High:
		s.Flapping = true
		return s, Started
	case s.Flapping && s.Score < o.Low:
		s.Flapping = false
		return s, Stopped
	}
	return s, Unchanged
}

// StopsAt is when a flapping alert with no further changes will stop
// flapping: the score falls below Low after Tau·ln(score/Low).
func (o Options) StopsAt(s State) time.Time {
	if !s.Flapping || s.Score < o.Low {
		return s.At
	}
	d := o.Tau.Seconds() * math.Log(s.Score/o.Low)
	return s.At.Add(time.Duration(d * float64(time.Second))).Add(time.Millisecond)
}
