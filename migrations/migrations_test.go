package migrations_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// schema describes a database: each table with its columns in order, and
// its indexes.
type schema struct {
	Tables  map[string][]string
	Indexes []string
}

func readSchema(t *testing.T, db *migrations.DB) schema {
	t.Helper()
	var tableQ, columnQ, indexQ string
	if db.Dialect == migrations.Postgres {
		tableQ = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
		columnQ = `SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
		indexQ = `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`
	} else {
		tableQ = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
		columnQ = `SELECT name || ' ' || type || ' ' || "notnull" FROM pragma_table_info(?) ORDER BY cid`
		indexQ = `SELECT name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY name`
	}
	s := schema{Tables: map[string][]string{}, Indexes: strs(t, db, indexQ)}
	for _, table := range strs(t, db, tableQ) {
		s.Tables[table] = strs(t, db, columnQ, table)
	}
	return s
}

func strs(t *testing.T, db *migrations.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.SQL.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// appTables are the tables quietpager's own migrations made: all but the
// migration library's bookkeeping.
func appTables(s schema) []string {
	out := []string{}
	for name := range s.Tables {
		if name != "goose_db_version" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// migrationFiles are the migrations shipped for a dialect.
func migrationFiles(t *testing.T, d migrations.Dialect) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(string(d), "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s/: %v", d, err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	slices.Sort(files)
	return files
}

func current(t *testing.T, db *migrations.DB) bool {
	t.Helper()
	ok, err := db.Current(context.Background())
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return ok
}

func status(t *testing.T, db *migrations.DB) []migrations.Status {
	t.Helper()
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

// wantStatus checks that the first applied migrations are applied and the
// rest pending, each named after its file.
func wantStatus(t *testing.T, st []migrations.Status, files []string, applied int) {
	t.Helper()
	if len(st) != len(files) {
		t.Fatalf("Status lists %d migrations, want %d (%v)", len(st), len(files), files)
	}
	for i, s := range st {
		if !strings.HasSuffix(s.Name, files[i]) {
			t.Errorf("Status[%d] = %q, want %s", i, s.Name, files[i])
		}
		if i > 0 && s.Version <= st[i-1].Version {
			t.Errorf("Status not oldest first: version %d after %d", s.Version, st[i-1].Version)
		}
		if want := i < applied; s.Applied != want {
			t.Errorf("%s: applied = %v, want %v", files[i], s.Applied, want)
		}
		if s.Applied && s.AppliedAt.IsZero() {
			t.Errorf("%s: applied but no applied-at time", files[i])
		}
	}
}

func TestUpDownRoundTrip(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		files := migrationFiles(t, db.Dialect)
		n := len(files)

		// migrationstest.Open ran Up.
		up := readSchema(t, db)
		for _, table := range []string{"api_tokens", "alerts", "episodes"} {
			if len(up.Tables[table]) == 0 {
				t.Errorf("after Up, table %s is missing (tables: %v)", table, appTables(up))
			}
		}
		if !current(t, db) {
			t.Error("after Up, Current = false")
		}
		wantStatus(t, status(t, db), files, n)

		// Up again is a no-op.
		steps, err := db.Up(ctx)
		if err != nil || len(steps) != 0 {
			t.Errorf("second Up: %d steps, err %v; want none", len(steps), err)
		}
		if again := readSchema(t, db); !reflect.DeepEqual(again, up) {
			t.Errorf("second Up changed the schema:\n got %v\nwant %v", again, up)
		}

		// One step down: the newest migration is pending, the binary is behind.
		steps, err = db.Down(ctx)
		if err != nil || len(steps) != 1 || !strings.HasSuffix(steps[0].Name, files[n-1]) {
			t.Fatalf("Down: steps %v, err %v; want %s rolled back", steps, err, files[n-1])
		}
		wantStatus(t, status(t, db), files, n-1)
		if current(t, db) {
			t.Error("after Down, Current = true")
		}

		// All the way down: no table of ours is left.
		steps, err = db.DownTo(ctx, 0)
		if err != nil || len(steps) != n-1 {
			t.Fatalf("DownTo(0): %d steps, err %v; want %d", len(steps), err, n-1)
		}
		down := readSchema(t, db)
		if left := appTables(down); len(left) != 0 {
			t.Errorf("after DownTo(0), tables remain: %v", left)
		}
		if current(t, db) {
			t.Error("after DownTo(0), Current = true")
		}
		wantStatus(t, status(t, db), files, 0)

		// And up again gives exactly the schema we had.
		steps, err = db.Up(ctx)
		if err != nil || len(steps) != n {
			t.Fatalf("Up after DownTo(0): %d steps, err %v; want %d", len(steps), err, n)
		}
		if again := readSchema(t, db); !reflect.DeepEqual(again, up) {
			t.Errorf("schema after down and up differs:\n got %v\nwant %v", again, up)
		}
		if !current(t, db) {
			t.Error("after Up again, Current = false")
		}
		wantStatus(t, status(t, db), files, n)
	})
}

// Every migration's down undoes exactly its up: stepping down one at a
// time passes through the schema each step up produced.
func TestEachDownUndoesItsUp(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		files := migrationFiles(t, db.Dialect)
		n := len(files)
		if _, err := db.DownTo(ctx, 0); err != nil {
			t.Fatal(err)
		}
		schemas := []schema{readSchema(t, db)}
		for _, f := range files {
			// Versions may have gaps (each branch takes its own number).
			v, err := strconv.ParseInt(f[:strings.IndexByte(f, '_')], 10, 64)
			if err != nil {
				t.Fatalf("%s: no version: %v", f, err)
			}
			if err := upOne(ctx, db, v); err != nil {
				t.Fatalf("up to %d: %v", v, err)
			}
			schemas = append(schemas, readSchema(t, db))
		}
		for i := n; i > 0; i-- {
			if _, err := db.Down(ctx); err != nil {
				t.Fatalf("down from %d: %v", i, err)
			}
			if got := readSchema(t, db); !reflect.DeepEqual(got, schemas[i-1]) {
				t.Errorf("down from %d does not restore the schema of %d:\n got %v\nwant %v", i, i-1, got, schemas[i-1])
			}
		}
	})
}

// upOne brings db up to version by going all the way up and back down:
// DB has no UpTo, and this also exercises Down.
func upOne(ctx context.Context, db *migrations.DB, version int64) error {
	if _, err := db.Up(ctx); err != nil {
		return err
	}
	_, err := db.DownTo(ctx, version)
	return err
}

func TestOpenRefusesClearly(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, dsn string
		want      string // the error must say this
		secret    string // and must not say this
	}{
		{"unsupported scheme", "mysql://x", "unsupported database", ""},
		{"empty", "", "unsupported database", ""},
		{"unsupported scheme with password", "mysql://u:secretpw@db:3306/x", "unsupported database", "secretpw"},
		{"sqlite without a path", "sqlite:", "sqlite", ""},
		{"postgres unreachable", "postgres://u:secretpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "127.0.0.1", "secretpw"},
		{"postgresql scheme unreachable", "postgresql://u:secretpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "127.0.0.1", "secretpw"},
		{"password with an @", "postgres://u:secret@pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "127.0.0.1", "pw@"},
		{"password as a parameter", "postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=2&password=secretpw", "127.0.0.1", "secretpw"},
		{"malformed postgres URL", "postgres://u:secretpw@127.0.0.1:notaport/x", "", "secretpw"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := migrations.Open(ctx, c.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", c.dsn)
			}
			msg := err.Error()
			if c.want != "" && !strings.Contains(msg, c.want) {
				t.Errorf("Open error %q does not say %q", msg, c.want)
			}
			if c.secret != "" && strings.Contains(msg, c.secret) {
				t.Errorf("Open error leaks the password (%q): %s", c.secret, msg)
			}
		})
	}
}

func TestOpenSQLiteCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub-dir-less.db")
	db := migrationstest.Open(t, "sqlite:"+path)
	if db.Dialect != migrations.SQLite {
		t.Errorf("dialect = %s, want sqlite", db.Dialect)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
	if !current(t, db) {
		t.Error("fresh migrated database is not current")
	}
}

// TestOpenSQLiteSettings checks the settings quietpager's SQLite writes rely
// on: WAL (the web UI's reads never block the webhook writer), a commit that
// is on disk before the webhook is answered, foreign keys, waiting for a lock
// instead of failing, and statement journals in memory (a multi-row upsert
// journals the pages it changes; on disk that was nearly half its writes).
func TestOpenSQLiteSettings(t *testing.T) {
	db := migrationstest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "q.db"))
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"temp_store":   "2", // MEMORY
	} {
		var got string
		if err := db.SQL.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
