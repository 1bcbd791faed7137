package rotation

import (
	"slices"
	"time"
)

// Due is an escalation step that falls due: at At, page Targets, as step
// Step of round Round (round 0 is the first pass through the steps, round
// r the r-th repeat).
type Due struct {
	Step, Round int
	At          time.Time
	Targets     []Target
}

// First returns the first step of an incident opened at opened: step 0 of
// round 0, due Steps[0].Delay after opened. It returns false when the
// policy has no steps.
func (p EscalationPolicy) First(opened time.Time) (Due, bool) {
	if len(p.Steps) == 0 {
		return Due{}, false
	}
	return p.due(0, 0, opened), true
}

// Next returns the step after d, if nobody acknowledged: step d.Step+1 of
// the same round, due its Delay after d.At; after the last step, step 0 of
// the next round, as long as d.Round is below Repeat. A repeat waits the
// policy's repeat gap after the last step, so that the last people paged
// get as long to answer as anyone did before the first are paged again. It returns false when the policy is exhausted, has no
// steps, or d is not one of its steps. Negative delays count as zero, so
// a step is never due before the one it follows.
func (p EscalationPolicy) Next(d Due) (Due, bool) {
	if d.Step < 0 || d.Step >= len(p.Steps) || d.Round < 0 {
		return Due{}, false
	}
	if d.Step+1 < len(p.Steps) {
		return p.due(d.Step+1, d.Round, d.At), true
	}
	if d.Round < p.Repeat {
		next := p.due(0, d.Round+1, d.At)
		next.At = d.At.Add(p.RepeatGap()) // not Steps[0].Delay: see RepeatGap
		return next, true
	}
	return Due{}, false
}

// minRepeatGap keeps a policy of zero delays from paging in a tight loop.
const minRepeatGap = 5 * time.Minute

// RepeatGap is how long after its last step a policy starts over: its
// longest step delay, and at least five minutes.
func (p EscalationPolicy) RepeatGap() time.Duration {
	gap := minRepeatGap
	for _, s := range p.Steps {
		gap = max(gap, s.Delay)
	}
	return gap
}

// due builds step i of round, due its delay after from. Targets are a copy
// so a caller cannot change the policy through them.
func (p EscalationPolicy) due(i, round int, from time.Time) Due {
	s := p.Steps[i]
	return Due{Step: i, Round: round, At: from.Add(max(s.Delay, 0)), Targets: slices.Clone(s.Targets)}
}
