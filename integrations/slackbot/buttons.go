package slackbot

import (
	"context"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/integrations"
)

// silenceButtons are the durations of the Silence buttons on a page.
var silenceButtons = map[string]time.Duration{
	integrations.ActionSilence1h:  time.Hour,
	integrations.ActionSilence4h:  4 * time.Hour,
	integrations.ActionSilence24h: 24 * time.Hour,
}

// Interact handles a click on one of quietpager's buttons. It returns at
// once; the work runs in the background and its outcome is told to the
// clicker through the click's response_url. The page message itself is
// edited by the page update job once the incident changed.
func (b *Bot) Interact(_ context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || a.ActionID == integrations.ActionOpen {
			continue // the link button: Slack opens the link itself
		}
		action := *a
		b.spawn(func(ctx context.Context) {
			r, err := b.click(ctx, cb.User.ID, action)
			if err != nil {
				r = b.errorReply(err)
			}
			if r.text != "" {
				b.respond(ctx, cb.ResponseURL, r)
			}
		})
	}
}

func (b *Bot) click(ctx context.Context, userID string, a slack.BlockAction) (reply, error) {
	cfg, me, err := b.caller(ctx, userID)
	if err != nil {
		return reply{}, err
	}
	if a.ActionID == ActionSwapAccept {
		return b.acceptSwap(ctx, cfg, me, a.Value)
	}
	id, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil || id < 1 {
		return reply{}, quietpager.Errorf(quietpager.Invalid, "this button names no incident")
	}
	switch a.ActionID {
	case integrations.ActionAck, integrations.ActionResolve:
		return b.transition(ctx, me, id, a.ActionID == integrations.ActionResolve)
	case integrations.ActionNotActionable:
		added, err := b.o.Incidents.MarkNotActionable(ctx, id, me.Name, b.o.Now().UTC())
		if err != nil {
			return reply{}, err
		}
		if !added {
			return ephemeral("You had already marked incident #%d not actionable.", id), nil
		}
		return ephemeral("Marked incident #%d not actionable: it counts against its alert rule in the noise ranking.", id), nil
	}
	if d, ok := silenceButtons[a.ActionID]; ok {
		r, err := b.silence(ctx, me, id, d)
		r.inChannel = false // the page message shows the silence to everyone
		return r, err
	}
	return reply{}, quietpager.Errorf(quietpager.Invalid, "quietpager has no button %q", truncateRunes(a.ActionID, 40))
}
