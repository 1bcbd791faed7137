package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// LastAlive returns the newest instant at which an alert named alertname
// whose labels match every matcher was alive, as far as quietpager heard:
// for an alert still firing, when its last notification arrived; for one
// that resolved, when it ended (but no later than its last notification),
// because a resolved heartbeat is one that stopped. Zero when no such
// alert was ever received. The alertname is what the index narrows by.
func (s *Store) LastAlive(ctx context.Context, alertname string, ms []*labels.Matcher) (time.Time, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT a.labels, a.last_seen,
			EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing'),
			(SELECT MAX(e.ends_at) FROM episodes e WHERE e.alert_id = a.id)
		FROM alerts a WHERE a.alertname = ?`, alertname).Rows()
	if err != nil {
		return time.Time{}, unavailable(err, "alerts")
	}
	defer rows.Close()
	q := dedupe.AlertQuery{Matchers: ms}
	var newest int64
	for rows.Next() {
		var (
			ls       string
			lastSeen int64
			firing   bool
			endsAt   sql.NullInt64
			lset     map[string]string
		)
		if err := rows.Scan(&ls, &lastSeen, &firing, &endsAt); err != nil {
			return time.Time{}, unavailable(err, "alerts")
		}
		if err := json.Unmarshal([]byte(ls), &lset); err != nil {
			return time.Time{}, quietpager.Wrap(quietpager.Internal, err, "corrupt labels")
		}
		if !q.Matches(lset) {
			continue
		}
		alive := lastSeen
		if !firing && endsAt.Valid {
			alive = min(alive, endsAt.Int64)
		}
		newest = max(newest, alive)
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, unavailable(err, "alerts")
	}
	if newest == 0 {
		return time.Time{}, nil
	}
	return fromMicros(newest), nil
}

// FiringEpisodes returns the firing episodes of the alerts named
// alertname.
func (s *Store) FiringEpisodes(ctx context.Context, alertname string) ([]dedupe.FiringEpisode, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT a.fingerprint, a.labels, e.starts_at
		FROM alerts a JOIN episodes e ON e.alert_id = a.id
		WHERE a.alertname = ? AND e.state = 'firing' ORDER BY a.fingerprint, e.starts_at`, alertname).Rows()
	if err != nil {
		return nil, unavailable(err, "episodes")
	}
	defer rows.Close()
	var out []dedupe.FiringEpisode
	for rows.Next() {
		var (
			e      dedupe.FiringEpisode
			ls     string
			starts int64
		)
		if err := rows.Scan(&e.Fingerprint, &ls, &starts); err != nil {
			return nil, unavailable(err, "episodes")
		}
		if err := json.Unmarshal([]byte(ls), &e.Labels); err != nil {
			return nil, quietpager.Wrap(quietpager.Internal, err, "corrupt labels")
		}
		e.StartsAt = fromMicros(starts)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "episodes")
	}
	return out, nil
}
