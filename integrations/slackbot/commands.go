package slackbot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

// lookAhead is how far ahead who and swap read overrides: far enough to
// find the next handoff after a long override.
const lookAhead = 93 * 24 * time.Hour

// maxTake bounds how long take may put the caller on call.
const maxTake = 31 * 24 * time.Hour

// incidentsListed is how many incidents one incidents reply lists.
const incidentsListed = 10

// ActionSwapAccept is the action id of a swap offer's Accept button.
const ActionSwapAccept = "swap_accept"

// checkTeam answers NotFound, naming the teams, for a team that does not
// exist ("" is every team).
func (b *Bot) checkTeam(ctx context.Context, team string) error {
	if team == "" {
		return nil
	}
	cfg, err := b.o.OnCall.Load(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range cfg.Teams {
		if t.Name == team {
			return nil
		}
		names = append(names, t.Name)
	}
	return quietpager.Errorf(quietpager.NotFound, "there is no team %q; teams: %s", truncateRunes(team, 40), strings.Join(names, ", "))
}

// who lists, per rotation, who is on call now, until when, and who is next.
func (b *Bot) who(ctx context.Context, team string) (reply, error) {
	cfg, err := b.o.OnCall.Load(ctx)
	if err != nil {
		return reply{}, err
	}
	if err := b.checkTeam(ctx, team); err != nil {
		return reply{}, err
	}
	now := b.o.Now().UTC()
	var lines []string
	for _, r := range cfg.Rotations {
		if team != "" && r.Team != team {
			continue
		}
		overrides, err := b.o.OnCall.Overrides(ctx, r.Name, now, now.Add(lookAhead))
		if err != nil {
			return reply{}, err
		}
		cur := r.OnCall(now, overrides)
		line := fmt.Sprintf("*%s* (%s): *%s*", escape(r.Name), escape(r.Team), escape(cur.Person))
		if cur.Override {
			line += " (override)"
		}
		if !cur.End.IsZero() {
			next := r.OnCall(cur.End, overrides)
			line += fmt.Sprintf(" until %s, then *%s*", slackTime(cur.End), escape(next.Person))
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return ephemeral("No rotations are configured%s.", forTeam(team)), nil
	}
	return ephemeral("On call now:\n%s", strings.Join(lines, "\n")), nil
}

func forTeam(team string) string {
	if team == "" {
		return ""
	}
	return " for " + escape(team)
}

// incidents lists the open and acknowledged incidents, oldest first, each
// with its buttons.
func (b *Bot) incidents(ctx context.Context, team string) (reply, error) {
	if err := b.checkTeam(ctx, team); err != nil {
		return reply{}, err
	}
	var list []dedupe.Incident
	for _, st := range []dedupe.IncidentState{dedupe.IncidentOpen, dedupe.IncidentAcknowledged} {
		got, err := b.o.Incidents.Incidents(ctx, dedupe.IncidentQuery{State: st, Limit: 1000})
		if err != nil {
			return reply{}, err
		}
		for _, in := range got {
			if team == "" || in.Team == team {
				list = append(list, in)
			}
		}
	}
	if len(list) == 0 {
		return ephemeral("No open incidents%s. :sunrise:", forTeam(team)), nil
	}
	slices.SortFunc(list, func(a, b dedupe.Incident) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	text := fmt.Sprintf("%d open incident(s)%s, oldest first", len(list), forTeam(team))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text+":"), nil, nil)}
	for _, in := range list[:min(len(list), incidentsListed)] {
		id := strconv.FormatInt(in.ID, 10)
		line := fmt.Sprintf("<%s|#%d %s> (%s) opened %s: %s", b.incidentURL(in.ID), in.ID, escape(in.Title),
			in.State, slackTime(in.OpenedAt), escape(in.Summary))
		if in.State == dedupe.IncidentAcknowledged {
			line += ", acknowledged by " + escape(in.AcknowledgedBy)
		}
		var buttons []slack.BlockElement
		if in.State == dedupe.IncidentOpen {
			buttons = append(buttons, slack.NewButtonBlockElement(integrations.ActionAck, id, plain("Acknowledge")).WithStyle(slack.StylePrimary))
		}
		buttons = append(buttons, slack.NewButtonBlockElement(integrations.ActionResolve, id, plain("Resolve")))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(line), nil, nil),
			slack.NewActionBlock("incident_"+id, buttons...))
	}
	if len(list) > incidentsListed {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("and %d more in the web UI", len(list)-incidentsListed))))
	}
	return reply{text: text, blocks: blocks}, nil
}

// transition acknowledges or resolves an incident as the person.
func (b *Bot) transition(ctx context.Context, me rotation.Person, id int64, resolve bool) (reply, error) {
	apply, verb := b.o.Incidents.Acknowledge, "Acknowledged"
	if resolve {
		apply, verb = b.o.Incidents.Resolve, "Resolved"
	}
	if err := apply(ctx, id, me.Name, b.o.Now().UTC()); err != nil {
		return reply{}, err
	}
	in, err := b.o.Incidents.Incident(ctx, id)
	if err != nil {
		return reply{}, err
	}
	return ephemeral("%s <%s|#%d %s>.", verb, b.incidentURL(id), id, escape(in.Title)), nil
}

// silence silences the incident's alerts in Alertmanager for d, as the
// web UI does (integrations.IncidentSilencer says how).
func (b *Bot) silence(ctx context.Context, me rotation.Person, id int64, d time.Duration) (reply, error) {
	if b.o.Silencer == nil {
		return ephemeral("Silences are not set up: quietpager needs `--alertmanager-url`."), nil
	}
	s := integrations.IncidentSilencer{Alertmanager: b.o.Silencer, Incidents: b.o.Incidents, Max: b.o.MaxSilence}
	in, sl, err := s.Silence(ctx, id, d, me.Name, b.o.Now(), b.incidentURL(id))
	if err != nil {
		return reply{}, err
	}
	return reply{inChannel: true, text: fmt.Sprintf("%s silenced <%s|#%d %s> for %s, until %s (matching %s).",
		mentionOf(me), b.incidentURL(id), id, escape(in.Title), model.Duration(d), slackTime(sl.EndsAt), escape(matchers(in.CommonLabels)))}, nil
}

func matchers(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, fmt.Sprintf("%s=%q", k, v))
	}
	slices.Sort(out)
	return "{" + strings.Join(out, ", ") + "}"
}

// take puts the caller on call on their rotation from now: until the end
// of the current shift, for a duration, or until a time in their zone.
func (b *Bot) take(ctx context.Context, cfg rotation.Config, me rotation.Person, c Command) (reply, error) {
	r, ok := rotationOf(cfg, me.Name)
	if !ok {
		return reply{}, quietpager.Errorf(quietpager.NotFound, "you are in no team with a rotation, so there is no pager to take")
	}
	now := b.o.Now().UTC()
	var end time.Time
	switch {
	case c.Duration > 0:
		end = now.Add(c.Duration)
	case c.Until != "":
		t, err := resolveUntil(c.Until, now, zoneOf(me))
		if err != nil {
			return reply{}, usage(SubTake, "%v", err)
		}
		end = t
	default:
		overrides, err := b.o.OnCall.Overrides(ctx, r.Name, now, now.Add(lookAhead))
		if err != nil {
			return reply{}, err
		}
		end = r.OnCall(now, overrides).End
		if end.IsZero() {
			return reply{}, usage(SubTake, "%s never hands over; say how long: take 4h", r.Name)
		}
	}
	if !end.After(now) {
		return reply{}, usage(SubTake, "that time has passed")
	}
	if end.Sub(now) > maxTake {
		return reply{}, usage(SubTake, "take covers at most %s", model.Duration(maxTake))
	}
	if _, err := b.o.OnCall.CreateOverride(ctx, rotation.Override{Rotation: r.Name, Person: me.Name,
		Start: now, End: end, CreatedBy: me.Name}); err != nil {
		return reply{}, err
	}
	return reply{inChannel: true, text: fmt.Sprintf("%s takes the pager for *%s* until %s.",
		mentionOf(me), escape(r.Name), slackTime(end))}, nil
}

func zoneOf(p rotation.Person) *time.Location {
	if p.TimeZone == nil {
		return time.UTC
	}
	return p.TimeZone
}

// swapOffer is what an Accept button carries: Slack signs the click, so
// it comes back as it was posted.
type swapOffer struct {
	Rotation string `json:"r"`
	From     string `json:"f"`
	To       string `json:"t"`
	Start    int64  `json:"s"` // Unix seconds
	End      int64  `json:"e"`
}

// swap offers the caller's shift on a day to another person, who accepts
// with a button; accepting makes an override.
func (b *Bot) swap(ctx context.Context, cfg rotation.Config, me rotation.Person, c Command) (reply, error) {
	other, ok, err := b.personNamed(ctx, cfg, c.Person, c.SlackUser)
	if err != nil {
		return reply{}, err
	}
	if !ok {
		return reply{}, quietpager.Errorf(quietpager.NotFound, "%s is nobody quietpager knows", whom(c))
	}
	if other.Name == me.Name {
		return reply{}, usage(SubSwap, "you cannot swap with yourself")
	}
	r, ok := rotationOf(cfg, me.Name)
	if !ok {
		return reply{}, quietpager.Errorf(quietpager.NotFound, "you are in no rotation, so there is no shift to swap")
	}
	loc := r.TimeZone
	if loc == nil {
		loc = time.UTC
	}
	dayStart := time.Date(c.Date.Year(), c.Date.Month(), c.Date.Day(), 0, 0, 0, 0, loc)
	dayEnd := time.Date(c.Date.Year(), c.Date.Month(), c.Date.Day()+1, 0, 0, 0, 0, loc)
	now := b.o.Now()
	if !dayEnd.After(now) {
		return reply{}, usage(SubSwap, "%s has passed", c.Date.Format("2006-01-02"))
	}
	overrides, err := b.o.OnCall.Overrides(ctx, r.Name, dayStart.Add(-lookAhead), dayEnd.Add(lookAhead))
	if err != nil {
		return reply{}, err
	}
	shift, ok := shiftOn(r, me.Name, later(dayStart, now), dayEnd, overrides)
	if !ok {
		return reply{}, quietpager.Errorf(quietpager.NotFound, "you are not on call in %s on %s", r.Name, c.Date.Format("2006-01-02"))
	}
	// A shift that started already is offered from now on.
	start := later(shift.Start, now)
	offer := swapOffer{Rotation: r.Name, From: me.Name, To: other.Name, Start: start.Unix(), End: shift.End.Unix()}
	value, err := json.Marshal(offer)
	if err != nil {
		return reply{}, err
	}
	text := fmt.Sprintf("%s asks %s to take their *%s* shift from %s to %s.", mentionOf(me), mentionOf(other),
		escape(r.Name), slackTime(start), slackTime(shift.End))
	return reply{inChannel: true, text: text, blocks: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("swap", slack.NewButtonBlockElement(ActionSwapAccept, string(value), plain("Accept")).WithStyle(slack.StylePrimary)),
	}}, nil
}

// shiftOn finds person's first stretch on call in [from, to), whole: not
// clipped to the range.
func shiftOn(r rotation.Rotation, person string, from, to time.Time, overrides []rotation.Override) (rotation.OnCallShift, bool) {
	for _, s := range r.Shifts(from, to, overrides) {
		if s.Person != person {
			continue
		}
		for _, whole := range r.Shifts(s.Start.Add(-lookAhead), s.End.Add(lookAhead), overrides) {
			if !whole.Start.After(s.Start) && whole.End.After(s.Start) {
				return whole, true
			}
		}
	}
	return rotation.OnCallShift{}, false
}

func whom(c Command) string {
	if c.SlackUser != "" {
		return "the Slack user " + c.SlackUser
	}
	return strconv.Quote(truncateRunes(c.Person, 40))
}

// acceptSwap makes the override a swap offer asked for, if the clicker is
// the person it was offered to and the shift is still the offerer's.
func (b *Bot) acceptSwap(ctx context.Context, cfg rotation.Config, me rotation.Person, value string) (reply, error) {
	var o swapOffer
	if err := json.Unmarshal([]byte(value), &o); err != nil || o.Rotation == "" || o.End <= o.Start {
		return reply{}, quietpager.Errorf(quietpager.Invalid, "this swap offer is damaged")
	}
	if me.Name != o.To {
		return reply{}, quietpager.Errorf(quietpager.Conflict, "this swap was offered to %s, not to you", o.To)
	}
	start, end := time.Unix(o.Start, 0).UTC(), time.Unix(o.End, 0).UTC()
	now := b.o.Now().UTC()
	if !end.After(now) {
		return reply{}, quietpager.Errorf(quietpager.Conflict, "this shift is over")
	}
	start = later(start, now)
	var r *rotation.Rotation
	for i := range cfg.Rotations {
		if cfg.Rotations[i].Name == o.Rotation {
			r = &cfg.Rotations[i]
		}
	}
	if r == nil {
		return reply{}, quietpager.Errorf(quietpager.NotFound, "rotation %s no longer exists", o.Rotation)
	}
	overrides, err := b.o.OnCall.Overrides(ctx, r.Name, start.Add(-lookAhead), end.Add(lookAhead))
	if err != nil {
		return reply{}, err
	}
	if cur := r.OnCall(start, overrides); cur.Person != o.From {
		return reply{}, quietpager.Errorf(quietpager.Conflict, "the schedule changed: %s is on call then, not %s", cur.Person, o.From)
	}
	if _, err := b.o.OnCall.CreateOverride(ctx, rotation.Override{Rotation: r.Name, Person: me.Name,
		Start: start, End: end, CreatedBy: me.Name}); err != nil {
		return reply{}, err
	}
	return reply{inChannel: true, replace: true, text: fmt.Sprintf(":handshake: %s takes %s's *%s* shift from %s to %s.",
		mentionOf(me), escape(o.From), escape(r.Name), slackTime(start), slackTime(end))}, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
