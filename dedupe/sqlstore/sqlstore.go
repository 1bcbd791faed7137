// Package sqlstore keeps alerts and episodes in the SQL database (SQLite or
// PostgreSQL) through gorm.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/migrations"
)

// rowsPerStatement keeps multi-row statements under SQLite's and
// PostgreSQL's bound-parameter limits (32,766 and 65,535).
const rowsPerStatement = 500

// Store reads and writes alerts and episodes.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db.
func New(db *migrations.DB) *Store { return &Store{db: db.Gorm} }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Write commits one folded batch in one transaction. The upserts are
// monotonic merges, so replicas writing the same episode at the same moment
// converge on one row whatever order their transactions commit in.
func (s *Store) Write(ctx context.Context, b dedupe.Batch) (dedupe.WriteResult, error) {
	var res dedupe.WriteResult
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ids, err := upsertAlerts(tx, b.Alerts)
		if err != nil {
			return err
		}
		prior, err := priorEpisodes(tx, ids, b.Episodes)
		if err != nil {
			return err
		}
		if err := upsertEpisodes(tx, ids, b.Episodes); err != nil {
			return err
		}
		var started []int64
		for _, e := range b.Episodes {
			k := episodeKey{ids[e.Fingerprint], micros(e.StartsAt)}
			state, existed := prior[k]
			if existed {
				res.Folded += e.Notifications
			} else {
				res.NewEpisodes++
				res.Folded += e.Notifications - 1
				started = append(started, k.alertID)
			}
			if e.Resolved && state != dedupe.Resolved {
				res.Resolved++
			}
		}
		return closeSuperseded(tx, started)
	})
	if err != nil {
		return dedupe.WriteResult{}, quietpager.Wrap(quietpager.Unavailable, err, "could not commit alerts")
	}
	return res, nil
}

type episodeKey struct {
	alertID  int64
	startsAt int64
}

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

// upsertAlerts writes the batch's alerts and returns each one's id.
func upsertAlerts(tx *gorm.DB, alerts []dedupe.AlertUpsert) (map[string]int64, error) {
	ids := make(map[string]int64, len(alerts))
	err := chunks(alerts, func(chunk []dedupe.AlertUpsert) error {
		args := make([]any, 0, len(chunk)*9)
		for _, a := range chunk {
			ls, err := json.Marshal(a.Labels)
			if err != nil {
				return err
			}
			as, err := json.Marshal(nonNil(a.Annotations))
			if err != nil {
				return err
			}
			args = append(args, a.Fingerprint, a.Alertname, string(ls), string(as),
				a.GeneratorURL, a.Receiver, a.GroupKey, micros(a.FirstSeen), micros(a.LastSeen))
		}
		rows, err := tx.Raw(`INSERT INTO alerts (fingerprint, alertname, labels, annotations,
				generator_url, receiver, group_key, first_seen, last_seen)
			VALUES `+values(len(chunk), 9)+`
			ON CONFLICT (fingerprint) DO UPDATE SET
				alertname     = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.alertname ELSE alerts.alertname END,
				labels        = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.labels ELSE alerts.labels END,
				annotations   = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.annotations ELSE alerts.annotations END,
				generator_url = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.generator_url ELSE alerts.generator_url END,
				receiver      = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.receiver ELSE alerts.receiver END,
				group_key     = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.group_key ELSE alerts.group_key END,
				first_seen    = CASE WHEN excluded.first_seen < alerts.first_seen THEN excluded.first_seen ELSE alerts.first_seen END,
				last_seen     = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END
			RETURNING id, fingerprint`, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id int64
				fp string
			)
			if err := rows.Scan(&id, &fp); err != nil {
				return err
			}
			ids[fp] = id
		}
		return rows.Err()
	})
	return ids, err
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// priorEpisodes reads the stored state of the batch's episodes before it is
// merged, to count new episodes and resolves.
func priorEpisodes(tx *gorm.DB, ids map[string]int64, eps []dedupe.EpisodeUpsert) (map[episodeKey]dedupe.State, error) {
	prior := make(map[episodeKey]dedupe.State)
	err := chunks(eps, func(chunk []dedupe.EpisodeUpsert) error {
		alertIDs := make([]int64, 0, len(chunk))
		earliest := chunk[0].StartsAt
		for i, e := range chunk {
			if i == 0 || e.Fingerprint != chunk[i-1].Fingerprint {
				alertIDs = append(alertIDs, ids[e.Fingerprint])
			}
			if e.StartsAt.Before(earliest) {
				earliest = e.StartsAt
			}
		}
		rows, err := tx.Raw(`SELECT alert_id, starts_at, state FROM episodes
			WHERE alert_id IN ? AND starts_at >= ?`, alertIDs, micros(earliest)).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k     episodeKey
				state dedupe.State
			)
			if err := rows.Scan(&k.alertID, &k.startsAt, &state); err != nil {
				return err
			}
			prior[k] = state
		}
		return rows.Err()
	})
	return prior, err
}

func upsertEpisodes(tx *gorm.DB, ids map[string]int64, eps []dedupe.EpisodeUpsert) error {
	return chunks(eps, func(chunk []dedupe.EpisodeUpsert) error {
		args := make([]any, 0, len(chunk)*7)
		for _, e := range chunk {
			var endsAt, state any = nil, dedupe.Firing
			if e.Resolved {
				endsAt, state = micros(e.EndsAt), dedupe.Resolved
			}
			args = append(args, ids[e.Fingerprint], micros(e.StartsAt), endsAt, state,
				e.Notifications, micros(e.FirstReceived), micros(e.LastReceived))
		}
		// A resolve that arrives before its firing (out-of-order delivery)
		// wins: once resolved, an episode stays resolved.
		return tx.Exec(`INSERT INTO episodes (alert_id, starts_at, ends_at, state,
				notifications, first_received, last_received)
			VALUES `+values(len(chunk), 7)+`
			ON CONFLICT (alert_id, starts_at) DO UPDATE SET
				notifications  = episodes.notifications + excluded.notifications,
				state          = CASE WHEN excluded.state = 'resolved' THEN 'resolved' ELSE episodes.state END,
				ends_at        = CASE WHEN episodes.ends_at IS NULL THEN excluded.ends_at ELSE episodes.ends_at END,
				first_received = CASE WHEN excluded.first_received < episodes.first_received THEN excluded.first_received ELSE episodes.first_received END,
				last_received  = CASE WHEN excluded.last_received > episodes.last_received THEN excluded.last_received ELSE episodes.last_received END`,
			args...).Error
	})
}

// closeSuperseded ends firing episodes that a later episode of the same
// alert has replaced: one alert cannot fire twice at once, so when its
// resolve was lost, the next firing period's start is the end of the last.
func closeSuperseded(tx *gorm.DB, alertIDs []int64) error {
	return chunks(alertIDs, func(chunk []int64) error {
		return tx.Exec(`UPDATE episodes SET state = 'resolved',
				ends_at = (SELECT MIN(n.starts_at) FROM episodes n
					WHERE n.alert_id = episodes.alert_id AND n.starts_at > episodes.starts_at)
			WHERE state = 'firing' AND alert_id IN ?
				AND EXISTS (SELECT 1 FROM episodes n
					WHERE n.alert_id = episodes.alert_id AND n.starts_at > episodes.starts_at)`,
			chunk).Error
	})
}

// Alerts lists alerts, most recently seen first.
func (s *Store) Alerts(ctx context.Context, q dedupe.AlertQuery) ([]dedupe.Alert, error) {
	where := ""
	switch q.State {
	case dedupe.Firing:
		where = "WHERE EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing')"
	case dedupe.Resolved:
		where = "WHERE NOT EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing')"
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT a.fingerprint, a.labels, a.annotations,
			a.generator_url, a.receiver, a.group_key, a.first_seen, a.last_seen,
			(SELECT COUNT(*) FROM episodes e WHERE e.alert_id = a.id),
			EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing')
		FROM alerts a ` + where + ` ORDER BY a.last_seen DESC, a.fingerprint`).Rows()
	if err != nil {
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read alerts")
	}
	defer rows.Close()
	out := []dedupe.Alert{}
	for rows.Next() && len(out) < q.Limit {
		var (
			a           dedupe.Alert
			ls, as      string
			first, last int64
			firing      bool
		)
		if err := rows.Scan(&a.Fingerprint, &ls, &as, &a.GeneratorURL, &a.Receiver, &a.GroupKey,
			&first, &last, &a.Episodes, &firing); err != nil {
			return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read alerts")
		}
		if err := json.Unmarshal([]byte(ls), &a.Labels); err != nil {
			return nil, quietpager.Wrap(quietpager.Internal, err, "corrupt labels")
		}
		if !q.Matches(a.Labels) {
			continue
		}
		if err := json.Unmarshal([]byte(as), &a.Annotations); err != nil {
			return nil, quietpager.Wrap(quietpager.Internal, err, "corrupt annotations")
		}
		a.FirstSeen, a.LastSeen = fromMicros(first), fromMicros(last)
		a.State = dedupe.Resolved
		if firing {
			a.State = dedupe.Firing
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read alerts")
	}
	return out, nil
}

// Episodes lists one alert's episodes, newest first.
func (s *Store) Episodes(ctx context.Context, fingerprint string, limit int) ([]dedupe.Episode, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT e.starts_at, e.ends_at, e.state, e.notifications
		FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE a.fingerprint = ? ORDER BY e.starts_at DESC LIMIT ?`, fingerprint, limit).Rows()
	if err != nil {
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read episodes")
	}
	defer rows.Close()
	out := []dedupe.Episode{}
	for rows.Next() {
		var (
			e      = dedupe.Episode{Fingerprint: fingerprint}
			starts int64
			ends   sql.NullInt64
		)
		if err := rows.Scan(&starts, &ends, &e.State, &e.Notifications); err != nil {
			return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read episodes")
		}
		e.StartsAt = fromMicros(starts)
		if ends.Valid {
			t := fromMicros(ends.Int64)
			e.EndsAt = &t
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read episodes")
	}
	return out, nil
}
