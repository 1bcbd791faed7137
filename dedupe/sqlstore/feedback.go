package sqlstore

import (
	"context"
	"time"

	"github.com/quietpager/quietpager"
)

// MarkNotActionable records that actor found an incident not actionable
// (it feeds the noise ranking). Marking it again changes nothing.
func (s *Store) MarkNotActionable(ctx context.Context, id int64, actor string, at time.Time) error {
	if actor == "" {
		return quietpager.Errorf(quietpager.Invalid, "an actor is required")
	}
	var n int64
	if err := s.db.WithContext(ctx).Raw(`SELECT COUNT(*) FROM incidents WHERE id = ?`, id).Scan(&n).Error; err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not read the incident")
	}
	if n == 0 {
		return quietpager.Errorf(quietpager.NotFound, "no incident %d", id)
	}
	err := s.db.WithContext(ctx).Exec(`INSERT INTO incident_feedback (incident_id, kind, actor, at)
		VALUES (?, 'not_actionable', ?, ?) ON CONFLICT (incident_id, kind, actor) DO NOTHING`, id, actor, micros(at)).Error
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not record the feedback")
	}
	return nil
}
