// Package sqlstore keeps the on-call configuration (people, teams,
// rotations, escalation policies, routes, heartbeats) and overrides in the SQL database
// (SQLite or PostgreSQL) through gorm.
//
// The configuration is written whole by Apply, which makes the database
// match a rotation.Config by name, the way `quietpager apply` works; the
// overrides are written one at a time, by people.
package sqlstore

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/migrations"
)

// Store reads and writes the on-call configuration and overrides.
type Store struct {
	db       *gorm.DB
	postgres bool
	now      func() time.Time
}

// New returns a Store on db.
func New(db *migrations.DB) *Store {
	return &Store{db: db.Gorm, postgres: db.Dialect == migrations.Postgres, now: time.Now}
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func durMicros(d time.Duration) int64 { return d.Microseconds() }

func fromDurMicros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// fail passes our own errors through and turns database errors into
// Unavailable, whose message is safe to show.
func fail(err error, what string) error {
	if err == nil {
		return nil
	}
	var qe *quietpager.Error
	if errors.As(err, &qe) {
		return err
	}
	return quietpager.Wrap(quietpager.Unavailable, err, "could not "+what)
}
