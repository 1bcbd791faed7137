// Package sqlstore keeps alerts, episodes and incidents in the SQL database
// (SQLite or PostgreSQL) through gorm.
package sqlstore

import (
	"context"
	"database/sql"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
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

// rows is the row source of a multi-row statement: args holds the rows
// one after another, a value per column of types (PostgreSQL type names).
// On PostgreSQL it unnests one array per column, so the statement's text,
// and with it the prepared statement and its plan, is the same for every
// batch size. SQLite takes a VALUES list padded with rows of NULLs to one
// of a few lengths (the first column of a real row is never NULL), so its
// connection compiles each statement a few times, not once per batch.
func (s *Store) rows(types []string, args []any) (string, []any) {
	width := len(types)
	n := len(args) / width
	if !s.postgres {
		padded := size(n)
		args = append(args, make([]any, (padded-n)*width)...)
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
		return "SELECT * FROM (VALUES " + strings.TrimSuffix(strings.Repeat(row+",", padded), ",") +
			") WHERE column1 IS NOT NULL", args
	}
	cols := make([]string, width)
	names := make([]string, width)
	arrays := make([]any, width)
	for c, t := range types {
		elems := make([]any, n)
		for r := range n {
			elems[r] = args[r*width+c]
		}
		cols[c] = "CAST(? AS " + t + "[])"
		names[c] = "column" + strconv.Itoa(c+1) // what SQLite calls a VALUES list's columns
		arrays[c] = array(elems)
	}
	return "SELECT * FROM unnest(" + strings.Join(cols, ", ") + ") AS r(" + strings.Join(names, ", ") + ")", arrays
}

// in is a membership test against values for a WHERE clause: on
// PostgreSQL "= ANY" of one array of type pgType, the same statement text
// for any number of values; on SQLite "IN (?,…)", the list padded with its
// first value to one of a few lengths (see rows).
func in[T any](s *Store, pgType string, values []T) (string, any) {
	if !s.postgres {
		padded := make([]T, size(len(values)))
		for i := range padded {
			padded[i] = values[i%len(values)]
		}
		return "IN ?", padded
	}
	return "= ANY(CAST(? AS " + pgType + "[]))", array(values)
}

// size is the length a SQLite list of n items is padded to: the next
// power of two, at most rowsPerStatement.
func size(n int) int {
	if n <= 1 {
		return n
	}
	return min(1<<bits.Len(uint(n-1)), rowsPerStatement)
}

// array is values as a PostgreSQL array parameter. gorm would spread a
// slice into a list of parameters; this it passes to pgx whole.
func array[T any](values []T) pgtype.Array[T] {
	return pgtype.Array[T]{Elements: values, Dims: []pgtype.ArrayDimension{{Length: int32(len(values)), LowerBound: 1}}, Valid: true}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
