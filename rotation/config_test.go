package rotation

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/flap"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseShift(t *testing.T) {
	good := []struct {
		in   string
		want Shift
	}{
		{"1d", Shift{Days: 1}},
		{"7d", Shift{Days: 7}},
		{"1w", Shift{Days: 7}},
		{"2w", Shift{Days: 14}},
		{"12h", Shift{Duration: 12 * time.Hour}},
		{"90m", Shift{Duration: 90 * time.Minute}},
		{"24h", Shift{Duration: 24 * time.Hour}}, // fixed, not a calendar day
		{"8h30m", Shift{Duration: 8*time.Hour + 30*time.Minute}},
	}
	for _, tc := range good {
		if got, err := ParseShift(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseShift(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "0d", "0w", "0h", "0", "-1d", "-12h", "1.5d", "d", "1x", "week", "1d12h", "10s", "1000d"} {
		if got, err := ParseShift(in); err == nil {
			t.Errorf("ParseShift(%q) = %+v, want an error", in, got)
		}
	}
}

func TestParseConfigMinimal(t *testing.T) {
	cfg, err := ParseConfig([]byte(readTestdata(t, "testdata/minimal.yaml")), "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := Config{
		People: []Person{{Name: "alice", Email: "alice@example.com", TimeZone: berlin}},
		Teams:  []Team{{Name: "ops", TimeZone: time.UTC, Members: []string{"alice"}}},
		Rotations: []Rotation{{Name: "primary", Team: "ops", Members: []string{"alice"}, Shift: Shift{Days: 7},
			Start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), TimeZone: time.UTC}},
		Escalation: []EscalationPolicy{{Team: "ops", Steps: []Step{{Targets: []Target{{Rotation: "primary"}}}}}},
		Routes:     []Route{{Name: "default", Team: "ops", Urgency: UrgencyPage, Default: true}},
	}
	if got, w := fmt.Sprintf("%+v", cfg), fmt.Sprintf("%+v", want); got != w {
		t.Errorf("minimal config:\n got %s\nwant %s", got, w)
	}
	if cfg.Rotations[0].TimeZone.String() != "UTC" {
		t.Errorf("rotation without time_zone got %s, want its team's (UTC)", cfg.Rotations[0].TimeZone)
	}
}

func TestParseConfigExample(t *testing.T) {
	cfg, err := ParseConfig([]byte(readTestdata(t, "../docs/examples/oncall.yaml")), "oncall.yaml")
	if err != nil {
		t.Fatalf("the documented example does not parse:\n%v", err)
	}
	zones := map[string]bool{}
	for _, p := range cfg.People {
		zones[p.TimeZone.String()] = true
	}
	urgencies := map[Urgency]bool{}
	for _, r := range cfg.Routes {
		urgencies[r.Urgency] = true
	}
	if len(cfg.Teams) != 2 || len(zones) != 3 || len(urgencies) != 3 || !cfg.Routes[len(cfg.Routes)-1].Default {
		t.Errorf("the example should show two teams, three zones, every urgency and a default route last: %+v", cfg)
	}
	var db Route
	for _, r := range cfg.Routes {
		if r.Name == "databases" {
			db = r
		}
	}
	if db.Flap != (flap.Options{Tau: 30 * time.Minute, High: 4, Low: 1.5, Quiet: 10 * time.Minute}) {
		t.Errorf("databases flap = %+v", db.Flap)
	}
	if len(db.Matchers) != 1 || !db.Matchers[0].Matches("db-eu") || db.Matchers[0].Matches("payments") {
		t.Errorf("databases matchers = %v", db.Matchers)
	}
	primary := cfg.Rotations[0]
	if primary.Start.Format(time.RFC3339) != "2026-11-02T09:00:00+01:00" || primary.Shift != (Shift{Days: 7}) {
		t.Errorf("payments-primary start %s shift %+v", primary.Start, primary.Shift)
	}
}

// configCase is the minimal file with edits; the line marked "# <-" is
// where the problem must be reported.
type configCase struct {
	name  string
	edits []string // old, new, …
	want  string   // the message must contain this
}

var configRejections = []configCase{
	{"rotation without members", []string{"members: [alice]\n    shift", "members: []  # <-\n    shift"}, `rotation "primary" has no members`},
	{"zero shift", []string{"shift: 1w", "shift: 0d  # <-"}, "longer than zero"},
	{"negative shift", []string{"shift: 1w", "shift: -12h  # <-"}, "longer than zero"},
	{"garbage shift", []string{"shift: 1w", "shift: fortnight  # <-"}, `invalid shift "fortnight"`},
	{"unknown person time zone", []string{"time_zone: Europe/Berlin", "time_zone: Europe/Berln  # <-"}, `unknown time zone "Europe/Berln"`},
	{"unknown rotation time zone", []string{"    start:", "    time_zone: CET/Somewhere  # <-\n    start:"}, `unknown time zone "CET/Somewhere"`},
	{"unknown team member", []string{"members: [alice]\nrotations", "members:\n      - alice\n      - bob  # <-\nrotations"}, `team "ops": unknown person "bob"`},
	{"unknown rotation member", []string{"members: [alice]\n    shift", "members: [alice, alcie]  # <-\n    shift"}, `unknown person "alcie"; did you mean "alice"?`},
	{"rotation of an unknown team", []string{"    team: ops\n    members", "    team: opz  # <-\n    members"}, `unknown team "opz"`},
	{"escalation to an unknown rotation", []string{"rotation: primary", "rotation: primry  # <-"}, `unknown rotation "primry"`},
	{"escalation to an unknown person", []string{"rotation: primary", "person: bob  # <-"}, `unknown person "bob"`},
	{"escalation of an unknown team", []string{"escalation:\n  - team: ops", "escalation:\n  - team: dev  # <-"}, `unknown team "dev"`},
	{"route to an unknown team", []string{"    team: ops\n    urgency", "    team: sre  # <-\n    urgency"}, `unknown team "sre"`},
	{"duplicate person", []string{"teams:", "  - name: alice  # <-\n    email: a@example.com\n    time_zone: UTC\nteams:"}, `duplicate person "alice" (first at line 2)`},
	{"duplicate rotation", []string{"escalation:", "  - name: primary  # <-\n    team: ops\n    members: [alice]\n    shift: 1d\n    start: 2026-11-02T09:00\nescalation:"}, `duplicate rotation "primary"`},
	{"duplicate route", []string{"routes:\n", "routes:\n  - name: default\n    matchers: ['a=\"b\"']\n    team: ops\n    urgency: digest\n"}, ""},
	{"bad matcher", []string{"routes:\n", "routes:\n  - name: db\n    matchers:\n      - 'team=~\"db(\"'  # <-\n    team: ops\n    urgency: page\n"}, `route "db": bad matcher`},
	{"matcher that is not one", []string{"routes:\n", "routes:\n  - name: db\n    matchers: ['critical']  # <-\n    team: ops\n    urgency: page\n"}, `bad matcher "critical"`},
	{"no default route", []string{"routes:", "routes:  # <-", "    default: true\n", "    matchers: ['a=\"b\"']\n"}, "no default route"},
	{"default route not last", []string{"    default: true", "    default: true  # <-", "urgency: page", "urgency: page\n  - name: late\n    matchers: ['a=\"b\"']\n    team: ops\n    urgency: digest"}, "default route but not the last"},
	{"two default routes", []string{"routes:\n", "routes:\n  - name: first\n    default: true  # <-\n    team: ops\n    urgency: digest\n"}, ""},
	{"route without matchers", []string{"routes:\n", "routes:\n  - name: all  # <-\n    team: ops\n    urgency: digest\n"}, `route "all" has no matchers`},
	{"unknown urgency", []string{"urgency: page", "urgency: pager  # <-"}, `unknown urgency "pager"`},
	{"unknown key in a team", []string{"    members: [alice]\nrotations", "    slack_chanel: '#ops'  # <-\n    members: [alice]\nrotations"}, `unknown key "slack_chanel"; did you mean "slack_channel"?`},
	{"unknown top-level key", []string{"teams:", "rotation:  # <-\n  - name: x\nteams:"}, `unknown key "rotation"`},
	{"unknown key in a step", []string{"delay: 0m", "delay: 0m\n        rotaton: primary  # <-"}, `unknown key "rotaton"`},
	{"key set twice", []string{"    shift: 1w", "    shift: 1w\n    shift: 1d  # <-"}, "shift is set twice"},
	{"flap low above high", []string{"urgency: page", "urgency: page\n    flap:  # <-\n      tau: 1h\n      high: 2\n      low: 6\n      quiet: 15m"}, "invalid flap thresholds"},
	{"flap without tau", []string{"urgency: page", "urgency: page\n    flap:  # <-\n      high: 6\n      low: 2\n      quiet: 15m"}, "tau is missing"},
	{"start in a daylight saving gap", []string{"time_zone: UTC\n    members", "time_zone: Europe/Berlin\n    members", `start: "2026-11-02T09:00"`, `start: "2026-03-29T02:30"  # <-`}, "does not exist in Europe/Berlin"},
	{"start with an offset", []string{`start: "2026-11-02T09:00"`, `start: "2026-11-02T09:00+01:00"  # <-`}, "invalid start"},
	{"paging route to a team without escalation", []string{"escalation:\n  - team: ops\n    steps:\n      - delay: 0m\n        rotation: primary\n", "", "    team: ops\n    urgency", "    team: ops  # <-\n    urgency"}, "no escalation policy"},
	{"escalation without steps", []string{"    steps:\n      - delay: 0m\n        rotation: primary", "    steps: []  # <-"}, "has no steps"},
	{"step paging nobody", []string{"        rotation: primary", "        # nobody"}, ""},
	{"negative delay", []string{"delay: 0m", "delay: -5m  # <-"}, "delay must not be negative"},
	{"person nobody can reach", []string{"    email: alice@example.com\n", ""}, "neither email nor slack_id"},
	{"bad email", []string{"email: alice@example.com", "email: alice  # <-"}, `invalid email "alice"`},
	{"slack handle instead of id", []string{"email: alice@example.com", "slack_id: '@alice'  # <-"}, "invalid slack_id"},
	{"webhook without secret", []string{"    members: [alice]\nrotations", "    webhook:  # <-\n      url: https://example.com/hook\n    members: [alice]\nrotations"}, "webhook needs a secret"},
	{"list where a value belongs", []string{"shift: 1w", "shift: [1w]  # <-"}, "want a single value"},
	{"heartbeat interval under a minute", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "interval: 5m", "interval: 30s  # <-"}, `heartbeat "watchdog": interval 30s is shorter than 1m`},
	{"heartbeat interval not a duration", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "interval: 5m", "interval: often  # <-"}, `heartbeat "watchdog": interval: invalid duration "often"`},
	{"heartbeat without interval", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "interval: 5m", "labels: {team: ops}", "  - name: watchdog", "  - name: watchdog  # <-"}, `heartbeat "watchdog" needs an interval`},
	{"heartbeat matchers not naming the alert", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "matchers: ['alertname=\"Watchdog\"']", "matchers: ['job=\"prometheus\"']  # <-"}, "must pin the alert's name"},
	{"heartbeat matching by alertname regexp", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "matchers: ['alertname=\"Watchdog\"']", "matchers: ['alertname=~\"Watch.*\"']  # <-"}, "must pin the alert's name"},
	{"heartbeat on its own alert", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "alertname=\"Watchdog\"']", "alertname=\"QuietpagerHeartbeatMissing\"']  # <-"}, "cannot be a heartbeat itself"},
	{"heartbeat bad matcher", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "matchers: ['alertname=\"Watchdog\"']", "matchers: ['alertname=\"Watchdog']  # <-"}, `heartbeat "watchdog": bad matcher`},
	{"heartbeat without matchers", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m", "    matchers: ['alertname=\"Watchdog\"']\n", "", "  - name: watchdog", "  - name: watchdog  # <-"}, `heartbeat "watchdog" needs matchers`},
	{"heartbeat labels overriding its name", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m\n    labels:\n      heartbeat: other  # <-"}, "quietpager sets heartbeat itself"},
	{"heartbeat label not a name", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m\n    labels:\n      team-name: ops  # <-"}, `"team-name" is not a label name`},
	{"heartbeat label without value", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m\n    labels:\n      team:  # <-"}, "team needs a value"},
	{"heartbeat unknown key", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m\n    intervall: 10m  # <-"}, `unknown key "intervall"; did you mean "interval"?`},
	{"duplicate heartbeat", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m\n  - name: watchdog  # <-\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 5m"}, `duplicate heartbeat "watchdog" (first at line`},
	{"yaml syntax error", []string{"    team: ops\n    members", "    team: ops\n   members: [x"}, ""},
}

func markedLine(t *testing.T, text string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "# <-") {
			return i + 1
		}
	}
	return 0
}

func TestParseConfigRejects(t *testing.T) {
	base := readTestdata(t, "testdata/minimal.yaml")
	if _, err := ParseConfig([]byte(base), "test.yaml"); err != nil {
		t.Fatalf("the base file must be valid: %v", err)
	}
	for _, tc := range configRejections {
		t.Run(tc.name, func(t *testing.T) {
			text := base
			for i := 0; i+1 < len(tc.edits); i += 2 {
				if !strings.Contains(text, tc.edits[i]) {
					t.Fatalf("edit %q does not apply", tc.edits[i])
				}
				text = strings.Replace(text, tc.edits[i], tc.edits[i+1], 1)
			}
			cfg, err := ParseConfig([]byte(text), "test.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", text)
			}
			if quietpager.ErrorCode(err) != quietpager.Invalid {
				t.Errorf("error code %s, want invalid", quietpager.ErrorCode(err))
			}
			if !reflect.DeepEqual(cfg, Config{}) {
				t.Errorf("a rejected file gave a partial config: %+v", cfg)
			}
			msg := quietpager.ErrorMessage(err)
			for _, l := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(l, "test.yaml:") {
					t.Errorf("problem line %q does not start with FILE:LINE", l)
				}
			}
			if line := markedLine(t, text); line > 0 && !strings.Contains(msg, fmt.Sprintf("test.yaml:%d: ", line)) {
				t.Errorf("no problem reported at line %d:\n%s\nfile:\n%s", line, msg, text)
			}
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				t.Errorf("message does not say %q:\n%s", tc.want, msg)
			}
		})
	}
}

// Every problem is reported, in line order, not only the first.
func TestParseConfigReportsEveryProblem(t *testing.T) {
	_, err := ParseConfig([]byte(readTestdata(t, "testdata/many-problems.yaml")), "many.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(quietpager.ErrorMessage(err), "\n")
	want := []string{
		`many.yaml:5: duplicate person "alice" (first at line 2)`,
		`many.yaml:7: person "alice": unknown time zone "Mars/Olympus_Mons"`,
		`many.yaml:11: team "ops": unknown key "slack_chanel"; did you mean "slack_channel"?`,
		`many.yaml:12: team "ops": unknown person "bob"`,
		`many.yaml:16: rotation "primary" has no members`,
		`many.yaml:17: rotation "primary": invalid shift "0d"`,
		`many.yaml:21: route "db": bad matcher`,
		`many.yaml:23: route "db": unknown urgency "pager"`,
		`many.yaml:26: route "default": unknown team "opps"; did you mean "ops"?`,
	}
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d does not start with %q:\n%s", i+1, w, strings.Join(lines, "\n"))
		}
	}
}

func TestParseConfigEmpty(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "---\n"} {
		_, err := ParseConfig([]byte(in), "empty.yaml")
		if err == nil || !strings.Contains(err.Error(), "empty.yaml") {
			t.Errorf("ParseConfig(%q) = %v, want an error naming the file", in, err)
		}
	}
}

func TestParseConfigHeartbeats(t *testing.T) {
	text := readTestdata(t, "testdata/minimal.yaml") + `heartbeats:
  - name: prometheus-watchdog
    matchers: ['alertname="Watchdog"', 'prometheus=~"eu-.*"']
    interval: 5m
    labels: {team: ops, severity: critical}
  - name: blackbox
    matchers: ['alertname="BlackboxWatchdog"']
    interval: 1m
`
	cfg, err := ParseConfig([]byte(text), "hb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Heartbeats) != 2 {
		t.Fatalf("%d heartbeats, want 2: %+v", len(cfg.Heartbeats), cfg.Heartbeats)
	}
	w := cfg.Heartbeats[0]
	if w.Name != "prometheus-watchdog" || w.Interval != 5*time.Minute || w.Alertname() != "Watchdog" ||
		!reflect.DeepEqual(w.Labels, map[string]string{"team": "ops", "severity": "critical"}) || !w.Since.IsZero() {
		t.Errorf("first heartbeat = %+v", w)
	}
	if len(w.Matchers) != 2 || !w.Matchers[1].Matches("eu-west") || w.Matchers[1].Matches("us-east") {
		t.Errorf("matchers = %v", w.Matchers)
	}
	if b := cfg.Heartbeats[1]; b.Name != "blackbox" || b.Interval != time.Minute || b.Alertname() != "BlackboxWatchdog" || b.Labels != nil {
		t.Errorf("second heartbeat = %+v", b)
	}
}
