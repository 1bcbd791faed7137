package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeYAML writes text to a file in a temporary directory.
func writeYAML(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func replaceOnce(t *testing.T, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%q is not in the file", pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	return text
}

// TestApplyExample applies the documented example, re-applies it, and
// dry-runs a change, on each dialect.
func TestApplyExample(t *testing.T) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := migrationstest.DSN(t, d)
			example := "../../docs/examples/oncall.yaml"

			out := mustRun(t, "apply", "-f", example, "--db", dsn)
			for _, want := range []string{"create person alice", "create team payments", "create rotation payments-primary",
				"create escalation payments", "create route everything-else", "create heartbeat prometheus-watchdog", "applied 18 changes"} {
				if !strings.Contains(out, want) {
					t.Errorf("first apply does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "change-me-to-a-long-random-string") {
				t.Errorf("apply printed the webhook secret:\n%s", out)
			}

			if out := mustRun(t, "apply", "-f", example, "--db", dsn); strings.TrimSpace(out) != "no changes" {
				t.Errorf("re-apply printed:\n%s\nwant: no changes", out)
			}

			changed := writeYAML(t, "changed.yaml", replaceOnce(t, readFile(t, example),
				"shift: 1w", "shift: 2w",
				`slack_channel: "#payments-oncall"`, `slack_channel: "#payments-pager"`))
			out = mustRun(t, "apply", "-f", changed, "--dry-run", "--db", dsn)
			want := "update team payments: slack_channel\nupdate rotation payments-primary: shift\ndry run: 2 changes planned, nothing applied\n"
			if out != want {
				t.Errorf("dry run printed:\n%s\nwant:\n%s", out, want)
			}
			// The dry run changed nothing: the example still matches, and the
			// change is still to be made.
			if out := mustRun(t, "apply", "-f", example, "--db", dsn); strings.TrimSpace(out) != "no changes" {
				t.Errorf("after the dry run, re-applying the example printed:\n%s", out)
			}
			if out := mustRun(t, "apply", "--db", dsn, "-f", changed); !strings.Contains(out, "applied 2 changes") {
				t.Errorf("applying the change printed:\n%s", out)
			}
		})
	}
}

// applyRejections are small files, each with one mistake on the line
// marked "# <-", edited from rotation/testdata/minimal.yaml.
var applyRejections = []struct {
	name  string
	edits []string
	want  string
}{
	{"rotation without members", []string{"members: [alice]\n    shift", "members: []  # <-\n    shift"}, "has no members"},
	{"zero shift", []string{"shift: 1w", "shift: 0d  # <-"}, "longer than zero"},
	{"negative shift", []string{"shift: 1w", "shift: -1h  # <-"}, "longer than zero"},
	{"unknown time zone", []string{"time_zone: Europe/Berlin", "time_zone: Europe/Paris-ish  # <-"}, "unknown time zone"},
	{"unknown member", []string{"members: [alice]\n    shift", "members: [alice, bob]  # <-\n    shift"}, `unknown person "bob"`},
	{"unknown team", []string{"    team: ops\n    members", "    team: opz  # <-\n    members"}, `unknown team "opz"`},
	{"unknown rotation", []string{"rotation: primary", "rotation: secondary  # <-"}, `unknown rotation "secondary"`},
	{"duplicate team", []string{"rotations:", "  - name: ops  # <-\n    time_zone: UTC\nrotations:"}, `duplicate team "ops"`},
	{"bad matcher", []string{"routes:\n", "routes:\n  - name: db\n    matchers: ['team=~db(']  # <-\n    team: ops\n    urgency: page\n"}, "bad matcher"},
	{"no default route", []string{"routes:", "routes:  # <-", "    default: true\n", "    matchers: ['a=\"b\"']\n"}, "no default route"},
	{"default route not last", []string{"    default: true", "    default: true  # <-", "urgency: page", "urgency: page\n  - name: late\n    matchers: ['a=\"b\"']\n    team: ops\n    urgency: digest"}, "not the last"},
	{"unknown urgency", []string{"urgency: page", "urgency: urgent  # <-"}, `unknown urgency "urgent"`},
	{"unknown key", []string{"    shift: 1w", "    shfit: 1w  # <-"}, `unknown key "shfit"; did you mean "shift"?`},
	{"heartbeat interval too short", []string{"urgency: page", "urgency: page\nheartbeats:\n  - name: watchdog\n    matchers: ['alertname=\"Watchdog\"']\n    interval: 10s  # <-"}, "shorter than 1m"},
	{"invalid flap thresholds", []string{"urgency: page", "urgency: page\n    flap:  # <-\n      tau: 0s\n      high: 6\n      low: 2\n      quiet: 15m"}, "invalid flap thresholds"},
}

// TestApplyRejects: a file with a mistake prints FILE:LINE for it, fails,
// and leaves the database as it was.
func TestApplyRejects(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	base := readFile(t, "../../rotation/testdata/minimal.yaml")
	mustRun(t, "apply", "-f", writeYAML(t, "base.yaml", base), "--db", dsn)
	for _, tc := range applyRejections {
		t.Run(tc.name, func(t *testing.T) {
			text := replaceOnce(t, base, tc.edits...)
			path := writeYAML(t, "oncall.yaml", text)
			line := 0
			for i, l := range strings.Split(text, "\n") {
				if strings.Contains(l, "# <-") {
					line = i + 1
				}
			}
			for _, dry := range []string{"--dry-run=false", "--dry-run"} {
				stdout, stderr, err := runCmdWithin(t, 30*time.Second, noEnv, "apply", "-f", path, "--db", dsn, dry)
				if err == nil {
					t.Fatalf("apply %s succeeded:\n%s", dry, stdout)
				}
				if !strings.Contains(err.Error(), "nothing was applied") {
					t.Errorf("error %q does not say nothing was applied", err)
				}
				if want := fmt.Sprintf("%s:%d: ", path, line); !strings.Contains(stderr, want) {
					t.Errorf("stderr does not point at %s:\n%s", want, stderr)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Errorf("stderr does not say %q:\n%s", tc.want, stderr)
				}
				if stdout != "" {
					t.Errorf("a rejected file printed a plan:\n%s", stdout)
				}
			}
		})
	}
	// Nothing of the rejected files reached the database.
	if out := mustRun(t, "apply", "-f", writeYAML(t, "again.yaml", base), "--db", dsn); strings.TrimSpace(out) != "no changes" {
		t.Errorf("after the rejected files, the base file plans:\n%s", out)
	}
}

// TestApplyPrintsEveryProblem: all the problems of a file, not the first.
func TestApplyPrintsEveryProblem(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	path := "../../rotation/testdata/many-problems.yaml"
	_, stderr, err := runCmdWithin(t, 30*time.Second, noEnv, "apply", "-f", path, "--db", dsn)
	if err == nil || !strings.Contains(err.Error(), "9 problems") {
		t.Errorf("apply error = %v, want 9 problems", err)
	}
	for _, line := range []int{5, 7, 11, 12, 16, 17, 21, 23, 26} {
		if want := fmt.Sprintf("%s:%d: ", path, line); !strings.Contains(stderr, want) {
			t.Errorf("stderr does not show %s:\n%s", want, stderr)
		}
	}
}

func TestApplyUsageErrors(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no file", []string{"apply", "--db", dsn}, "-f FILE"},
		{"missing file", []string{"apply", "-f", filepath.Join(t.TempDir(), "nope.yaml"), "--db", dsn}, "nope.yaml"},
		{"stray argument", []string{"apply", "-f", "x.yaml", "--dry-run", "true", "--db", dsn}, `"true"`},
		{"empty file", []string{"apply", "-f", writeYAML(t, "empty.yaml", ""), "--db", dsn}, "nothing was applied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmdWithin(t, 30*time.Second, noEnv, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("apply error = %v, want one mentioning %s", err, tc.wantErr)
			}
		})
	}
	if _, stderr, err := runCmd(t, noEnv, "apply", "-h"); err != nil || !strings.Contains(stderr, "-dry-run") {
		t.Errorf("apply -h: %v\n%s", err, stderr)
	}
}
