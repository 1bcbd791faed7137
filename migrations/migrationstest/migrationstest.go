// Package migrationstest gives tests a fresh, migrated database of each
// dialect: SQLite always, PostgreSQL when QUIETPAGER_TEST_POSTGRES names a
// server (CI sets it). Each call creates its own database and drops it when
// the test ends, so runs never see each other's rows.
package migrationstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/quietpager/quietpager/migrations"
)

// PostgresEnv names the variable holding an admin DSN for a PostgreSQL
// server on which tests may create and drop databases.
const PostgresEnv = "QUIETPAGER_TEST_POSTGRES"

// ForEachDialect runs f as a subtest on a fresh SQLite database and, when
// PostgreSQL is configured, on a fresh PostgreSQL database.
func ForEachDialect(t *testing.T, f func(t *testing.T, dsn string, db *migrations.DB)) {
	t.Helper()
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			dsn := DSN(t, d)
			f(t, dsn, Open(t, dsn))
		})
	}
}

// DSN returns the DSN of a new empty database of dialect d, dropped when
// the test ends. For PostgreSQL without QUIETPAGER_TEST_POSTGRES it skips
// the test, saying so.
func DSN(t testing.TB, d migrations.Dialect) string {
	t.Helper()
	if d == migrations.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "quietpager.db")
	}
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to an admin DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "qp_test_" + hex.EncodeToString(b)
	adminDB, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminDB.Exec("CREATE DATABASE " + name); err != nil {
		adminDB.Close()
		t.Fatalf("create test database on %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		defer adminDB.Close()
		if _, err := adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open opens dsn and applies every migration; the database is closed when
// the test ends.
func Open(t testing.TB, dsn string) *migrations.DB {
	t.Helper()
	db, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Up(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return db
}
