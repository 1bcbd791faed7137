package rotation

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
)

// FuzzParseConfig feeds `apply`'s parser arbitrary YAML. Whatever the
// input, it must not panic; a refusal is one Invalid error whose every
// line names the file; and a configuration it accepts must be one the rest
// of the service can rely on: references resolve, time zones are set,
// shifts are positive, and exactly one default route comes last.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"testdata/minimal.yaml", "testdata/many-problems.yaml", "../docs/examples/oncall.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `people: 3`, `people: [{name: a, time_zone: Mars/Olympus}]`,
		"people:\n  - name: a\n    email: a@x\n    time_zone: UTC\nrotations:\n  - name: r\n    team: t\n    members: [a]\n    shift: 0d\n",
		"routes:\n  - name: d\n    default: true\n    team: t\n  - name: late\n    team: t\n",
		"teams: [{name: t, time_zone: UTC, members: [a, a]}]\n",
		"people: &a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "oncall.yaml")
		if err != nil {
			if quietpager.ErrorCode(err) != quietpager.Invalid {
				t.Fatalf("refusal is %v, want Invalid: %v", quietpager.ErrorCode(err), err)
			}
			for _, line := range strings.Split(quietpager.ErrorMessage(err), "\n") {
				if !strings.HasPrefix(line, "oncall.yaml") {
					t.Fatalf("problem line does not name the file: %q", line)
				}
			}
			return
		}
		checkAccepted(t, cfg)
	})
}

func checkAccepted(t *testing.T, cfg Config) {
	t.Helper()
	people := map[string]bool{}
	for _, p := range cfg.People {
		if p.TimeZone == nil {
			t.Fatalf("person %q accepted without a time zone", p.Name)
		}
		people[p.Name] = true
	}
	teams := map[string]bool{}
	for _, tm := range cfg.Teams {
		if tm.TimeZone == nil {
			t.Fatalf("team %q accepted without a time zone", tm.Name)
		}
		teams[tm.Name] = true
	}
	rotations := map[string]bool{}
	for _, r := range cfg.Rotations {
		rotations[r.Name] = true
		if !teams[r.Team] || r.TimeZone == nil || len(r.Members) == 0 {
			t.Fatalf("rotation %+v accepted with a missing team, zone or members", r)
		}
		if r.Shift.Days <= 0 && r.Shift.Duration <= 0 {
			t.Fatalf("rotation %q accepted with shift %+v", r.Name, r.Shift)
		}
		for _, m := range r.Members {
			if !people[m] {
				t.Fatalf("rotation %q accepted with unknown member %q", r.Name, m)
			}
		}
		// The on-call question has an answer, also on a DST night, and
		// the shift around that instant contains it.
		at := time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC)
		if s := r.Scheduled(at); s.Person == "" || at.Before(s.Start) || !at.Before(s.End) {
			t.Fatalf("rotation %q accepted but its shift at %v is %+v", r.Name, at, s)
		}
	}
	for _, p := range cfg.Escalation {
		for _, s := range p.Steps {
			for _, tg := range s.Targets {
				if tg.Rotation != "" && !rotations[tg.Rotation] || tg.Person != "" && !people[tg.Person] {
					t.Fatalf("escalation of %q accepted with unknown target %+v", p.Team, tg)
				}
			}
		}
	}
	if len(cfg.Routes) > 0 {
		for i, r := range cfg.Routes {
			if r.Default != (i == len(cfg.Routes)-1) {
				t.Fatalf("routes accepted with the default at %d of %d", i, len(cfg.Routes))
			}
			if !teams[r.Team] {
				t.Fatalf("route %q accepted with unknown team %q", r.Name, r.Team)
			}
		}
	}
}
