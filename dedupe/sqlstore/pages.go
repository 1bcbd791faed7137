package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// ClaimPage reserves one page on one channel for the caller before it
// delivers, so that two jobs (an urgent page racing a held one, a replay
// racing a retry) never send it twice. It reports whether the caller may
// send, and if not, whether the page was already sent. A failed page can
// be claimed again; a claim older than stale is taken over, since the job
// that made it died.
func (s *Store) ClaimPage(ctx context.Context, p dedupe.PageRecord, stale time.Duration) (claimed, sent bool, err error) {
	var ids []int64
	err = s.db.WithContext(ctx).Raw(`INSERT INTO pages (incident_id, opening, step, round, person, channel,
			status, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'sending', ?)
		ON CONFLICT (incident_id, opening, step, round, person, channel) DO UPDATE SET
			status = 'sending', error = '', updated_at = excluded.updated_at
		WHERE pages.status = 'failed' OR (pages.status = 'sending' AND pages.updated_at < ?)
		RETURNING id`, p.IncidentID, p.Opening, p.Step, p.Round, p.Person, p.Channel, micros(p.At),
		micros(p.At.Add(-stale))).Scan(&ids).Error
	if err != nil {
		return false, false, quietpager.Wrap(quietpager.Unavailable, err, "could not claim the page")
	}
	if len(ids) == 1 {
		return true, false, nil
	}
	var status []string
	err = s.db.WithContext(ctx).Raw(`SELECT status FROM pages WHERE incident_id = ? AND opening = ? AND step = ?
		AND round = ? AND person = ? AND channel = ?`, p.IncidentID, p.Opening, p.Step, p.Round, p.Person, p.Channel).
		Scan(&status).Error
	if err != nil {
		return false, false, quietpager.Wrap(quietpager.Unavailable, err, "could not read the page")
	}
	return false, len(status) == 1 && status[0] == "sent", nil
}

// RecordPage stores the outcome of a claimed page.
func (s *Store) RecordPage(ctx context.Context, p dedupe.PageRecord) error {
	status := "failed"
	if p.Sent {
		status = "sent"
	}
	err := s.db.WithContext(ctx).Exec(`UPDATE pages SET status = ?, receipt_channel = ?, receipt_id = ?,
			error = ?, updated_at = ?
		WHERE incident_id = ? AND opening = ? AND step = ? AND round = ? AND person = ? AND channel = ?`,
		status, p.ReceiptChannel, p.ReceiptID, p.Error, micros(p.At),
		p.IncidentID, p.Opening, p.Step, p.Round, p.Person, p.Channel).Error
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not record the page")
	}
	return nil
}

// Pages lists an incident's pages, oldest first.
func (s *Store) Pages(ctx context.Context, incidentID int64) ([]dedupe.PageRecord, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT opening, step, round, person, channel, status,
			receipt_channel, receipt_id, error, updated_at
		FROM pages WHERE incident_id = ? ORDER BY updated_at, id`, incidentID).Rows()
	if err != nil {
		return nil, unavailable(err, "pages")
	}
	defer rows.Close()
	out := []dedupe.PageRecord{}
	for rows.Next() {
		var (
			p      = dedupe.PageRecord{IncidentID: incidentID}
			status string
			at     int64
		)
		if err := rows.Scan(&p.Opening, &p.Step, &p.Round, &p.Person, &p.Channel, &status,
			&p.ReceiptChannel, &p.ReceiptID, &p.Error, &at); err != nil {
			return nil, unavailable(err, "pages")
		}
		p.Sent, p.At = status == "sent", fromMicros(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// RecordInterruption stores a page that reached a person, once per
// escalation step, and notes it on the incident's timeline.
func (s *Store) RecordInterruption(ctx context.Context, in dedupe.Interruption, detail string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO interruptions (incident_id, opening, step, round, person, team, at, band)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (incident_id, opening, step, round, person) DO NOTHING`,
			in.IncidentID, in.Opening, in.Step, in.Round, in.Person, in.Team, micros(in.At), in.Band)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // a retried job reached the person again: already on the timeline
		}
		return s.insertEvents(tx, in.At, []eventRow{{in.IncidentID, dedupe.EventPaged, dedupe.ActorQuietpager, detail}})
	})
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not record the interruption")
	}
	return nil
}
