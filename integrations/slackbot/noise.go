package slackbot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quietpager/quietpager/reports"
)

// NoiseRanker ranks a team's alert rules by toil cost over [since, until),
// costliest first; *reports.Service is one.
type NoiseRanker interface {
	Noise(ctx context.Context, team string, since, until time.Time) ([]reports.RuleNoise, error)
}

// rankAll ranks team's rules, or every team's when team is "".
func (b *Bot) rankAll(ctx context.Context, team string, since, until time.Time) ([]reports.RuleNoise, error) {
	if team != "" {
		return b.o.Noise.Noise(ctx, team, since, until)
	}
	cfg, err := b.o.OnCall.Load(ctx)
	if err != nil {
		return nil, err
	}
	var all []reports.RuleNoise
	for _, t := range cfg.Teams {
		rules, err := b.o.Noise.Noise(ctx, t.Name, since, until)
		if err != nil {
			return nil, err
		}
		all = append(all, rules...)
	}
	slices.SortStableFunc(all, func(a, b reports.RuleNoise) int { return b.ToilCost - a.ToilCost })
	return all, nil
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
	ranked, err := b.rankAll(ctx, team, now.Add(-7*24*time.Hour), now)
	if err != nil {
		return reply{}, err
	}
	var rules []reports.RuleNoise // those that cost somebody something
	for _, r := range ranked {
		if r.ToilCost > 0 {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return ephemeral("No pages in the last seven days%s. :sleeping:", forTeam(team)), nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Noisiest alert rules of the last seven days%s, by toil cost (interruptions weighted by when they landed, sleep hours most):", forTeam(team))
	for i, r := range rules[:min(len(rules), noisyTop)] {
		fmt.Fprintf(&sb, "\n%d. *%s* (%s): toil %d, %d interruption(s), %d in sleep hours", i+1, escape(r.Rule), escape(r.Team), r.ToilCost, r.Interruptions.Total, r.Interruptions.Sleep)
		if r.NotActionable > 0 {
			fmt.Fprintf(&sb, ", %d marked not actionable", r.NotActionable)
		}
		if len(r.Fixes) > 0 {
			sb.WriteString("\n    Fix: " + r.Fixes[0].Text)
		}
	}
	return ephemeral("%s", sb.String()), nil
}
