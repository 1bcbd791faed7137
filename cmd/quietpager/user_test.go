package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

const (
	alicePassword = "alice's long password"
	bobPassword   = "bob has a password too"
)

// runUser runs "quietpager user ARGS" with stdin as its input.
func runUser(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = user(context.Background(), args, environment(envFrom(map[string]string{"USER": "ops"})),
		strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustRunUser(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runUser(t, stdin, args...)
	if err != nil {
		t.Fatalf("quietpager user %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// TestUserLifecycle adds, lists, re-passwords and deletes users through
// the CLI and checks each step where it matters: logging in.
func TestUserLifecycle(t *testing.T) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := migrationstest.DSN(t, d)
			mustRun(t, "apply", "-f", "../../docs/examples/oncall.yaml", "--db", dsn)

			mustRunUser(t, alicePassword+"\n", "add", "alice", "--role", "admin", "--db", dsn)
			// No line ending, Windows line ending, spaces kept: the line is the password.
			mustRunUser(t, " "+bobPassword+"\r\n", "add", "--db", dsn, "bob", "--role", "member", "--person", "bob")

			db := migrationstest.Open(t, dsn)
			accounts := accountstore.New(db)
			login := func(name, password string) (string, error) {
				token, _, err := accounts.Login(context.Background(), name, password, time.Now(), time.Hour)
				return token, err
			}
			aliceSession, err := login("alice", alicePassword)
			if err != nil {
				t.Fatalf("alice cannot log in after user add: %v", err)
			}
			if _, err := login("bob", " "+bobPassword); err != nil {
				t.Errorf("bob cannot log in with the line piped in (leading space kept): %v", err)
			}

			list := mustRun(t, "user", "list", "--db", dsn)
			for _, want := range []string{"alice", "admin", "bob", "member"} {
				if !strings.Contains(list, want) {
					t.Errorf("user list does not show %q:\n%s", want, list)
				}
			}
			if !strings.Contains(lastLine(list), "bob") || !strings.Contains(lastLine(list), "member  bob") {
				t.Errorf("user list does not show bob's person:\n%s", list)
			}
			if strings.Contains(list, "$2") || strings.Contains(list, alicePassword) || strings.Contains(list, bobPassword) {
				t.Errorf("user list shows a password or its hash:\n%s", list)
			}

			// passwd ends every session of the user; the new password works,
			// the old one does not.
			const newPassword = "alice changed her password"
			out := mustRunUser(t, newPassword+"\n", "passwd", "alice", "--db", dsn)
			if !strings.Contains(out, "sessions have ended") {
				t.Errorf("passwd does not say the sessions ended:\n%s", out)
			}
			if _, err := accounts.Session(context.Background(), aliceSession, time.Now()); err == nil {
				t.Error("alice's session survived user passwd")
			}
			if _, err := login("alice", alicePassword); err == nil {
				t.Error("the old password still works after user passwd")
			}
			if _, err := login("alice", newPassword); err != nil {
				t.Errorf("the new password does not work: %v", err)
			}

			bobSession, _ := login("bob", " "+bobPassword)
			mustRunUser(t, "", "delete", "bob", "--db", dsn)
			if _, err := accounts.Session(context.Background(), bobSession, time.Now()); err == nil {
				t.Error("a deleted user's session still works")
			}
			if list := mustRun(t, "user", "list", "--db", dsn); strings.Contains(list, "bob") {
				t.Errorf("user list still shows deleted bob:\n%s", list)
			}

			// Every change is in the audit log, under who ran the CLI.
			for name, n := range map[string]int{"alice": 2, "bob": 2} {
				entries, err := accounts.AuditOf(context.Background(), "user", name, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != n || entries[0].Actor != "cli (ops)" {
					t.Errorf("audit of %s: %+v, want %d entries by cli (ops)", name, entries, n)
				}
			}
		})
	}
}

func TestUserRefusals(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	mustRunUser(t, alicePassword+"\n", "add", "alice", "--role", "admin", "--db", dsn)
	// Before any on-call configuration is applied a person cannot be
	// checked: a warning, and the user is added.
	_, stderr, err := runUser(t, bobPassword+"\n", "add", "bob", "--role", "member", "--person", "bobby", "--db", dsn)
	if err != nil || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "bobby") {
		t.Errorf("add with an unchecked person: %v, stderr %q; want it added with a warning", err, stderr)
	}
	mustRun(t, "apply", "-f", "../../docs/examples/oncall.yaml", "--db", dsn)

	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"no verb", "", nil, "add, passwd, list or delete"},
		{"unknown verb", "", []string{"rename", "alice"}, `"rename"`},
		{"add without a name", alicePassword, []string{"add", "--role", "admin"}, "usage: quietpager user add NAME"},
		{"add without a role", alicePassword, []string{"add", "carol"}, "role must be admin, member or viewer"},
		{"unknown role", alicePassword, []string{"add", "carol", "--role", "root"}, `"root"`},
		{"member without a person", alicePassword, []string{"add", "carol", "--role", "member"}, "a member needs"},
		{"person not in oncall.yaml", alicePassword, []string{"add", "carol", "--role", "member", "--person", "karol"}, `"karol" is not a person`},
		{"short password", "short\n", []string{"add", "carol", "--role", "viewer"}, "at least 10 characters"},
		{"no password", "", []string{"add", "carol", "--role", "viewer"}, "no password on stdin"},
		{"duplicate user", bobPassword, []string{"add", "alice", "--role", "viewer"}, `"alice" already exists`},
		{"passwd of an unknown user", bobPassword, []string{"passwd", "carol"}, `no user named "carol"`},
		{"passwd with a short password", "short", []string{"passwd", "alice"}, "at least 10 characters"},
		{"passwd with a role", bobPassword, []string{"passwd", "alice", "--role", "viewer"}, "go with user add"},
		{"delete an unknown user", "", []string{"delete", "carol"}, `no user named "carol"`},
		{"delete the last admin", "", []string{"delete", "alice"}, "last admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runUser(t, tc.stdin, append(tc.args, "--db", dsn)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("quietpager user %s: err %v, want one saying %q; stdout:\n%s", strings.Join(tc.args, " "), err, tc.wantErr, stdout)
			}
		})
	}

	// Nothing refused above changed anything.
	list := mustRun(t, "user", "list", "--db", dsn)
	if strings.Contains(list, "carol") || strings.Count(list, "\n") != 3 {
		t.Errorf("refused commands changed the users:\n%s", list)
	}
	accounts := accountstore.New(migrationstest.Open(t, dsn))
	if _, _, err := accounts.Login(context.Background(), "alice", alicePassword, time.Now(), time.Hour); err != nil {
		t.Errorf("alice's password changed by a refused passwd: %v", err)
	}
	users, _ := accounts.Users(context.Background())
	if len(users) != 2 || users[0].Role != account.Admin {
		t.Errorf("users after refusals: %+v", users)
	}

	// Through run, as an operator types it: the command is there and its
	// mistakes come back as errors.
	if _, _, err := runCmd(t, noEnv, "user", "list", "--db", dsn, "extra"); err == nil {
		t.Error("user list with an extra argument succeeded")
	}
}
