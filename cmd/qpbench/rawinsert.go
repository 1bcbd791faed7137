package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quietpager/quietpager/migrations"
)

// Raw insert ceiling: rows of 10 columns shaped like quietpager's alerts
// table, inserted with a prepared multi-row statement, rowsPerTx rows per
// transaction, by as many writers as quietpager uses on that database.
const (
	rowsPerStatement = 100
	rowsPerTx        = 1000
)

type rawResult struct {
	rows    int
	seconds float64
	writers int
	err     error
}

func (r rawResult) rowsPerSec() float64 { return float64(r.rows) / r.seconds }

func rawInsert(ctx context.Context, dsn string, d time.Duration) rawResult {
	db, err := migrations.Open(ctx, dsn)
	if err != nil {
		return rawResult{err: err}
	}
	defer db.Close()
	writers := 1 // as quietpager serve: SQLite has one writer
	if db.Dialect == migrations.Postgres {
		writers = 4
	}
	const table = "qpbench_scratch"
	if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE `+table+` (
		id BIGINT PRIMARY KEY, fingerprint TEXT NOT NULL, alertname TEXT NOT NULL,
		labels TEXT NOT NULL, annotations TEXT NOT NULL, generator_url TEXT NOT NULL,
		receiver TEXT NOT NULL, group_key TEXT NOT NULL,
		first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL)`); err != nil {
		return rawResult{err: err}
	}
	defer db.SQL.ExecContext(context.Background(), `DROP TABLE `+table)

	var ph strings.Builder
	for r := range rowsPerStatement {
		if r > 0 {
			ph.WriteString(",")
		}
		ph.WriteString("(")
		for c := range 10 {
			if c > 0 {
				ph.WriteString(",")
			}
			if db.Dialect == migrations.Postgres {
				ph.WriteString("$" + strconv.Itoa(r*10+c+1))
			} else {
				ph.WriteString("?")
			}
		}
		ph.WriteString(")")
	}
	query := `INSERT INTO ` + table + ` VALUES ` + ph.String()

	var (
		rows     atomic.Int64
		nextID   atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
		deadline = time.Now().Add(d)
		start    = time.Now()
	)
	labels := `{"alertname":"DiskFull","cluster":"eu-1","instance":"host-%d:9100","job":"node","severity":"critical","team":"team-3"}`
	annotations := `{"description":"host has less than 5% of its disk left on /var/lib/data.","runbook_url":"https://runbooks.example.com/storage/disk-full","summary":"Disk almost full"}`
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := make([]any, rowsPerStatement*10)
			for time.Now().Before(deadline) {
				err := func() error {
					tx, err := db.SQL.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					stmt, err := tx.PrepareContext(ctx, query)
					if err != nil {
						return err
					}
					defer stmt.Close()
					for range rowsPerTx / rowsPerStatement {
						for r := range rowsPerStatement {
							id := nextID.Add(1)
							now := time.Now().UnixMicro()
							copy(args[r*10:], []any{id, fmt.Sprintf("%016x", id*2654435761), "DiskFull",
								fmt.Sprintf(labels, id), annotations,
								"http://prometheus.example.com:9090/graph?g0.expr=node_filesystem_avail_bytes",
								"web.hook", `{}/{team="team-3"}:{alertname="DiskFull"}`, now, now})
						}
						if _, err := stmt.ExecContext(ctx, args...); err != nil {
							return err
						}
					}
					return tx.Commit()
				}()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				rows.Add(rowsPerTx)
			}
		}()
	}
	wg.Wait()
	return rawResult{rows: int(rows.Load()), seconds: time.Since(start).Seconds(), writers: writers, err: firstErr}
}
