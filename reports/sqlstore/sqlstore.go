// Package sqlstore reads the history the reports are computed from, and
// keeps the record of weekly reports sent, in the SQL database (SQLite or
// PostgreSQL).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/rotation"
)

// idsPerStatement keeps IN lists under both dialects' parameter limits.
const idsPerStatement = 500

// Store reads report history and keeps report sends.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db.
func New(db *migrations.DB) *Store { return &Store{db: db.Gorm} }

func unavailable(err error, what string) error {
	var qe *quietpager.Error
	if errors.As(err, &qe) {
		return err
	}
	return quietpager.Wrap(quietpager.Unavailable, err, "could not read "+what)
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNull(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

// History reads the team's interruptions and sent pages in [From, To),
// the episodes of its incidents that started in it (when asked), and those incidents
// and the ones opened in it. It reads outside a transaction: on SQLite a
// transaction would hold the single writer back for the whole read, and
// a page recorded between two of the reads changes no figure that
// matters.
func (s *Store) History(ctx context.Context, q reports.Query) (reports.History, error) {
	team := q.Team
	h := reports.History{From: q.From, To: q.To}
	err := func(tx *gorm.DB) error {
		lo, hi := q.From.UnixMicro(), q.To.UnixMicro()
		err := scan(tx, `SELECT incident_id, opening, step, round, person, at, band FROM interruptions
			WHERE team = ? AND at >= ? AND at < ? ORDER BY at, id`, func(rows *sql.Rows) error {
			var (
				x  reports.Interruption
				at int64
			)
			if err := rows.Scan(&x.IncidentID, &x.Opening, &x.Step, &x.Round, &x.Person, &at, &x.Band); err != nil {
				return err
			}
			x.At = fromMicros(at)
			h.Interruptions = append(h.Interruptions, x)
			return nil
		}, team, lo, hi)
		if err != nil {
			return err
		}
		err = scan(tx, `SELECT p.incident_id, p.opening, p.step, p.round, p.person, p.channel, p.updated_at
			FROM pages p JOIN incidents i ON i.id = p.incident_id
			WHERE p.status = 'sent' AND p.updated_at >= ? AND p.updated_at < ? AND i.team = ?
			ORDER BY p.updated_at, p.id`, func(rows *sql.Rows) error {
			var (
				p  reports.Page
				at int64
			)
			if err := rows.Scan(&p.IncidentID, &p.Opening, &p.Step, &p.Round, &p.Person, &p.Channel, &at); err != nil {
				return err
			}
			p.At = fromMicros(at)
			h.Pages = append(h.Pages, p)
			return nil
		}, lo, hi, team)
		if err != nil {
			return err
		}
		if !q.Episodes {
			return s.incidents(tx, &h, team, lo, hi)
		}
		err = scan(tx, `SELECT e.alert_id, a.alertname, e.incident_id, e.starts_at, e.ends_at, e.acknowledged_at
			FROM episodes e JOIN incidents i ON i.id = e.incident_id JOIN alerts a ON a.id = e.alert_id
			WHERE e.starts_at >= ? AND e.starts_at < ? AND i.team = ?`, func(rows *sql.Rows) error {
			var (
				e          reports.Episode
				start      int64
				end, acked sql.NullInt64
			)
			if err := rows.Scan(&e.AlertID, &e.Rule, &e.IncidentID, &start, &end, &acked); err != nil {
				return err
			}
			e.Start, e.End = fromMicros(start), fromNull(end)
			e.Acknowledged = acked.Valid && (!end.Valid || acked.Int64 <= end.Int64)
			h.Episodes = append(h.Episodes, e)
			return nil
		}, lo, hi, team)
		if err != nil {
			return err
		}
		return s.incidents(tx, &h, team, lo, hi)
	}(s.db.WithContext(ctx))
	if err != nil {
		return reports.History{}, unavailable(err, "the report history")
	}
	return h, nil
}

// incidentColumns are read by incidents; rule is the alertname of the
// incident's first episode.
const incidentColumns = `i.id, i.urgency, i.opened_at, i.acknowledged_at, i.resolved_at,
	COALESCE((SELECT a.alertname FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE e.incident_id = i.id ORDER BY e.starts_at, e.alert_id LIMIT 1), ''),
	(SELECT COUNT(*) FROM incident_feedback f WHERE f.incident_id = i.id AND f.kind = 'not_actionable')`

func (s *Store) incidents(tx *gorm.DB, h *reports.History, team string, lo, hi int64) error {
	seen := map[int64]bool{}
	read := func(rows *sql.Rows) error {
		var (
			inc            reports.Incident
			opened         int64
			acked, resolve sql.NullInt64
			urgency        string
		)
		if err := rows.Scan(&inc.ID, &urgency, &opened, &acked, &resolve, &inc.Rule, &inc.NotActionable); err != nil {
			return err
		}
		if seen[inc.ID] {
			return nil
		}
		seen[inc.ID] = true
		inc.Urgency = rotation.Urgency(urgency)
		inc.Opened, inc.Acknowledged, inc.Resolved = fromMicros(opened), fromNull(acked), fromNull(resolve)
		h.Incidents = append(h.Incidents, inc)
		return nil
	}
	err := scan(tx, `SELECT `+incidentColumns+` FROM incidents i
		WHERE i.team = ? AND i.opened_at >= ? AND i.opened_at < ?`, read, team, lo, hi)
	if err != nil {
		return err
	}
	var missing []int64
	note := func(id int64) {
		if !seen[id] {
			seen[id] = true // asked for once
			missing = append(missing, id)
		}
	}
	for _, x := range h.Interruptions {
		note(x.IncidentID)
	}
	for _, p := range h.Pages {
		note(p.IncidentID)
	}
	for _, e := range h.Episodes {
		note(e.IncidentID)
	}
	for _, id := range missing {
		delete(seen, id)
	}
	slices.Sort(missing)
	for start := 0; start < len(missing); start += idsPerStatement {
		chunk := missing[start:min(start+idsPerStatement, len(missing))]
		if err := scan(tx, `SELECT `+incidentColumns+` FROM incidents i WHERE i.id IN ?`, read, chunk); err != nil {
			return err
		}
	}
	return nil
}

func scan(tx *gorm.DB, q string, row func(*sql.Rows) error, args ...any) error {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
