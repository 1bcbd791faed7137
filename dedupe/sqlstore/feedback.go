package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// RecordSilence notes on an incident that an Alertmanager silence was made
// for it: a row in silences and a timeline entry. The OnTransition hook
// runs in the same transaction, so the incident's Slack messages show it.
func (s *Store) RecordSilence(ctx context.Context, incidentID int64, sl dedupe.Silence) error {
	if sl.ID == "" || sl.CreatedBy == "" || !sl.EndsAt.After(sl.CreatedAt) {
		return quietpager.Errorf(quietpager.Invalid, "a silence needs an id, who made it, and an end after its start")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := incidentExists(tx, incidentID); err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO silences (incident_id, silence_id, created_by, created_at, ends_at)
			VALUES (?, ?, ?, ?, ?)`, incidentID, sl.ID, sl.CreatedBy, micros(sl.CreatedAt), micros(sl.EndsAt)).Error; err != nil {
			return err
		}
		detail := fmt.Sprintf("silenced in Alertmanager until %s (silence %s)",
			sl.EndsAt.UTC().Format("2006-01-02 15:04 MST"), sl.ID)
		return s.noted(ctx, tx, incidentID, sl.CreatedAt, dedupe.EventSilenced, sl.CreatedBy, detail)
	})
	return feedbackError(err, "could not record the silence")
}

// MarkNotActionable records that actor found the incident not actionable.
// Marking it again changes nothing and reports added false.
func (s *Store) MarkNotActionable(ctx context.Context, incidentID int64, actor string, at time.Time) (added bool, err error) {
	if actor == "" {
		return false, quietpager.Errorf(quietpager.Invalid, "an actor is required")
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := incidentExists(tx, incidentID); err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO incident_feedback (incident_id, kind, actor, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (incident_id, kind, actor) DO NOTHING`,
			incidentID, dedupe.FeedbackNotActionable, actor, micros(at))
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		added = true
		return s.noted(ctx, tx, incidentID, at, dedupe.EventNotActionable, actor, "marked not actionable")
	})
	return added, feedbackError(err, "could not record the feedback")
}

// noted puts an event on the timeline and tells the OnTransition hook.
func (s *Store) noted(ctx context.Context, tx *gorm.DB, id int64, at time.Time, kind, actor, detail string) error {
	if s.o.OnTransition != nil {
		if err := s.o.OnTransition(ctx, sqlTx(tx), id, kind); err != nil {
			return err
		}
	}
	return s.insertEvents(tx, at, []eventRow{{id, kind, actor, detail}})
}

func incidentExists(tx *gorm.DB, id int64) error {
	var n int64
	if err := tx.Raw(`SELECT COUNT(*) FROM incidents WHERE id = ?`, id).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return quietpager.Errorf(quietpager.NotFound, "no incident %d", id)
	}
	return nil
}

func feedbackError(err error, message string) error {
	switch quietpager.ErrorCode(err) {
	case quietpager.NotFound, quietpager.Invalid:
		return err
	}
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, message)
	}
	return nil
}

// silencesAndFeedback reads an incident's silences (newest first) and
// feedback (oldest first).
func (s *Store) silencesAndFeedback(ctx context.Context, id int64) ([]dedupe.Silence, []dedupe.Feedback, error) {
	db := s.db.WithContext(ctx)
	silences := []dedupe.Silence{}
	rows, err := db.Raw(`SELECT silence_id, created_by, created_at, ends_at FROM silences
		WHERE incident_id = ? ORDER BY created_at DESC, id DESC`, id).Rows()
	if err != nil {
		return nil, nil, unavailable(err, "silences")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sl           dedupe.Silence
			created, end int64
		)
		if err := rows.Scan(&sl.ID, &sl.CreatedBy, &created, &end); err != nil {
			return nil, nil, unavailable(err, "silences")
		}
		sl.CreatedAt, sl.EndsAt = fromMicros(created), fromMicros(end)
		silences = append(silences, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable(err, "silences")
	}
	rows.Close()

	feedback := []dedupe.Feedback{}
	rows, err = db.Raw(`SELECT kind, actor, at FROM incident_feedback WHERE incident_id = ? ORDER BY at, id`, id).Rows()
	if err != nil {
		return nil, nil, unavailable(err, "feedback")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			f  dedupe.Feedback
			at int64
		)
		if err := rows.Scan(&f.Kind, &f.Actor, &at); err != nil {
			return nil, nil, unavailable(err, "feedback")
		}
		f.At = fromMicros(at)
		feedback = append(feedback, f)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable(err, "feedback")
	}
	return silences, feedback, nil
}
