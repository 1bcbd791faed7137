package flap

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)

// cycles returns the state changes of an alert that fires for `on` every
// `period`, n times.
func cycles(n int, period, on time.Duration) []time.Time {
	var out []time.Time
	for i := range n {
		start := t0.Add(time.Duration(i) * period)
		out = append(out, start, start.Add(on))
	}
	return out
}

// firstFlap returns the 1-based index of the change that started flapping,
// or 0.
func firstFlap(o Options, changes []time.Time) (int, State) {
	var s State
	started := 0
	for i, at := range changes {
		var tr Transition
		s, tr = o.Change(s, at)
		if tr == Started && started == 0 {
			started = i + 1
		}
	}
	return started, s
}

func TestFlapStartsAfterPredictableCycles(t *testing.T) {
	tests := []struct {
		name    string
		changes []time.Time
		want    int // change that starts flapping; 0 = never
	}{
		{"steady alert fires once and resolves", cycles(1, 0, 20*time.Minute), 0},
		{"daily alert for a month", cycles(30, 24*time.Hour, 10*time.Minute), 0},
		{"hourly alert never flaps", cycles(48, time.Hour, time.Minute), 0},
		{"every 30 minutes stays below High", cycles(48, 30*time.Minute, time.Minute), 0},
		{"every 10 minutes: 4th resolve", cycles(10, 10*time.Minute, time.Minute), 8},
		{"every 5 minutes: 4th firing", cycles(10, 5*time.Minute, time.Minute), 7},
		{"every 15 minutes: 5th resolve", cycles(10, 15*time.Minute, time.Minute), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := firstFlap(Defaults, tt.changes)
			if got != tt.want {
				t.Fatalf("flapping started at change %d, want %d (final score %.2f)", got, tt.want, s.Score)
			}
		})
	}
}

func TestFlapStopsOnlyAfterQuietPeriod(t *testing.T) {
	o := Defaults
	_, s := firstFlap(o, cycles(6, 10*time.Minute, time.Minute))
	if !s.Flapping {
		t.Fatal("alert cycling every 10 minutes is not flapping")
	}
	stop := o.StopsAt(s)
	wantAfter := time.Duration(o.Tau.Seconds() * math.Log(s.Score/o.Low) * float64(time.Second))
	if d := stop.Sub(s.At); d < wantAfter || d > wantAfter+time.Second {
		t.Fatalf("StopsAt is %s after the last change, want %s", d, wantAfter)
	}
	// Still flapping a minute before, stopped a minute after.
	if s2, tr := o.Decay(s, stop.Add(-time.Minute)); tr != Unchanged || !s2.Flapping {
		t.Fatalf("stopped flapping a minute early: %+v %v", s2, tr)
	}
	s2, tr := o.Decay(s, stop.Add(time.Minute))
	if tr != Stopped || s2.Flapping {
		t.Fatalf("still flapping a minute after StopsAt: %+v", s2)
	}
	// Between the thresholds a flapping alert keeps flapping (hysteresis),
	// and a stable one stays stable.
	mid := State{Score: (o.High + o.Low) / 2, At: t0, Flapping: true}
	if _, tr := o.Decay(mid, t0); tr != Unchanged {
		t.Fatal("flapping alert between the thresholds stopped")
	}
	mid.Flapping = false
	if _, tr := o.Decay(mid, t0); tr != Unchanged {
		t.Fatal("stable alert between the thresholds started")
	}
}

func TestFlapThresholdEdges(t *testing.T) {
	o := Options{Tau: time.Hour, High: 6, Low: 2}
	tests := []struct {
		name  string
		state State
		want  Transition
	}{
		{"exactly High starts", State{Score: 6, At: t0}, Started},
		{"just under High does not", State{Score: 5.999, At: t0}, Unchanged},
		{"exactly Low keeps flapping", State{Score: 2, At: t0, Flapping: true}, Unchanged},
		{"just under Low stops", State{Score: 1.999, At: t0, Flapping: true}, Stopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := o.Decay(tt.state, t0); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLateChangeGivesSameScore(t *testing.T) {
	changes := cycles(3, 10*time.Minute, 2*time.Minute)
	_, inOrder := firstFlap(Defaults, changes)
	shuffled := []time.Time{changes[1], changes[0], changes[3], changes[2], changes[5], changes[4]}
	_, late := firstFlap(Defaults, shuffled)
	if math.Abs(inOrder.Score-late.Score) > 1e-9 || !inOrder.At.Equal(late.At) {
		t.Fatalf("order changed the score: %+v vs %+v", inOrder, late)
	}
}

func TestHints(t *testing.T) {
	o := DefaultHints
	ep := func(start, dur time.Duration) Episode {
		return Episode{Start: t0.Add(start), End: t0.Add(start + dur)}
	}
	t.Run("short spikes suggest for", func(t *testing.T) {
		// 40 episodes of one alert a day apart: 31 last 1-3m30s, 9 last 20m.
		var eps []Episode
		for i := range 40 {
			d := time.Minute + time.Duration(i%6)*30*time.Second // 1m .. 3m30s
			if i >= 31 {
				d = 20 * time.Minute
			}
			eps = append(eps, ep(time.Duration(i)*24*time.Hour, d))
		}
		h := o.Hints([][]Episode{eps})
		if h.Transient != 31 || h.For != 4*time.Minute || h.ForRemoves != 31 || h.ForLongest != 3*time.Minute+30*time.Second {
			t.Fatalf("got %+v, want 31 transient, for 4m removing 31, longest 3m30s", h)
		}
		if h.KeepFiringFor != 0 {
			t.Fatalf("day-apart episodes should not suggest keep_firing_for: %+v", h)
		}
	})
	t.Run("flap gaps suggest keep_firing_for", func(t *testing.T) {
		// Long episodes separated by 2-8 minute gaps.
		var eps []Episode
		at := time.Duration(0)
		for i := range 23 {
			eps = append(eps, ep(at, 30*time.Minute))
			at += 30*time.Minute + time.Duration(2+i%4*2)*time.Minute
		}
		h := o.Hints([][]Episode{eps})
		if h.KeepFiringFor != 10*time.Minute || h.KeepFiringMerges != 22 {
			t.Fatalf("got %+v, want keep_firing_for 10m merging 22", h)
		}
		if h.For != 0 {
			t.Fatalf("30-minute episodes should not suggest for: %+v", h)
		}
	})
	t.Run("acknowledged or firing episodes are not transient", func(t *testing.T) {
		eps := []Episode{ep(0, time.Minute), ep(time.Hour, time.Minute), {Start: t0.Add(2 * time.Hour)}}
		eps[0].Acknowledged, eps[1].Acknowledged = true, true
		if h := o.Hints([][]Episode{eps}); h.Transient != 0 || h.For != 0 {
			t.Fatalf("got %+v", h)
		}
	})
	t.Run("gaps are per alert", func(t *testing.T) {
		// Two alerts whose episodes interleave: no gap within one alert is short.
		a := []Episode{ep(0, time.Hour), ep(5*time.Hour, time.Hour)}
		b := []Episode{ep(62*time.Minute, time.Hour), ep(7*time.Hour, time.Hour)}
		if h := o.Hints([][]Episode{a, b}); h.KeepFiringFor != 0 {
			t.Fatalf("got %+v", h)
		}
	})
}

func TestRuleHintJSONSpellsDurationsLikeRuleFiles(t *testing.T) {
	b, err := json.Marshal(RuleHint{Episodes: 40, Transient: 31, For: 4 * time.Minute, ForRemoves: 31,
		ForLongest: 210 * time.Second, KeepFiringFor: 10 * time.Minute, KeepFiringMerges: 22})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"episodes":40,"for":"4m","for_longest":"3m30s","for_removes":31,"keep_firing_for":"10m","keep_firing_merges":22,"transient":31}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(RuleHint{Episodes: 3})
	if string(b) != `{"episodes":3,"transient":0}` {
		t.Fatalf("suggestions not made must be left out: %s", b)
	}
}
