package migrations_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/quietpager/quietpager/migrations"
)

// SQLite connections keep compiled statements (stmtcache.go). Reusing one
// must never change a result: the same text run again while its rows are
// still being read, run after it failed, and run after hundreds of other
// statements pushed it out of the cache.
func TestSQLiteKeptStatementsGiveTheSameResults(t *testing.T) {
	ctx := context.Background()
	db, err := migrations.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kept.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO t (v) VALUES (?)`
	for _, v := range []string{"a", "b", "c"} {
		if _, err := db.SQL.Exec(insert, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL.Exec(insert, "a"); err == nil {
		t.Error("a duplicate insert succeeded")
	}
	if _, err := db.SQL.Exec(insert, "d"); err != nil {
		t.Errorf("the insert after a failed one: %v", err)
	}

	// The same query inside its own loop.
	const list = `SELECT v FROM t WHERE v >= ? ORDER BY v`
	tx, err := db.SQL.Begin()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(list, "a")
	if err != nil {
		t.Fatal(err)
	}
	var outer, inner []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, v)
		nested, err := tx.Query(list, "c")
		if err != nil {
			t.Fatal(err)
		}
		for nested.Next() {
			var w string
			nested.Scan(&w)
			inner = append(inner, w)
		}
		nested.Close()
	}
	rows.Close()
	tx.Commit()
	if fmt.Sprint(outer) != "[a b c d]" || len(inner) != 8 {
		t.Errorf("outer loop read %v and the inner loops %v, want [a b c d] and [c d] four times", outer, inner)
	}

	// Many other statements, then the first ones again.
	for i := range 600 {
		var n int
		if err := db.SQL.QueryRow(fmt.Sprintf(`SELECT COUNT(*) + %d FROM t`, i)).Scan(&n); err != nil || n != 4+i {
			t.Fatalf("statement %d: %d, %v; want %d", i, n, err, 4+i)
		}
	}
	if got := fmt.Sprint(strs(t, db, list, "b")); got != "[b c d]" {
		t.Errorf("after 600 other statements: %s, want [b c d]", got)
	}
	if _, err := db.SQL.Exec(insert, "e"); err != nil {
		t.Errorf("insert after 600 other statements: %v", err)
	}
	if got := fmt.Sprint(strs(t, db, list, "d")); got != "[d e]" {
		t.Errorf("after the last insert: %s, want [d e]", got)
	}
}
