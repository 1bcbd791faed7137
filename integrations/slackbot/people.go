package slackbot

import (
	"context"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

// notLinked: the Slack user is nobody in the on-call configuration.
type notLinked struct{ userID string }

func (e *notLinked) Error() string { return "slack user " + e.userID + " is not linked to a person" }

// lookup is a cached answer of users.lookupByEmail ("" for no such user).
type lookup struct {
	slackID string
	at      time.Time
}

// caller loads the configuration and finds the person behind a Slack user.
func (b *Bot) caller(ctx context.Context, userID string) (rotation.Config, rotation.Person, error) {
	cfg, err := b.o.OnCall.Load(ctx)
	if err != nil {
		return cfg, rotation.Person{}, err
	}
	p, ok, err := b.person(ctx, cfg, userID)
	if err != nil {
		return cfg, p, err
	}
	if !ok {
		return cfg, p, &notLinked{userID: userID}
	}
	return cfg, p, nil
}

// person matches a Slack user id to a person: by the person's slack_id,
// else by looking up the Slack id of each person's e-mail address (people
// without a slack_id only; answers cached for LookupTTL).
func (b *Bot) person(ctx context.Context, cfg rotation.Config, userID string) (rotation.Person, bool, error) {
	if userID == "" {
		return rotation.Person{}, false, nil
	}
	for _, p := range cfg.People {
		if p.SlackID == userID {
			return p, true, nil
		}
	}
	for _, p := range cfg.People {
		if p.SlackID != "" || p.Email == "" {
			continue
		}
		id, err := b.slackIDOf(ctx, p.Email)
		if err != nil {
			return rotation.Person{}, false, err
		}
		if id == userID {
			return p, true, nil
		}
	}
	return rotation.Person{}, false, nil
}

func (b *Bot) slackIDOf(ctx context.Context, email string) (string, error) {
	now := b.o.Now()
	b.mu.Lock()
	l, ok := b.lookups[email]
	b.mu.Unlock()
	if ok && now.Sub(l.at) < b.o.LookupTTL {
		return l.slackID, nil
	}
	id, err := b.o.Slack.LookupByEmail(ctx, email)
	if err != nil && !integrations.Permanent(err) {
		return "", quietpager.Wrap(quietpager.Unavailable, err, "Slack did not answer who you are")
	}
	// A Permanent error is Slack saying there is no such user: cache that too.
	b.mu.Lock()
	b.lookups[email] = lookup{slackID: id, at: now}
	b.mu.Unlock()
	return id, nil
}

// personNamed finds a person by name or, for a Slack mention, by Slack id.
func (b *Bot) personNamed(ctx context.Context, cfg rotation.Config, name, slackUser string) (rotation.Person, bool, error) {
	if slackUser != "" {
		return b.person(ctx, cfg, slackUser)
	}
	for _, p := range cfg.People {
		if p.Name == name {
			return p, true, nil
		}
	}
	return rotation.Person{}, false, nil
}

// mentionOf mentions a person in Slack when their Slack id is known.
func mentionOf(p rotation.Person) string {
	if p.SlackID != "" {
		return "<@" + p.SlackID + ">"
	}
	return "*" + escape(p.Name) + "*"
}

// teamsOf lists the teams the person is a member of, in file order.
func teamsOf(cfg rotation.Config, person string) []string {
	var out []string
	for _, t := range cfg.Teams {
		for _, m := range t.Members {
			if m == person {
				out = append(out, t.Name)
				break
			}
		}
	}
	return out
}

// rotationOf is the rotation a person takes the pager on: the first
// rotation (in file order) that lists them, else the first rotation of
// their first team.
func rotationOf(cfg rotation.Config, person string) (rotation.Rotation, bool) {
	for _, r := range cfg.Rotations {
		for _, m := range r.Members {
			if m == person {
				return r, true
			}
		}
	}
	teams := teamsOf(cfg, person)
	for _, r := range cfg.Rotations {
		if len(teams) > 0 && r.Team == teams[0] {
			return r, true
		}
	}
	return rotation.Rotation{}, false
}
