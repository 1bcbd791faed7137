package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager/dedupe"
)

// pruneBatch bounds the rows one pruning transaction deletes, so the
// webhook path (one SQLite writer) never waits long behind retention.
const pruneBatch = 1000

// Prune deletes history older than cutoff: incidents resolved before it,
// with their timeline, pages, interruptions, feedback and the episodes that
// ended before it; then alerts last seen before it that have no episode
// left. An open incident keeps everything, however old. Each batch is its
// own short transaction; two replicas pruning at once only find less to do.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (dedupe.Pruned, error) {
	var p dedupe.Pruned
	for {
		var ids []int64
		var episodes int64
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			ids = ids[:0]
			if err := tx.Raw(`SELECT id FROM incidents WHERE state = 'resolved' AND resolved_at < ? ORDER BY id LIMIT ?`,
				micros(cutoff), pruneBatch).Scan(&ids).Error; err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			// An episode still firing, or one that ended after cutoff,
			// outlives its old incident (a person resolved the incident
			// while the alert kept firing): it only loses the link.
			del := tx.Exec(`DELETE FROM episodes WHERE incident_id IN ? AND state = 'resolved' AND ends_at < ?`, ids, micros(cutoff))
			if del.Error != nil {
				return del.Error
			}
			episodes = del.RowsAffected
			if err := tx.Exec(`UPDATE episodes SET incident_id = NULL WHERE incident_id IN ?`, ids).Error; err != nil {
				return err
			}
			// The timeline has no foreign key on PostgreSQL (the webhook
			// path writes it), so nothing cascades to it.
			if err := tx.Exec(`DELETE FROM incident_events WHERE incident_id IN ?`, ids).Error; err != nil {
				return err
			}
			return tx.Exec(`DELETE FROM incidents WHERE id IN ?`, ids).Error
		})
		if err != nil {
			return p, err
		}
		p.Incidents += len(ids)
		p.Episodes += int(episodes)
		if len(ids) < pruneBatch {
			break
		}
	}
	for {
		del := s.db.WithContext(ctx).Exec(`DELETE FROM alerts WHERE id IN (
			SELECT a.id FROM alerts a WHERE a.last_seen < ?
			AND NOT EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id) LIMIT ?)`, micros(cutoff), pruneBatch)
		if del.Error != nil {
			return p, del.Error
		}
		p.Alerts += int(del.RowsAffected)
		if del.RowsAffected < pruneBatch {
			return p, nil
		}
	}
}
