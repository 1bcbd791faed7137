package rotation

import (
	"slices"
	"testing"
	"time"
)

func TestEscalation(t *testing.T) {
	opened := utc(2026, 6, 3, 3, 12)
	primaryT := []Target{{Rotation: "db-primary"}}
	secondaryT := []Target{{Rotation: "db-secondary"}, {Person: "lead"}}
	twoSteps := func(d0 time.Duration, repeat int) EscalationPolicy {
		return EscalationPolicy{Team: "db", Repeat: repeat, Steps: []Step{
			{Delay: d0, Targets: primaryT},
			{Delay: 10 * time.Minute, Targets: secondaryT},
		}}
	}
	due := func(step, round int, after time.Duration, targets []Target) Due {
		return Due{Step: step, Round: round, At: opened.Add(after), Targets: targets}
	}

	tests := []struct {
		name   string
		policy EscalationPolicy
		want   []Due
	}{
		// A repeat waits the longest step delay (10m here) after the last step.
		{"two steps, repeat once, no first delay", twoSteps(0, 1), []Due{
			due(0, 0, 0, primaryT),
			due(1, 0, 10*time.Minute, secondaryT),
			due(0, 1, 20*time.Minute, primaryT),
			due(1, 1, 30*time.Minute, secondaryT),
		}},
		{"two steps, repeat once, first delay 5m", twoSteps(5*time.Minute, 1), []Due{
			due(0, 0, 5*time.Minute, primaryT),
			due(1, 0, 15*time.Minute, secondaryT),
			due(0, 1, 25*time.Minute, primaryT),
			due(1, 1, 35*time.Minute, secondaryT),
		}},
		{"zero delays still wait five minutes to repeat", EscalationPolicy{Repeat: 1, Steps: []Step{{Targets: primaryT}}}, []Due{
			due(0, 0, 0, primaryT),
			due(0, 1, 5*time.Minute, primaryT),
		}},
		{"two steps, no repeat", twoSteps(0, 0), []Due{
			due(0, 0, 0, primaryT),
			due(1, 0, 10*time.Minute, secondaryT),
		}},
		{"one step, repeat twice", EscalationPolicy{Repeat: 2, Steps: []Step{{Delay: 15 * time.Minute, Targets: primaryT}}}, []Due{
			due(0, 0, 15*time.Minute, primaryT),
			due(0, 1, 30*time.Minute, primaryT),
			due(0, 2, 45*time.Minute, primaryT),
		}},
		{"negative repeat is no repeat", EscalationPolicy{Repeat: -1, Steps: []Step{{Targets: primaryT}}}, []Due{
			due(0, 0, 0, primaryT),
		}},
		{"a negative delay counts as zero", EscalationPolicy{Steps: []Step{{Delay: 5 * time.Minute, Targets: primaryT}, {Delay: -time.Hour, Targets: secondaryT}}}, []Due{
			due(0, 0, 5*time.Minute, primaryT),
			due(1, 0, 5*time.Minute, secondaryT),
		}},
		{"no steps", EscalationPolicy{Team: "db", Repeat: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Due
			d, ok := tt.policy.First(opened)
			for ok && len(got) < 100 {
				got = append(got, d)
				d, ok = tt.policy.Next(d)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d steps, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Step != w.Step || g.Round != w.Round || !g.At.Equal(w.At) || !slices.Equal(g.Targets, w.Targets) {
					t.Errorf("step %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestEscalationNextRejectsForeignDue(t *testing.T) {
	p := EscalationPolicy{Repeat: 1, Steps: []Step{{Targets: []Target{{Person: "a"}}}}}
	for _, d := range []Due{{Step: 1}, {Step: -1}, {Step: 0, Round: -1}} {
		if got, ok := p.Next(d); ok {
			t.Errorf("Next(%+v) = %+v, want false", d, got)
		}
	}
	if got, ok := (EscalationPolicy{}).Next(Due{}); ok {
		t.Errorf("no steps: Next = %+v, want false", got)
	}
}

func TestEscalationTargetsAreCopies(t *testing.T) {
	p := EscalationPolicy{Steps: []Step{{Targets: []Target{{Person: "a"}}}}}
	d, _ := p.First(utc(2026, 6, 3, 3, 12))
	d.Targets[0].Person = "mallory"
	if p.Steps[0].Targets[0].Person != "a" {
		t.Errorf("changing a Due's targets changed the policy")
	}
}
