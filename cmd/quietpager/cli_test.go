package main

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// TestCLIErrors checks that mistakes on the command line end in an error
// that says what is wrong, with the usage where it helps, and never in a
// server that starts anyway.
func TestCLIErrors(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name       string
		args       []string
		wantErr    string // in the error
		wantStderr string // in stderr
	}{
		{"no command", nil, "usage", "usage: quietpager COMMAND"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, "usage: quietpager COMMAND"},
		{"serve unknown flag", []string{"serve", "--no-such-flag"}, "no-such-flag", "-listen"},
		{"serve bad flag value", []string{"serve", "--max-body", "lots"}, "max-body", "-max-body"},
		{"serve unsupported db", []string{"serve", "--db", "mysql://root:hunter2@db.example/qp", "--listen", "127.0.0.1:0"}, "unsupported database", ""},
		{"serve sqlite without path", []string{"serve", "--db", "sqlite:", "--listen", "127.0.0.1:0"}, "no path", ""},
		{"serve tiny max body", []string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--max-body", "10"}, "--max-body", ""},
		{"serve bad log level", []string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--log-level", "loud"}, "--log-level", ""},
		{"serve bad log format", []string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--log-format", "xml"}, "--log-format", ""},
		{"serve address in use", []string{"serve", "--db", dsn, "--listen", busy.Addr().String()}, "address already in use", ""},
		{"migrate without verb", []string{"migrate"}, "up, down or status", "-db"},
		{"migrate unknown verb", []string{"migrate", "sideways", "--db", dsn}, `"sideways"`, ""},
		{"migrate bad flag", []string{"migrate", "down", "--to", "last", "--db", dsn}, "-to", "-to"},
		{"migrate unsupported db", []string{"migrate", "up", "--db", "oracle://x"}, "unsupported database", ""},
		{"token without verb", []string{"token"}, "create, list or revoke", "-name"},
		{"token unknown verb", []string{"token", "rotate", "--db", dsn}, `"rotate"`, ""},
		{"token bad flag", []string{"token", "list", "--verbose", "--db", dsn}, "verbose", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCmdWithin(t, 5*time.Second, noEnv, tc.args...)
			if err == nil {
				t.Fatalf("quietpager %s succeeded, want an error; stdout:\n%s", strings.Join(tc.args, " "), stdout)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr does not show %q:\n%s", tc.wantStderr, stderr)
			}
			if strings.Contains(stdout, "listening on") {
				t.Errorf("serve reported listening despite the error:\n%s", stdout)
			}
			if strings.Contains(err.Error()+stderr+stdout, "hunter2") {
				t.Errorf("the database password is shown: %v\n%s", err, stderr)
			}
		})
	}

	t.Run("no command is the usage error", func(t *testing.T) {
		if _, _, err := runCmd(t, noEnv); !errors.Is(err, errUsage) {
			t.Errorf("run with no arguments returned %v, want errUsage", err)
		}
	})
	t.Run("help", func(t *testing.T) {
		stdout, _, err := runCmd(t, noEnv, "help")
		if err != nil {
			t.Fatalf("help: %v", err)
		}
		for _, cmd := range []string{"serve", "migrate", "token create"} {
			if !strings.Contains(stdout, cmd) {
				t.Errorf("help does not list %q:\n%s", cmd, stdout)
			}
		}
	})
}

// TestCLIRejectsStrayArguments: Go's flag package stops at the first
// argument that is not a flag, so a stray word silently drops every flag
// after it unless the command checks for leftovers.
func TestCLIRejectsStrayArguments(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		// "--migrate false" is a mistake users make (a bool flag takes
		// --migrate=false): the stray "false" must not make serve ignore
		// it and every flag after it (here an invalid --max-body).
		{"serve", []string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--migrate", "false", "--max-body", "10"}, "false"},
		// An unquoted name with a space must not create a token named
		// after its first word.
		{"token create", []string{"token", "create", "--db", dsn, "--name", "eu", "alertmanager"}, "alertmanager"},
		// "down 0" meaning "down --to 0" must not roll back the newest
		// migration instead.
		{"migrate", []string{"migrate", "down", "--db", dsn, "0"}, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCmdWithin(t, 5*time.Second, noEnv, tc.args...)
			if err == nil {
				t.Fatalf("quietpager %s succeeded, want an error about the stray argument; stdout:\n%s", strings.Join(tc.args, " "), stdout)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// TestCLICommandHelp: the usage says: Run "quietpager COMMAND -h" for a
// command's flags. Doing so must show them and succeed, not end in an
// error (main would print "quietpager: flag: help requested" and exit 1).
func TestCLICommandHelp(t *testing.T) {
	for _, cmd := range [][]string{{"serve", "-h"}, {"migrate", "up", "-h"}, {"token", "list", "-h"}, {"replay", "-h"}, {"demo", "-h"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			_, stderr, err := runCmdWithin(t, 5*time.Second, noEnv, cmd...)
			if !strings.Contains(stderr, "-db") {
				t.Errorf("%s does not show the flags:\n%s", strings.Join(cmd, " "), stderr)
			}
			if err != nil {
				t.Errorf("%s returned %v, want nil", strings.Join(cmd, " "), err)
			}
		})
	}
}
