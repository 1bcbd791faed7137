package sqlstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// RecordPage stores the outcome of a page on one channel: a later success
// replaces a failure, a sent page is never overwritten, and the timeline
// says who was paged how.
func (s *Store) RecordPage(ctx context.Context, p dedupe.PageRecord) error {
	status := "failed"
	if p.Sent {
		status = "sent"
	}
	err := s.db.WithContext(ctx).Exec(`INSERT INTO pages (incident_id, step, round, person, channel,
			status, receipt_channel, receipt_id, error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id, step, round, person, channel) DO UPDATE SET
			status = excluded.status, receipt_channel = excluded.receipt_channel,
			receipt_id = excluded.receipt_id, error = excluded.error, updated_at = excluded.updated_at
		WHERE pages.status <> 'sent'`,
		p.IncidentID, p.Step, p.Round, p.Person, p.Channel, status, p.ReceiptChannel, p.ReceiptID,
		p.Error, micros(p.At)).Error
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not record the page")
	}
	return nil
}

// Pages lists an incident's pages, oldest first.
func (s *Store) Pages(ctx context.Context, incidentID int64) ([]dedupe.PageRecord, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT step, round, person, channel, status,
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
		if err := rows.Scan(&p.Step, &p.Round, &p.Person, &p.Channel, &status,
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
		res := tx.Exec(`INSERT INTO interruptions (incident_id, step, round, person, team, at, band)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (incident_id, step, round, person) DO NOTHING`,
			in.IncidentID, in.Step, in.Round, in.Person, in.Team, micros(in.At), in.Band)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // a retried job reached the person again: already on the timeline
		}
		return insertEvents(tx, in.At, []eventRow{{in.IncidentID, dedupe.EventPaged, dedupe.ActorQuietpager, detail}})
	})
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not record the interruption")
	}
	return nil
}
