package slackbot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Subcommands of the slash command.
const (
	SubWho       = "who"
	SubIncidents = "incidents"
	SubAck       = "ack"
	SubResolve   = "resolve"
	SubTake      = "take"
	SubSwap      = "swap"
	SubSilence   = "silence"
	SubNoisy     = "noisy"
	SubHelp      = "help"
)

// subcommands in the order help lists them, with their usage (after the
// command name) and what they do.
var subcommands = []struct{ name, args, does string }{
	{SubWho, "who [team]", "who is on call now in each rotation, until when, and who is next"},
	{SubIncidents, "incidents [team]", "open incidents, oldest first, with buttons"},
	{SubAck, "ack <incident>", "acknowledge an incident"},
	{SubResolve, "resolve <incident>", "resolve an incident"},
	{SubTake, "take [duration | until <time>]", "take the pager on your team's rotation from now (default: to the end of the shift)"},
	{SubSwap, "swap @person <YYYY-MM-DD>", "offer your shift on that day to someone; they accept with a button"},
	{SubSilence, "silence <incident> <duration>", "silence the incident's alerts in Alertmanager"},
	{SubNoisy, "noisy [team]", "the five alert rules with the highest toil cost this week, and what to change"},
	{SubHelp, "help", "this list"},
}

// Command is a parsed slash command.
type Command struct {
	Sub      string
	Team     string        // who, incidents, noisy: "" for every team
	Incident int64         // ack, resolve, silence
	Duration time.Duration // silence; take (0: to the end of the shift)
	// Until is take's end as typed ("18:00", "2026-12-01 09:00"), read in
	// the caller's time zone when the command runs.
	Until string
	// Swap's other person: a Slack user id (from a mention) or a name.
	SlackUser, Person string
	Date              time.Time // swap: the day, as a date at UTC midnight
}

// UsageError is a command that could not be parsed: what is wrong and the
// subcommand whose usage line to show ("" for the whole list).
type UsageError struct {
	Sub     string
	Problem string
}

func (e *UsageError) Error() string { return e.Problem }

func usage(sub, format string, args ...any) error {
	return &UsageError{Sub: sub, Problem: fmt.Sprintf(format, args...)}
}

// untilLayouts are the forms take's "until" accepts, in the caller's zone.
var untilLayouts = []string{"15:04", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}

// mention is how Slack escapes a user mention in command text:
// <@U123ABC> or <@U123ABC|alice>.
var mention = regexp.MustCompile(`^<@([A-Z0-9]+)(?:\|[^>]*)?>$`)

// ParseCommand parses the text after the command name. Subcommand names
// are case-insensitive; arguments keep their case.
func ParseCommand(text string) (Command, error) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return Command{Sub: SubHelp}, nil
	}
	c := Command{Sub: strings.ToLower(f[0])}
	args := f[1:]
	switch c.Sub {
	case SubWho, SubIncidents, SubNoisy:
		if len(args) > 1 {
			return c, usage(c.Sub, "%s takes at most one team name", c.Sub)
		}
		if len(args) == 1 {
			c.Team = args[0]
		}
	case SubAck, SubResolve:
		if len(args) != 1 {
			return c, usage(c.Sub, "%s needs the incident number", c.Sub)
		}
		id, err := incidentNumber(args[0])
		if err != nil {
			return c, usage(c.Sub, "%v", err)
		}
		c.Incident = id
	case SubSilence:
		if len(args) != 2 {
			return c, usage(c.Sub, "silence needs the incident number and a duration")
		}
		id, err := incidentNumber(args[0])
		if err != nil {
			return c, usage(c.Sub, "%v", err)
		}
		d, err := positiveDuration(args[1])
		if err != nil {
			return c, usage(c.Sub, "%v", err)
		}
		c.Incident, c.Duration = id, d
	case SubTake:
		switch {
		case len(args) == 0:
		case strings.EqualFold(args[0], "until"):
			if len(args) < 2 || len(args) > 3 {
				return c, usage(c.Sub, "until needs a time: 18:00, 2026-12-01 09:00 or 2026-12-01")
			}
			c.Until = strings.Join(args[1:], " ")
			if !untilValid(c.Until) {
				return c, usage(c.Sub, "%q is not a time; write 18:00, 2026-12-01 09:00 or 2026-12-01", c.Until)
			}
		case len(args) == 1:
			d, err := positiveDuration(args[0])
			if err != nil {
				return c, usage(c.Sub, "%v", err)
			}
			c.Duration = d
		default:
			return c, usage(c.Sub, "take takes a duration (4h) or until and a time")
		}
	case SubSwap:
		if len(args) != 2 {
			return c, usage(c.Sub, "swap needs the person and the day of your shift")
		}
		if m := mention.FindStringSubmatch(args[0]); m != nil {
			c.SlackUser = m[1]
		} else {
			c.Person = strings.TrimPrefix(args[0], "@")
			if c.Person == "" {
				return c, usage(c.Sub, "swap needs the person to offer the shift to")
			}
		}
		d, err := time.Parse("2006-01-02", args[1])
		if err != nil {
			return c, usage(c.Sub, "%q is not a day; write it as 2026-12-01", args[1])
		}
		c.Date = d
	case SubHelp:
	default:
		return Command{Sub: c.Sub}, usage("", "there is no subcommand %q", truncateRunes(f[0], 40))
	}
	return c, nil
}

func incidentNumber(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not an incident number (like 42 or #42)", truncateRunes(s, 40))
	}
	return id, nil
}

// positiveDuration reads a duration as rule files and Alertmanager spell
// them: 90m, 4h, 1d, 1w, 1h30m.
func positiveDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration (like 30m, 4h or 1d)", truncateRunes(s, 40))
	}
	return time.Duration(d), nil
}

func untilValid(s string) bool {
	for _, l := range untilLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// resolveUntil reads take's until in loc: a time of day alone means its
// next occurrence after now.
func resolveUntil(s string, now time.Time, loc *time.Location) (time.Time, error) {
	for _, l := range untilLayouts {
		t, err := time.ParseInLocation(l, s, loc)
		if err != nil {
			continue
		}
		if l == "15:04" {
			n := now.In(loc)
			t = time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), 0, 0, loc)
			if !t.After(now) {
				t = time.Date(n.Year(), n.Month(), n.Day()+1, t.Hour(), t.Minute(), 0, 0, loc)
			}
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// truncateRunes keeps what a user typed short in replies.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
