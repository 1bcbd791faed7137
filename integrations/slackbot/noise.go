package slackbot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/flap"
)

// NoisyRule is one alert rule's cost to the people it paged.
type NoisyRule struct {
	Rule          string // the alertname
	Team          string
	ToilCost      int // interruptions weighted by when they landed
	Pages         int // interruptions
	SleepPages    int
	NotActionable int    // incidents marked not actionable
	Fix           string // one line: what to change in the rule; "" when nothing is known
}

// NoiseRanker ranks alert rules by toil cost over [since, until), costliest
// first; team "" means every team.
type NoiseRanker interface {
	Noise(ctx context.Context, team string, since, until time.Time) ([]NoisyRule, error)
}

// Toil weights of an interruption by band, as the noise ranking of the
// weekly report will use them: a page in sleep hours costs three of a
// page in business hours, one in off hours two.
const (
	weightSleep    = 3
	weightOff      = 2
	weightBusiness = 1
)

// NoiseStore is what StoreRanker reads.
type NoiseStore interface {
	RuleNoise(ctx context.Context, team string, since, until time.Time) ([]dedupe.RuleNoise, error)
	RuleHints(ctx context.Context, alertnames []string, now time.Time) (map[string]flap.RuleHint, error)
}

// StoreRanker ranks rules from the interruptions quietpager recorded, and
// takes each fix line from the rule hints (flapping and transient
// episodes of the week before until). The reports package may replace it.
type StoreRanker struct{ Store NoiseStore }

// Noise implements NoiseRanker.
func (r StoreRanker) Noise(ctx context.Context, team string, since, until time.Time) ([]NoisyRule, error) {
	noise, err := r.Store.RuleNoise(ctx, team, since, until)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(noise))
	for _, n := range noise {
		names = append(names, n.Alertname)
	}
	hints, err := r.Store.RuleHints(ctx, names, until)
	if err != nil {
		return nil, err
	}
	out := make([]NoisyRule, 0, len(noise))
	for _, n := range noise {
		out = append(out, NoisyRule{
			Rule: n.Alertname, Team: n.Team,
			ToilCost:      n.Sleep*weightSleep + n.Off*weightOff + n.Business*weightBusiness,
			Pages:         n.Sleep + n.Off + n.Business,
			SleepPages:    n.Sleep,
			NotActionable: n.NotActionable,
			Fix:           fixLine(hints[n.Alertname], n),
		})
	}
	slices.SortFunc(out, func(a, b NoisyRule) int {
		if a.ToilCost != b.ToilCost {
			return b.ToilCost - a.ToilCost
		}
		if a.Pages != b.Pages {
			return b.Pages - a.Pages
		}
		return strings.Compare(a.Rule+"\x00"+a.Team, b.Rule+"\x00"+b.Team)
	})
	return out, nil
}

// fixLine says the one thing most worth changing about a rule.
func fixLine(h flap.RuleHint, n dedupe.RuleNoise) string {
	switch {
	case h.For > 0:
		return fmt.Sprintf("add `for: %s`: %d of its %d episodes resolved by themselves sooner", model.Duration(h.For), h.ForRemoves, h.Episodes)
	case h.KeepFiringFor > 0:
		return fmt.Sprintf("add `keep_firing_for: %s`: it flapped, and that merges %d of its gaps", model.Duration(h.KeepFiringFor), h.KeepFiringMerges)
	case n.NotActionable > 0:
		return "people marked it not actionable: make it a digest route, or delete it"
	case n.Sleep > 0:
		return "it woke people: if it can wait, route it with urgency business-hours"
	}
	return ""
}

// noisyTop is how many rules noisy lists.
const noisyTop = 5

// noisy lists the five costliest rules of the last seven days.
func (b *Bot) noisy(ctx context.Context, team string) (reply, error) {
	if b.o.Noise == nil {
		return ephemeral("The noise ranking is not set up."), nil
	}
	if err := b.checkTeam(ctx, team); err != nil {
		return reply{}, err
	}
	now := b.o.Now().UTC()
	rules, err := b.o.Noise.Noise(ctx, team, now.Add(-7*24*time.Hour), now)
	if err != nil {
		return reply{}, err
	}
	if len(rules) == 0 {
		return ephemeral("No pages in the last seven days%s. :sleeping:", forTeam(team)), nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Noisiest alert rules of the last seven days%s, by toil (sleep-hours pages count 3, off-hours 2, business-hours 1):", forTeam(team))
	for i, r := range rules[:min(len(rules), noisyTop)] {
		fmt.Fprintf(&sb, "\n%d. *%s* (%s): toil %d, %d page(s), %d in sleep hours", i+1, escape(r.Rule), escape(r.Team), r.ToilCost, r.Pages, r.SleepPages)
		if r.NotActionable > 0 {
			fmt.Fprintf(&sb, ", %d marked not actionable", r.NotActionable)
		}
		if r.Fix != "" {
			sb.WriteString("\n    Fix: " + r.Fix)
		}
	}
	return ephemeral("%s", sb.String()), nil
}
