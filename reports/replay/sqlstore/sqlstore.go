// Package sqlstore keeps the record of replays in the SQL database (SQLite
// or PostgreSQL): one row per replay run, the mark on every incident a
// replay opened, and the deletion of replayed history.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/migrations"
)

// Store reads and writes replays.
type Store struct {
	db       *gorm.DB
	postgres bool
}

// New returns a Store on db.
func New(db *migrations.DB) *Store {
	return &Store{db: db.Gorm, postgres: db.Dialect == migrations.Postgres}
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func unavailable(err error, what string) error {
	if err == nil {
		return nil
	}
	return quietpager.Wrap(quietpager.Unavailable, err, "could not "+what)
}

// Begin records the start of a replay of source and returns its id.
func (s *Store) Begin(ctx context.Context, source string, at time.Time) (int64, error) {
	var id int64
	err := s.db.WithContext(ctx).Raw(`INSERT INTO replays (source, started_at) VALUES (?, ?) RETURNING id`,
		source, micros(at)).Scan(&id).Error
	return id, unavailable(err, "record the replay")
}

// Finish records how a replay ended: the lines it replayed, the period
// they covered, and the error that stopped it, if any.
func (s *Store) Finish(ctx context.Context, id int64, lines int, first, last time.Time, at time.Time, failure string) error {
	var firstAt, lastAt *int64
	if lines > 0 {
		f, l := micros(first), micros(last)
		firstAt, lastAt = &f, &l
	}
	err := s.db.WithContext(ctx).Exec(`UPDATE replays SET finished_at = ?, lines = ?, first_at = ?, last_at = ?, error = ?
		WHERE id = ?`, micros(at), lines, firstAt, lastAt, failure, id).Error
	return unavailable(err, "record the replay")
}

// Marker returns the incident store's OnIncidents hook for replay id: it
// marks the incidents a write opened as replayed, in the write's own
// transaction, and then calls next (the pager's Schedule).
func (s *Store) Marker(id int64, next func(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error) func(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error {
	mark := `UPDATE incidents SET replay_id = ? WHERE id = ? AND replay_id IS NULL`
	if s.postgres {
		mark = `UPDATE incidents SET replay_id = $1 WHERE id = $2 AND replay_id IS NULL`
	}
	return func(ctx context.Context, tx *sql.Tx, changes []dedupe.IncidentChange) error {
		for _, c := range changes {
			if !c.Opened {
				continue
			}
			// One statement per new incident: a replayed write opens a
			// handful.
			if _, err := tx.ExecContext(ctx, mark, id, c.ID); err != nil {
				return err
			}
		}
		return next(ctx, tx, changes)
	}
}

// Run is one replay run's view of the store; it is a replay.Finder.
type Run struct {
	*Store
	ID int64
	// Policies give each alert its flap thresholds, as the incident store
	// has them.
	Policies dedupe.Policies
}

// NextFlapStop implements replay.Finder: when the first flapping alert
// stops flapping if nothing changes, by its route's flap thresholds.
func (r Run) NextFlapStop(ctx context.Context) (time.Time, bool, error) {
	var rows []struct {
		Labels    string
		FlapScore float64
		FlapAt    int64
	}
	if err := r.db.WithContext(ctx).Raw(`SELECT labels, flap_score, flap_at FROM alerts WHERE flapping = ?`, true).
		Scan(&rows).Error; err != nil {
		return time.Time{}, false, unavailable(err, "read flapping alerts")
	}
	var first time.Time
	for _, a := range rows {
		labels := map[string]string{}
		if err := json.Unmarshal([]byte(a.Labels), &labels); err != nil {
			return time.Time{}, false, err
		}
		stop := r.Policies.PolicyFor(labels).Flap.StopsAt(flap.State{Score: a.FlapScore, At: fromMicros(a.FlapAt), Flapping: true})
		if first.IsZero() || stop.Before(first) {
			first = stop
		}
	}
	return first, !first.IsZero(), nil
}

// IncidentOf implements replay.Finder: the incident of this replay holding
// the newest episode, started at or before at, of the alert with
// fingerprint.
func (r Run) IncidentOf(ctx context.Context, fingerprint string, at time.Time) (int64, error) {
	return r.incidentOf(ctx, r.ID, fingerprint, at)
}

func (s *Store) incidentOf(ctx context.Context, replay int64, fingerprint string, at time.Time) (int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Raw(`SELECT e.incident_id FROM episodes e
			JOIN alerts a ON a.id = e.alert_id
			JOIN incidents i ON i.id = e.incident_id
		WHERE a.fingerprint = ? AND e.starts_at <= ? AND i.replay_id = ?
		ORDER BY e.starts_at DESC LIMIT 1`, fingerprint, micros(at), replay).Scan(&ids).Error
	if err != nil {
		return 0, unavailable(err, "find the incident")
	}
	if len(ids) == 0 {
		return 0, quietpager.Errorf(quietpager.NotFound, "no incident of alert %s", fingerprint)
	}
	return ids[0], nil
}

// NextHold implements replay.Finder.
func (s *Store) NextHold(ctx context.Context) (time.Time, bool, error) {
	var hold []sql.NullInt64
	err := s.db.WithContext(ctx).Raw(`SELECT MIN(hold_until) FROM incidents
		WHERE state <> 'resolved' AND hold_until IS NOT NULL`).Scan(&hold).Error
	if err != nil {
		return time.Time{}, false, unavailable(err, "read quiet periods")
	}
	if len(hold) == 0 || !hold[0].Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(hold[0].Int64), true, nil
}

// Deleted counts what Delete removed.
type Deleted struct {
	Replays, Incidents, Alerts int64
}

// Delete removes every replayed incident with its episodes, timeline,
// pages, interruptions and feedback, the alerts only replays knew, and the
// record of the replays. Live history stays.
func (s *Store) Delete(ctx context.Context) (Deleted, error) {
	var d Deleted
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		replayed := `SELECT id FROM incidents WHERE replay_id IS NOT NULL`
		// Alerts that only replayed incidents hold go first, and their
		// episodes with them (ON DELETE CASCADE).
		res := tx.Exec(`DELETE FROM alerts WHERE id IN (SELECT e.alert_id FROM episodes e WHERE e.incident_id IN (` + replayed + `))
			AND NOT EXISTS (SELECT 1 FROM episodes o WHERE o.alert_id = alerts.id
				AND (o.incident_id IS NULL OR o.incident_id NOT IN (` + replayed + `)))`)
		if res.Error != nil {
			return res.Error
		}
		d.Alerts = res.RowsAffected
		if res = tx.Exec(`DELETE FROM episodes WHERE incident_id IN (` + replayed + `)`); res.Error != nil {
			return res.Error
		}
		// The children without ON DELETE CASCADE on every dialect go first.
		for _, table := range []string{"incident_events", "pages", "interruptions", "incident_feedback", "silences"} {
			if err := tx.Exec(`DELETE FROM ` + table + ` WHERE incident_id IN (` + replayed + `)`).Error; err != nil {
				return err
			}
		}
		if res = tx.Exec(`DELETE FROM incidents WHERE replay_id IS NOT NULL`); res.Error != nil {
			return res.Error
		}
		d.Incidents = res.RowsAffected
		if res = tx.Exec(`DELETE FROM replays`); res.Error != nil {
			return res.Error
		}
		d.Replays = res.RowsAffected
		return nil
	})
	return d, unavailable(err, "delete replayed history")
}
