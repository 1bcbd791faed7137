package main

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// TestJobRowsPrunedOnSchedule shows the job queue's own rows stay within
// the retention policy (docs/decisions.md #16): finished page jobs go after
// a day, dead letters are kept 30 days for a person to see and replay, then
// go too. River's leader prunes them; this checks that serve configures it
// so, against the real queue on PostgreSQL.
func TestJobRowsPrunedOnSchedule(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.Postgres)
	mustRun(t, "migrate", "up", "--db", dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := []struct {
		state string
		age   time.Duration
		kept  bool
	}{
		{"completed", 2 * 24 * time.Hour, false},
		{"cancelled", 2 * 24 * time.Hour, false},
		{"completed", time.Hour, true},
		{"discarded", 10 * 24 * time.Hour, true},
		{"discarded", 40 * 24 * time.Hour, false},
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		err := db.QueryRow(`INSERT INTO river_job (kind, args, max_attempts, state, attempt, finalized_at)
			VALUES ('retention_probe', '{}', 6, $1, 1, now() - make_interval(secs => $2)) RETURNING id`,
			r.state, r.age.Seconds()).Scan(&ids[i])
		if err != nil {
			t.Fatalf("plant %s job: %v", r.state, err)
		}
	}
	left := func() map[int64]bool {
		out := map[int64]bool{}
		q, err := db.QueryContext(context.Background(), "SELECT id FROM river_job WHERE kind = 'retention_probe'")
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for q.Next() {
			var id int64
			q.Scan(&id)
			out[id] = true
		}
		return out
	}

	startServer(t, dsn)
	waitFor(t, 90*time.Second, "River's cleaner to prune the old job rows", func() (bool, string) {
		have := left()
		for i, r := range rows {
			if !r.kept && have[ids[i]] {
				return false, fmt.Sprintf("%s job finalized %s ago still there", r.state, r.age)
			}
		}
		return true, ""
	})
	have := left()
	for i, r := range rows {
		if r.kept && !have[ids[i]] {
			t.Errorf("%s job finalized %s ago was pruned; it is within its retention", r.state, r.age)
		}
	}
}
