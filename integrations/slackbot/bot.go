// Package slackbot answers quietpager's slash command and the buttons on
// its Slack messages. It knows Slack's shapes (slack-go's types) but
// neither HTTP routing nor SQL: the web package verifies and decodes
// requests and hands them here; storage sits behind the small interfaces
// below.
//
// Theory of operation. Slack waits three seconds for an answer. Every
// command runs in a goroutine the Bot tracks; if it finishes within
// ReplyWithin, its reply is the HTTP answer; if not, the HTTP answer says
// it is under way and the reply follows through the command's
// response_url. Button clicks always answer through the response_url (Slack
// only wants a 200 for them). Stop cancels the work still running and
// waits for it, so nothing outlives the server.
package slackbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/rotation"
)

// IncidentService reads incidents and records what people do about them.
type IncidentService interface {
	Incidents(ctx context.Context, q dedupe.IncidentQuery) ([]dedupe.Incident, error)
	Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error)
	Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error
	Resolve(ctx context.Context, id int64, actor string, at time.Time) error
	RecordSilence(ctx context.Context, id int64, s dedupe.Silence) error
	MarkNotActionable(ctx context.Context, id int64, actor string, at time.Time) (bool, error)
}

// OnCallStore reads the on-call configuration and makes overrides.
type OnCallStore interface {
	Load(ctx context.Context) (rotation.Config, error)
	Overrides(ctx context.Context, rotation string, from, to time.Time) ([]rotation.Override, error)
	CreateOverride(ctx context.Context, o rotation.Override) (rotation.Override, error)
}

// SlackClient is what the bot asks of Slack's Web API; *integrations.Slack
// is one.
type SlackClient interface {
	LookupByEmail(ctx context.Context, email string) (string, error)
	Respond(ctx context.Context, responseURL string, m slack.WebhookMessage) error
}

// Options are the bot's dependencies and settings.
type Options struct {
	// Command is the slash command's name, for usage lines (default /oncall).
	Command   string
	Incidents IncidentService
	OnCall    OnCallStore
	Slack     SlackClient
	// Silencer may be nil: silences are then refused with a message saying
	// Alertmanager is not configured.
	Silencer integrations.Silencer
	Noise    NoiseRanker
	// ExternalURL is the UI's base URL, for links.
	ExternalURL string
	// MaxSilence is the longest silence allowed (default 24h).
	MaxSilence time.Duration
	// ReplyWithin is how long a command may take to be the HTTP answer
	// before it finishes through the response_url (default 2s, under
	// Slack's 3s).
	ReplyWithin time.Duration
	// WorkTimeout bounds one command or click (default 1m).
	WorkTimeout time.Duration
	// LookupTTL is how long an e-mail → Slack id answer is kept (default 1h).
	LookupTTL time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Bot answers slash commands and button clicks.
type Bot struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
	lookups map[string]lookup // by e-mail address
}

// New returns a Bot; call Stop when done with it.
func New(o Options) *Bot {
	if o.Command == "" {
		o.Command = "/oncall"
	}
	if o.MaxSilence <= 0 {
		o.MaxSilence = 24 * time.Hour
	}
	if o.ReplyWithin <= 0 {
		o.ReplyWithin = 2 * time.Second
	}
	if o.WorkTimeout <= 0 {
		o.WorkTimeout = time.Minute
	}
	if o.LookupTTL <= 0 {
		o.LookupTTL = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bot{o: o, ctx: ctx, cancel: cancel, lookups: map[string]lookup{}}
}

// Stop lets the work still running finish until ctx ends, then cancels
// it and waits for it to return. Commands and clicks that arrive
// afterwards are refused.
func (b *Bot) Stop(ctx context.Context) {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		b.cancel()
		<-done
	}
	b.cancel()
}

// spawn runs f in a tracked goroutine, unless the bot has stopped.
func (b *Bot) spawn(f func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, b.o.WorkTimeout)
		defer cancel()
		f(ctx)
	}()
	return true
}

// reply is an answer to a command or a click.
type reply struct {
	text      string
	blocks    []slack.Block
	inChannel bool // visible to the channel; otherwise only to the caller
	replace   bool // replaces the message whose button was clicked
}

func ephemeral(format string, args ...any) reply {
	return reply{text: fmt.Sprintf(format, args...)}
}

func (r reply) msg() slack.Msg {
	m := slack.Msg{Text: r.text, ResponseType: slack.ResponseTypeEphemeral}
	if r.inChannel {
		m.ResponseType = slack.ResponseTypeInChannel
	}
	if len(r.blocks) > 0 {
		m.Blocks = slack.Blocks{BlockSet: r.blocks}
	}
	return m
}

func (r reply) webhook() slack.WebhookMessage {
	m := r.msg()
	w := slack.WebhookMessage{Text: m.Text, ResponseType: m.ResponseType, ReplaceOriginal: r.replace}
	if len(r.blocks) > 0 {
		w.Blocks = &m.Blocks
	}
	return w
}

// Command answers a slash command. It returns within about ReplyWithin:
// with the reply, or with a note that the reply follows through the
// command's response_url.
func (b *Bot) Command(ctx context.Context, sc slack.SlashCommand) slack.Msg {
	result := make(chan reply)
	gaveUp := make(chan struct{})
	started := b.spawn(func(ctx context.Context) {
		r := b.command(ctx, sc)
		select {
		case result <- r:
		case <-gaveUp:
			b.respond(ctx, sc.ResponseURL, r)
		}
	})
	if !started {
		return ephemeral("quietpager is restarting; try again in a moment.").msg()
	}
	timer := time.NewTimer(b.o.ReplyWithin)
	defer timer.Stop()
	select {
	case r := <-result:
		return r.msg()
	case <-timer.C:
	case <-ctx.Done():
	}
	close(gaveUp)
	return ephemeral("Working on it…").msg()
}

func (b *Bot) respond(ctx context.Context, url string, r reply) {
	if err := b.o.Slack.Respond(ctx, url, r.webhook()); err != nil {
		b.o.Logger.Warn("slack: answering through response_url failed", "err", err)
	}
}

func (b *Bot) command(ctx context.Context, sc slack.SlashCommand) reply {
	if sc.Command != "" && sc.Command != b.o.Command {
		return ephemeral("This endpoint serves %s, not %s.", b.o.Command, sc.Command)
	}
	c, err := ParseCommand(sc.Text)
	if err != nil {
		return b.usageReply(err)
	}
	r, err := b.run(ctx, sc.UserID, c)
	if err != nil {
		return b.errorReply(err)
	}
	return r
}

func (b *Bot) run(ctx context.Context, userID string, c Command) (reply, error) {
	switch c.Sub {
	case SubHelp:
		return ephemeral("%s", b.help()), nil
	case SubWho:
		return b.who(ctx, c.Team)
	case SubIncidents:
		return b.incidents(ctx, c.Team)
	case SubNoisy:
		return b.noisy(ctx, c.Team)
	}
	cfg, me, err := b.caller(ctx, userID)
	if err != nil {
		return reply{}, err
	}
	switch c.Sub {
	case SubAck, SubResolve:
		return b.transition(ctx, me, c.Incident, c.Sub == SubResolve)
	case SubSilence:
		return b.silence(ctx, me, c.Incident, c.Duration)
	case SubTake:
		return b.take(ctx, cfg, me, c)
	case SubSwap:
		return b.swap(ctx, cfg, me, c)
	}
	return reply{}, usage("", "there is no subcommand %q", c.Sub)
}

// usageLine is one subcommand's usage.
func (b *Bot) usageLine(sub string) string {
	for _, s := range subcommands {
		if s.name == sub {
			return fmt.Sprintf("`%s %s`: %s", b.o.Command, s.args, s.does)
		}
	}
	return b.help()
}

func (b *Bot) help() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%s* talks to quietpager:\n", b.o.Command)
	for _, s := range subcommands {
		fmt.Fprintf(&sb, "• `%s %s`: %s\n", b.o.Command, s.args, s.does)
	}
	return strings.TrimRight(sb.String(), "\n")
}

func (b *Bot) usageReply(err error) reply {
	var u *UsageError
	if !errors.As(err, &u) {
		return b.errorReply(err)
	}
	if u.Sub == "" {
		return ephemeral("%s\n%s", escape(u.Problem), b.help())
	}
	return ephemeral("%s\nUsage: %s", escape(u.Problem), b.usageLine(u.Sub))
}

// errorReply turns an error into a polite ephemeral reply; internal errors
// are logged and never shown.
func (b *Bot) errorReply(err error) reply {
	var u *UsageError
	if errors.As(err, &u) {
		return b.usageReply(err)
	}
	var nl *notLinked
	if errors.As(err, &nl) {
		return ephemeral("I don't know who you are in quietpager yet. To link your Slack account, "+
			"ask whoever keeps the on-call file (`quietpager apply`) to set `slack_id: %s` on your entry "+
			"under `people`, or set your `email` there to the address of your Slack account.", nl.userID)
	}
	if errors.Is(err, context.Canceled) {
		return ephemeral("quietpager is restarting; try again in a moment.")
	}
	switch quietpager.ErrorCode(err) {
	case quietpager.Invalid, quietpager.NotFound, quietpager.Conflict:
		return ephemeral("%s", escape(upperFirst(quietpager.ErrorMessage(err))))
	case quietpager.Unavailable:
		b.o.Logger.Warn("slack command failed", "err", err)
		return ephemeral("That did not work: %s. Try again in a moment.", escape(quietpager.ErrorMessage(err)))
	}
	b.o.Logger.Error("slack command failed", "err", err)
	return ephemeral("Something went wrong inside quietpager; it has been logged.")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// escape escapes the characters Slack's mrkdwn reserves.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackTime shows t in each reader's own time zone, with a UTC fallback.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func (b *Bot) incidentURL(id int64) string {
	return fmt.Sprintf("%s/incidents/%d", strings.TrimSuffix(b.o.ExternalURL, "/"), id)
}
