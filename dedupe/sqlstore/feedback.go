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
	return insertEvents(tx, at, []eventRow{{id, kind, actor, detail}})
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

// RuleNoise counts, per alert rule (the alertname an incident is titled
// after) and team, the interruptions in [since, until) by band, and the
// incidents of the rule marked not actionable in that range. team "" means
// every team.
func (s *Store) RuleNoise(ctx context.Context, team string, since, until time.Time) ([]dedupe.RuleNoise, error) {
	type key struct{ name, team string }
	byRule := map[key]*dedupe.RuleNoise{}
	var order []key
	get := func(k key) *dedupe.RuleNoise {
		if r, ok := byRule[k]; ok {
			return r
		}
		r := &dedupe.RuleNoise{Alertname: k.name, Team: k.team}
		byRule[k], order = r, append(order, k)
		return r
	}
	filter, args := "", []any{micros(since), micros(until)}
	if team != "" {
		filter, args = " AND i.team = ?", append(args, team)
	}
	db := s.db.WithContext(ctx)
	rows, err := db.Raw(`SELECT i.title, i.team, n.band, COUNT(*) FROM interruptions n
		JOIN incidents i ON i.id = n.incident_id
		WHERE n.at >= ? AND n.at < ?`+filter+`
		GROUP BY i.title, i.team, n.band ORDER BY i.title, i.team, n.band`, args...).Rows()
	if err != nil {
		return nil, unavailable(err, "interruptions")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k     key
			band  string
			count int
		)
		if err := rows.Scan(&k.name, &k.team, &band, &count); err != nil {
			return nil, unavailable(err, "interruptions")
		}
		r := get(k)
		switch band {
		case "sleep":
			r.Sleep += count
		case "off":
			r.Off += count
		default:
			r.Business += count
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "interruptions")
	}
	rows.Close()

	rows, err = db.Raw(`SELECT i.title, i.team, COUNT(DISTINCT f.incident_id) FROM incident_feedback f
		JOIN incidents i ON i.id = f.incident_id
		WHERE f.kind = 'not_actionable' AND f.at >= ? AND f.at < ?`+filter+`
		GROUP BY i.title, i.team ORDER BY i.title, i.team`, args...).Rows()
	if err != nil {
		return nil, unavailable(err, "feedback")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k     key
			count int
		)
		if err := rows.Scan(&k.name, &k.team, &count); err != nil {
			return nil, unavailable(err, "feedback")
		}
		get(k).NotActionable = count
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "feedback")
	}
	out := make([]dedupe.RuleNoise, 0, len(order))
	for _, k := range order {
		out = append(out, *byRule[k])
	}
	return out, nil
}
