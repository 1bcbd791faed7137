// Package sqlstore keeps alerts, episodes and incidents in the SQL database
// (SQLite or PostgreSQL) through gorm.
package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/migrations"
)

// rowsPerStatement keeps multi-row statements under SQLite's and
// PostgreSQL's bound-parameter limits (32,766 and 65,535).
const rowsPerStatement = 500

// Options configure a Store; the zero value gives the documented defaults.
type Options struct {
	// Policies choose each alert's grouping and flap policy.
	Policies dedupe.Policies
	// Hints tune the transient and rule-fix hints.
	Hints flap.HintOptions
	// HintWindow is how far back the rule hints look.
	HintWindow time.Duration
	// OnIncidents runs inside the transaction that opened or reopened
	// incidents, so that the pages it schedules commit or roll back with
	// them.
	OnIncidents func(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error
	// OnGrown runs inside the transaction in which alerts joined incidents
	// that were already open (a storm growing); the changes say which.
	OnGrown func(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error
	// OnTransition runs inside the transaction in which a person
	// acknowledged, resolved, silenced or marked an incident not
	// actionable (kind is the event kind).
	OnTransition func(ctx context.Context, tx *sql.Tx, incidentID int64, kind string) error
}

// Store reads and writes alerts, episodes and incidents.
type Store struct {
	db       *gorm.DB
	postgres bool
	o        Options
}

// New returns a Store on db.
func New(db *migrations.DB, o Options) *Store {
	if o.Policies == nil {
		o.Policies = dedupe.StaticPolicy(dedupe.DefaultPolicy)
	}
	if o.Hints == (flap.HintOptions{}) {
		o.Hints = flap.DefaultHints
	}
	if o.HintWindow == 0 {
		o.HintWindow = 7 * 24 * time.Hour
	}
	return &Store{db: db.Gorm, postgres: db.Dialect == migrations.Postgres, o: o}
}

// sqlTx is the database/sql transaction under a gorm transaction.
func sqlTx(tx *gorm.DB) *sql.Tx {
	t, _ := tx.Statement.ConnPool.(*sql.Tx)
	return t
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// chunks calls f on consecutive slices of at most rowsPerStatement items.
func chunks[T any](items []T, f func([]T) error) error {
	for start := 0; start < len(items); start += rowsPerStatement {
		if err := f(items[start:min(start+rowsPerStatement, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

// values builds "(?,?,…),(?,?,…)" for n rows of width columns.
func values(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
