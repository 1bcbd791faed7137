package integrations

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// SlackOptions configure a Slack client.
type SlackOptions struct {
	Token string // bot token (xoxb-…)
	// APIURL overrides https://slack.com/api/ (tests: slacktest's GetAPIURL).
	APIURL string
	// HTTPClient makes each attempt; retries are layered on top of it.
	// Default: a pooled client with Retry.AttemptTimeout.
	HTTPClient *http.Client
	Retry      RetryOptions
	Breaker    BreakerOptions
	Metrics    *Metrics
}

// Slack posts pages to channels and people, and updates them in place.
// It is safe for concurrent use.
type Slack struct {
	api     *slack.Client
	http    *http.Client
	breaker *breaker
	metrics *Metrics
}

// Action ids of the buttons on a page; the value of each is the incident id.
const (
	ActionAck           = "ack"
	ActionResolve       = "resolve"
	ActionSilence1h     = "silence_1h"
	ActionSilence4h     = "silence_4h"
	ActionSilence24h    = "silence_24h"
	ActionNotActionable = "not_actionable"
	ActionOpen          = "open" // the link button; Slack sends it too, ignore it
)

// BlockIDActions is the block id of the buttons block.
const BlockIDActions = "quietpager_actions"

// NewSlack builds a Slack client.
func NewSlack(o SlackOptions) *Slack {
	client := newRetryingClient(o.HTTPClient, o.Retry)
	opts := []slack.Option{slack.OptionHTTPClient(client)}
	if o.APIURL != "" {
		u := o.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	return &Slack{
		api:     slack.New(o.Token, opts...),
		http:    client,
		breaker: newBreaker("slack", o.Breaker, o.Metrics),
		metrics: o.Metrics,
	}
}

// Post sends the page to a team channel, mentioning mentionUserID (a Slack
// user id, or "" for no mention), with the summary, the labels, a link to
// the incident and the action buttons.
//
// An error wrapping ErrAmbiguous means Slack may have posted: the request
// went out and no answer came back.
func (s *Slack) Post(ctx context.Context, channel, mentionUserID string, p Page) (Receipt, error) {
	var r Receipt
	err := s.call(ctx, "post", func() error {
		if channel == "" {
			return permanent(errors.New("slack: no channel"))
		}
		var err error
		r, err = s.post(ctx, channel, mentionUserID, p)
		return err
	})
	s.metrics.delivered(channelSlack, err)
	return r, err
}

// DirectMessage opens (or resumes) the direct conversation with a user and
// posts the page there.
func (s *Slack) DirectMessage(ctx context.Context, userID string, p Page) (Receipt, error) {
	var r Receipt
	err := s.call(ctx, "direct message", func() error {
		if userID == "" {
			return permanent(errors.New("slack: no user"))
		}
		ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{
			Users:    []string{userID},
			ReturnIM: true,
		})
		if err != nil {
			return slackError("conversations.open", err)
		}
		if ch == nil || ch.ID == "" {
			return errors.New("slack: conversations.open returned no channel")
		}
		r, err = s.post(ctx, ch.ID, "", p)
		return err
	})
	s.metrics.delivered(channelSlack, err)
	return r, err
}

// PostText posts a plain message (mrkdwn) to a channel, without unfurling
// its links: the weekly report's summary.
func (s *Slack) PostText(ctx context.Context, channel, text string) (Receipt, error) {
	var r Receipt
	err := s.call(ctx, "post", func() error {
		if channel == "" {
			return permanent(errors.New("slack: no channel"))
		}
		ch, ts, err := s.api.PostMessageContext(nonIdempotent(ctx), channel, slack.MsgOptionText(text, false),
			slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
		if err != nil {
			return slackError("chat.postMessage", err)
		}
		r = Receipt{Channel: ch, ID: ts}
		return nil
	})
	s.metrics.delivered(channelSlack, err)
	return r, err
}

func (s *Slack) post(ctx context.Context, channel, mention string, p Page) (Receipt, error) {
	ch, ts, err := s.api.PostMessageContext(nonIdempotent(ctx), channel, messageOptions(mention, p)...)
	if err != nil {
		return Receipt{}, slackError("chat.postMessage", err)
	}
	return Receipt{Channel: ch, ID: ts}, nil
}

// Update rewrites the message of r in place to show the page's new state
// ("Acknowledged by alice"). Once resolved, the buttons are removed.
// chat.update is idempotent, so it is safe to retry.
func (s *Slack) Update(ctx context.Context, r Receipt, p Page) error {
	err := s.call(ctx, "update", func() error {
		if r.Channel == "" || r.ID == "" {
			return permanent(errors.New("slack: receipt has no channel or ts"))
		}
		_, _, _, err := s.api.UpdateMessageContext(ctx, r.Channel, r.ID, messageOptions("", p)...)
		return slackError("chat.update", err)
	})
	s.metrics.delivered(channelSlack, err)
	return err
}

// Reply posts text in the thread of the message of r (a page in a team
// channel), without broadcasting it to the channel: what happens to an
// incident after its page stays with the page.
//
// An error wrapping ErrAmbiguous means Slack may have posted.
func (s *Slack) Reply(ctx context.Context, r Receipt, text string) error {
	err := s.call(ctx, "reply", func() error {
		if r.Channel == "" || r.ID == "" {
			return permanent(errors.New("slack: receipt has no channel or ts"))
		}
		_, _, err := s.api.PostMessageContext(nonIdempotent(ctx), r.Channel, slack.MsgOptionText(text, false),
			slack.MsgOptionTS(r.ID), slack.MsgOptionDisableLinkUnfurl())
		return slackError("chat.postMessage", err)
	})
	s.metrics.delivered(channelSlack, err)
	return err
}

// Respond posts m to a response_url that Slack handed a slash command or
// a button click: the way to answer after the three seconds Slack waits.
func (s *Slack) Respond(ctx context.Context, responseURL string, m slack.WebhookMessage) error {
	return s.call(ctx, "respond", func() error {
		if responseURL == "" {
			return permanent(errors.New("slack: no response_url"))
		}
		return slackError("response_url", slack.PostWebhookCustomHTTPContext(ctx, responseURL, s.http, &m))
	})
}

// LookupByEmail returns the Slack user id of the person with that e-mail
// address. An unknown address is a Permanent error.
func (s *Slack) LookupByEmail(ctx context.Context, email string) (string, error) {
	var id string
	err := s.call(ctx, "lookup", func() error {
		u, err := s.api.GetUserByEmailContext(ctx, email)
		if err != nil {
			return slackError("users.lookupByEmail", err)
		}
		id = u.ID
		return nil
	})
	return id, err
}

func (s *Slack) call(ctx context.Context, what string, fn func() error) error {
	if err := s.breaker.do(ctx, fn); err != nil {
		return fmt.Errorf("slack %s: %w", what, err)
	}
	return nil
}

// Slack error codes that retrying the same request cannot fix. Anything
// else (internal_error, ratelimited, invalid_auth, …) is retryable: auth
// errors are a service-wide misconfiguration, which should trip the breaker
// and keep pages queued until an operator fixes it, not dead-letter them.
var permanentSlackErrors = map[string]bool{
	"channel_not_found":   true,
	"not_in_channel":      true,
	"is_archived":         true,
	"user_not_found":      true,
	"users_not_found":     true,
	"user_disabled":       true,
	"cannot_dm_bot":       true,
	"message_not_found":   true,
	"cant_update_message": true,
	"edit_window_closed":  true,
	"invalid_blocks":      true,
	"invalid_arguments":   true,
	"invalid_arg_name":    true,
	"msg_too_long":        true,
	"no_text":             true,
	"too_many_users":      true,
	"restricted_action":   true,
	"invalid_email":       true,
}

// slackError says whether err from a Slack method is Permanent.
func slackError(method string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", method, err)
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) && permanentSlackErrors[resp.Err] {
		return permanent(err)
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) && status.Code >= 400 && status.Code < 500 && status.Code != http.StatusTooManyRequests {
		return permanent(err)
	}
	return err
}

// messageOptions builds the Block Kit message for a page in its state.
func messageOptions(mention string, p Page) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(fallbackText(mention, p), false),
		slack.MsgOptionBlocks(pageBlocks(mention, p)...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		// Lets a later look at the channel history find the page of an
		// incident, e.g. after an ambiguous post.
		slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType:    "quietpager_page",
			EventPayload: map[string]any{"incident_id": p.IncidentID},
		}),
	}
}

// fallbackText is the notification text (and what screen readers and old
// clients show).
func fallbackText(mention string, p Page) string {
	var b strings.Builder
	if mention != "" {
		fmt.Fprintf(&b, "<@%s> ", mention)
	}
	switch p.State {
	case StateAcknowledged:
		b.WriteString("Acknowledged: ")
	case StateResolved:
		b.WriteString("Resolved: ")
	}
	b.WriteString(escapeSlack(p.Title))
	return b.String()
}

func pageBlocks(mention string, p Page) []slack.Block {
	id := strconv.FormatInt(p.IncidentID, 10)

	var head strings.Builder
	if mention != "" {
		fmt.Fprintf(&head, "<@%s> ", mention)
	}
	icon := ":rotating_light:"
	switch p.State {
	case StateAcknowledged:
		icon = ":eyes:"
	case StateResolved:
		icon = ":white_check_mark:"
	}
	title := escapeSlack(p.Title)
	if p.URL != "" {
		title = fmt.Sprintf("<%s|%s>", p.URL, title)
	}
	fmt.Fprintf(&head, "%s *%s*", icon, title)
	if p.Summary != "" {
		head.WriteString("\n")
		head.WriteString(escapeSlack(p.Summary))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(truncate(head.String(), 3000)), nil, nil),
	}

	var ctx []slack.MixedElement
	if st := stateLine(p); st != "" {
		ctx = append(ctx, mrkdwn(st))
	}
	for _, n := range p.Notes {
		ctx = append(ctx, mrkdwn(escapeSlack(n)))
	}
	if len(p.Labels) > 0 {
		var l []string
		for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
			l = append(l, fmt.Sprintf("`%s=%s`", escapeSlack(k), escapeSlack(p.Labels[k])))
		}
		ctx = append(ctx, mrkdwn(truncate(strings.Join(l, " "), 3000)))
	}
	ctx = append(ctx, mrkdwn("incident #"+id))
	blocks = append(blocks, slack.NewContextBlock("", ctx...))

	if p.State == StateResolved {
		return blocks // nothing left to do: no buttons
	}
	var buttons []slack.BlockElement
	if p.URL != "" {
		buttons = append(buttons, slack.NewButtonBlockElement(ActionOpen, id, plain("Open")).WithURL(p.URL))
	}
	if p.State != StateAcknowledged {
		buttons = append(buttons, slack.NewButtonBlockElement(ActionAck, id, plain("Acknowledge")).WithStyle(slack.StylePrimary))
	}
	buttons = append(buttons,
		slack.NewButtonBlockElement(ActionResolve, id, plain("Resolve")),
		slack.NewButtonBlockElement(ActionSilence1h, id, plain("Silence 1h")),
		slack.NewButtonBlockElement(ActionSilence4h, id, plain("Silence 4h")),
		slack.NewButtonBlockElement(ActionSilence24h, id, plain("Silence 24h")),
		slack.NewButtonBlockElement(ActionNotActionable, id, plain("Not actionable")).WithStyle(slack.StyleDanger),
	)
	return append(blocks, slack.NewActionBlock(BlockIDActions, buttons...))
}

func stateLine(p Page) string {
	var verb string
	switch p.State {
	case StateAcknowledged:
		verb = "Acknowledged"
	case StateResolved:
		verb = "Resolved"
	default:
		return ""
	}
	if p.Actor != "" {
		return fmt.Sprintf("*%s by %s*", verb, escapeSlack(p.Actor))
	}
	return "*" + verb + "*"
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// escapeSlack escapes the three characters Slack's mrkdwn reserves, so an
// alert's text cannot forge mentions or links.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
