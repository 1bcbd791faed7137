package slackbot_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quietpager/quietpager/integrations/slackbot"
)

func TestParseCommand(t *testing.T) {
	day := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		text string
		want slackbot.Command
	}{
		{"", slackbot.Command{Sub: "help"}},
		{"  HELP ", slackbot.Command{Sub: "help"}},
		{"who", slackbot.Command{Sub: "who"}},
		{"who payments", slackbot.Command{Sub: "who", Team: "payments"}},
		{"incidents Payments", slackbot.Command{Sub: "incidents", Team: "Payments"}},
		{"noisy", slackbot.Command{Sub: "noisy"}},
		{"ack 42", slackbot.Command{Sub: "ack", Incident: 42}},
		{"resolve #7", slackbot.Command{Sub: "resolve", Incident: 7}},
		{"silence 42 4h", slackbot.Command{Sub: "silence", Incident: 42, Duration: 4 * time.Hour}},
		{"silence #42 1d", slackbot.Command{Sub: "silence", Incident: 42, Duration: 24 * time.Hour}},
		{"silence 42 1h30m", slackbot.Command{Sub: "silence", Incident: 42, Duration: 90 * time.Minute}},
		{"take", slackbot.Command{Sub: "take"}},
		{"take 4h", slackbot.Command{Sub: "take", Duration: 4 * time.Hour}},
		{"take until 18:00", slackbot.Command{Sub: "take", Until: "18:00"}},
		{"take UNTIL 2026-12-01 09:00", slackbot.Command{Sub: "take", Until: "2026-12-01 09:00"}},
		{"swap <@U0BOB|bob> 2026-12-08", slackbot.Command{Sub: "swap", SlackUser: "U0BOB", Date: day}},
		{"swap <@U0BOB> 2026-12-08", slackbot.Command{Sub: "swap", SlackUser: "U0BOB", Date: day}},
		{"swap @bob 2026-12-08", slackbot.Command{Sub: "swap", Person: "bob", Date: day}},
	} {
		got, err := slackbot.ParseCommand(c.text)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", c.text, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", c.text, got, c.want)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	for _, c := range []struct {
		text, sub, problem string
	}{
		{"frobnicate", "", `there is no subcommand "frobnicate"`},
		{"who a b", "who", "at most one team"},
		{"ack", "ack", "needs the incident number"},
		{"ack x", "ack", `"x" is not an incident number`},
		{"ack 0", "ack", `"0" is not an incident number`},
		{"resolve 1 2", "resolve", "needs the incident number"},
		{"silence 42", "silence", "needs the incident number and a duration"},
		{"silence 42 forever", "silence", `"forever" is not a duration`},
		{"silence 42 0s", "silence", `"0s" is not a duration`},
		{"silence -1 1h", "silence", "not an incident number"},
		{"take soon", "take", `"soon" is not a duration`},
		{"take until", "take", "until needs a time"},
		{"take until teatime", "take", `"teatime" is not a time`},
		{"take 1h 2h", "take", "take takes a duration"},
		{"swap bob", "swap", "needs the person and the day"},
		{"swap bob tomorrow", "swap", `"tomorrow" is not a day`},
		{"swap @ 2026-12-08", "swap", "needs the person"},
	} {
		_, err := slackbot.ParseCommand(c.text)
		var u *slackbot.UsageError
		if !errors.As(err, &u) {
			t.Errorf("ParseCommand(%q): error %v, want a UsageError", c.text, err)
			continue
		}
		if u.Sub != c.sub || !strings.Contains(u.Problem, c.problem) {
			t.Errorf("ParseCommand(%q): usage of %q, %q; want %q, containing %q", c.text, u.Sub, u.Problem, c.sub, c.problem)
		}
	}
}

// FuzzParseCommand: whatever is typed, the parser returns a command or a
// usage error (never panics), and what it echoes back stays short and
// valid UTF-8.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "who payments", "ack 42", "resolve #7", "silence 42 4h",
		"take until 2026-12-01 09:00", "take 90m", "swap <@U0BOB|bob> 2026-12-08", "swap @bob 2026-02-30",
		"silence 9999999999999999999999 1h", "ack #", "noisy \u00e9\u00e8", "take until 25:61", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := slackbot.ParseCommand(text)
		if err != nil {
			var u *slackbot.UsageError
			if !errors.As(err, &u) {
				t.Fatalf("ParseCommand(%q): %v is not a UsageError", text, err)
			}
			if len(u.Problem) > 300 {
				t.Errorf("ParseCommand(%q): problem %d bytes long", text, len(u.Problem))
			}
			if utf8.ValidString(text) && !utf8.ValidString(u.Problem) {
				t.Errorf("ParseCommand(%q): problem %q is not UTF-8", text, u.Problem)
			}
			return
		}
		switch c.Sub {
		case "ack", "resolve":
			if c.Incident < 1 {
				t.Errorf("ParseCommand(%q): incident %d", text, c.Incident)
			}
		case "silence":
			if c.Incident < 1 || c.Duration <= 0 {
				t.Errorf("ParseCommand(%q): incident %d for %s", text, c.Incident, c.Duration)
			}
		case "take":
			if c.Duration < 0 || (c.Duration > 0 && c.Until != "") {
				t.Errorf("ParseCommand(%q): take %+v", text, c)
			}
		case "swap":
			if (c.SlackUser == "") == (c.Person == "") || c.Date.IsZero() {
				t.Errorf("ParseCommand(%q): swap %+v", text, c)
			}
		case "who", "incidents", "noisy", "help":
		default:
			t.Errorf("ParseCommand(%q): subcommand %q", text, c.Sub)
		}
	})
}
