// Package migrations owns quietpager's schema and the database handle: the
// versioned SQL files (one folder per dialect, each with an up and a down,
// embedded in the binary), opening a database from its DSN with the
// settings that were measured to work, and running the migrations through
// goose.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	modernsqlite "modernc.org/sqlite"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Dialect names a supported database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database: gorm for the data layer, the *sql.DB under it for
// the migration library and for the background job queue.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Dialect Dialect
}

// Open opens a database from a DSN: "sqlite:PATH" or a postgres:// URL.
//
// SQLite gets the settings that gave zero "database is locked" errors under
// concurrent writers here: WAL, a 5 s busy timeout, immediate transactions,
// one connection. synchronous=FULL makes every commit durable before the
// webhook is answered; group commit pays for the fsync once per batch.
// temp_store=MEMORY keeps statement journals (the pages a multi-row upsert
// changes, kept so that a failing statement can be undone alone) in memory:
// past 64 KiB SQLite spilled them to a temporary file, nearly half the
// writer's bytes written (docs/benchmarks.md).
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		db  = &DB{}
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		db.Dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("sqlite DSN has no path: want sqlite:PATH")
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint(10000)" +
			"&_pragma=temp_store(MEMORY)&_txlock=immediate"
		base, cerr := modernsqlite.NewConnector(path)
		if cerr != nil {
			return nil, fmt.Errorf("open %s: %w", redact(dsn), cerr)
		}
		db.SQL = sql.OpenDB(keepingConnector{base})
		db.SQL.SetMaxOpenConns(1)
		db.SQL.SetConnMaxIdleTime(0)
		db.Gorm, err = gorm.Open(sqlite.Dialector{DriverName: "sqlite", Conn: db.SQL}, gormConfig())
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.Dialect = Postgres
		// url.Parse splits user info at the last "@", so a password with
		// an "@" in it works; u.String() percent-encodes it for pgx.
		u, perr := url.Parse(dsn)
		if perr != nil {
			return nil, errors.New("invalid postgres DSN: percent-encode special characters in the password (@ as %40)")
		}
		// Plan every statement for its arguments and the table as it is
		// now. pgx prepares statements, and PostgreSQL's cached generic
		// plan for the incident lookup, made while the table was small,
		// stayed a sequential scan as it grew: 10 ms per write batch at
		// 20k incidents instead of 1 ms (docs/benchmarks.md). A DSN that
		// sets plan_cache_mode itself wins.
		if q := u.Query(); q.Get("plan_cache_mode") == "" {
			q.Set("plan_cache_mode", "force_custom_plan")
			u.RawQuery = q.Encode()
		}
		if db.SQL, err = sql.Open("pgx", u.String()); err != nil {
			return nil, fmt.Errorf("open %s: %w", redact(dsn), err)
		}
		db.SQL.SetMaxOpenConns(16)
		db.SQL.SetMaxIdleConns(16)
		db.SQL.SetConnMaxIdleTime(5 * time.Minute)
		db.Gorm, err = gorm.Open(postgres.New(postgres.Config{Conn: db.SQL}), gormConfig())
	default:
		return nil, fmt.Errorf("unsupported database %q: want sqlite:PATH or postgres://…", redact(dsn))
	}
	if err != nil {
		db.SQL.Close()
		return nil, fmt.Errorf("open %s: %w", redact(dsn), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.SQL.PingContext(pingCtx); err != nil {
		db.SQL.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(dsn), err)
	}
	return db, nil
}

func gormConfig() *gorm.Config {
	return &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true}
}

// redact hides a password in a DSN so that it can be logged.
func redact(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "the database"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Close closes the database.
func (db *DB) Close() error { return db.SQL.Close() }

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(db.Dialect))
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together must not run the same migration twice.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db.SQL, sub, opts...)
}

// Step is one migration that was applied or rolled back.
type Step struct {
	Version  int64
	Name     string
	Duration time.Duration
}

// RiverDriver is the job queue's driver on this database: River's SQLite
// driver, or its database/sql driver for PostgreSQL (the same *sql.DB,
// so a job inserted in a gorm transaction commits with it).
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if db.Dialect == SQLite {
		return riversqlite.New(db.SQL)
	}
	return riverdatabasesql.New(db.SQL)
}

// river migrates the job queue's own tables, which River versions itself.
func (db *DB) river(ctx context.Context, dir rivermigrate.Direction) error {
	m, err := rivermigrate.New(db.RiverDriver(), nil)
	if err != nil {
		return err
	}
	opts := &rivermigrate.MigrateOpts{}
	if dir == rivermigrate.DirectionDown {
		opts.TargetVersion = -1 // all the way
	}
	_, err = m.Migrate(ctx, dir, opts)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}

// Up applies every pending migration, the job queue's included.
func (db *DB) Up(ctx context.Context) ([]Step, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return steps(res), err
	}
	return steps(res), db.river(ctx, rivermigrate.DirectionUp)
}

// DownTo rolls back every migration above version; 0 removes everything,
// the job queue's tables too.
func (db *DB) DownTo(ctx context.Context, version int64) ([]Step, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	if version == 0 {
		if err := db.river(ctx, rivermigrate.DirectionDown); err != nil {
			return nil, err
		}
	}
	res, err := p.DownTo(ctx, version)
	return steps(res), err
}

// riverDownAtZero removes the job queue's tables once the schema is rolled
// back past its first migration, so that "down" to nothing leaves nothing.
func (db *DB) riverDownAtZero(ctx context.Context, p *goose.Provider) error {
	v, err := p.GetDBVersion(ctx)
	if err != nil || v != 0 {
		return err
	}
	return db.river(ctx, rivermigrate.DirectionDown)
}

// Down rolls back the newest applied migration.
func (db *DB) Down(ctx context.Context) ([]Step, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Down(ctx)
	if err != nil {
		return nil, err
	}
	return steps([]*goose.MigrationResult{res}), db.riverDownAtZero(ctx, p)
}

func steps(res []*goose.MigrationResult) []Step {
	out := make([]Step, 0, len(res))
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, Step{Version: r.Source.Version, Name: r.Source.Path, Duration: r.Duration})
	}
	return out
}

// Status is one migration and whether it is applied.
type Status struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Status lists every known migration, oldest first.
func (db *DB) Status(ctx context.Context) ([]Status, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(res))
	for _, r := range res {
		out = append(out, Status{
			Version:   r.Source.Version,
			Name:      r.Source.Path,
			Applied:   r.State == goose.StateApplied,
			AppliedAt: r.AppliedAt,
		})
	}
	return out, nil
}

// Current reports whether every migration this binary knows is applied.
// A database migrated beyond this binary (a newer release ran) is current
// too: the previous release must run on the new schema.
func (db *DB) Current(ctx context.Context) (bool, error) {
	p, err := db.provider()
	if err != nil {
		return false, err
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return false, err
	}
	return current >= target, nil
}
