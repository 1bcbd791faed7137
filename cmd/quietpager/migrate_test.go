package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// migrationFiles lists the migration files of a dialect in the source tree.
func migrationFiles(t *testing.T, d migrations.Dialect) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "migrations", string(d), "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files for %s: %v", d, err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// statusRows parses `migrate status` output into file -> state.
func statusRows(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "VERSION") {
		t.Fatalf("migrate status printed no table:\n%s", out)
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("migrate status line %q has too few columns", l)
		}
		rows[f[len(f)-1]] = f[1]
	}
	return rows
}

// userTables lists the tables of the schema other than the migration
// library's own bookkeeping.
func userTables(t *testing.T, dsn string) []string {
	t.Helper()
	db, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`
	if db.Dialect == migrations.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`
	}
	rows, err := db.SQL.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The table the webhook writes to must really be gone or there.
	if _, err := db.SQL.Exec(`SELECT COUNT(*) FROM alerts`); (err == nil) != contains(names, "alerts") {
		t.Fatalf("alerts table listed=%v but SELECT from it gave err=%v", contains(names, "alerts"), err)
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestMigrateRoundTrip applies every migration through the CLI, rolls them
// all back, applies them again and serves on the result, on each dialect.
func TestMigrateRoundTrip(t *testing.T) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := migrationstest.DSN(t, d)
			files := migrationFiles(t, d)

			out := mustRun(t, "migrate", "up", "--db", dsn)
			for _, f := range files {
				if !strings.Contains(out, f) {
					t.Errorf("migrate up did not report applying %s:\n%s", f, out)
				}
			}
			if out := mustRun(t, "migrate", "up", "--db", dsn); !strings.Contains(out, "nothing to do") {
				t.Errorf("a second migrate up printed %q, want it to say there is nothing to do", out)
			}

			rows := statusRows(t, mustRun(t, "migrate", "status", "--db", dsn))
			for _, f := range files {
				if rows[f] != "applied" {
					t.Errorf("migrate status after up: %s is %q, want applied (all: %v)", f, rows[f], rows)
				}
			}
			if tables := userTables(t, dsn); !contains(tables, "alerts") || !contains(tables, "episodes") || !contains(tables, "api_tokens") {
				t.Fatalf("after migrate up the tables are %v, want alerts, episodes and api_tokens", tables)
			}

			out = mustRun(t, "migrate", "down", "--to", "0", "--db", dsn)
			for _, f := range files {
				if !strings.Contains(out, f) {
					t.Errorf("migrate down --to 0 did not report rolling back %s:\n%s", f, out)
				}
			}
			if tables := userTables(t, dsn); len(tables) != 0 {
				t.Fatalf("after migrate down --to 0 these tables remain: %v", tables)
			}
			rows = statusRows(t, mustRun(t, "migrate", "status", "--db", dsn))
			for _, f := range files {
				if rows[f] != "pending" {
					t.Errorf("migrate status after down: %s is %q, want pending", f, rows[f])
				}
			}

			// A server that must not migrate says it is not ready on the
			// rolled-back schema.
			s := startServerWith(t, dsn, serveOptions{args: []string{"--migrate=false"}, skipReady: true})
			resp, err := http.Get(s.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/readyz on an unmigrated database answered %d, want 503", resp.StatusCode)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("serve: %v", err)
			}

			mustRun(t, "migrate", "up", "--db", dsn)
			rows = statusRows(t, mustRun(t, "migrate", "status", "--db", dsn))
			for _, f := range files {
				if rows[f] != "applied" {
					t.Errorf("migrate status after the second up: %s is %q, want applied", f, rows[f])
				}
			}

			// The re-applied schema takes webhooks.
			token := createToken(t, dsn, "after-round-trip")
			s = startServer(t, dsn, "--migrate=false")
			mustPostWebhook(t, s.URL, token, webhookBody(t, firing(map[string]string{"alertname": "RoundTrip"})), http.StatusOK)
			list, err := listAlerts(s.URL, token)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Labels["alertname"] != "RoundTrip" || list[0].State != "firing" {
				t.Fatalf("after the round trip the API lists %+v, want the one firing RoundTrip alert", list)
			}
		})
	}
}
