package sqlstore

import (
	"context"
	"time"
)

// ClaimSend marks the report of team and week to recipient as being sent
// and reports whether this caller may send it. The check and the claim are
// one statement, so of two replicas asking at once exactly one wins. A
// report already sent is never claimed again; a failed one, or one
// claimed more than stale ago by a sender that never finished (it died),
// may be.
func (s *Store) ClaimSend(ctx context.Context, team, week, recipient string, now time.Time, stale time.Duration) (bool, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Raw(`INSERT INTO report_sends (team, week, recipient, status, updated_at)
		VALUES (?, ?, ?, 'sending', ?)
		ON CONFLICT (team, week, recipient) DO UPDATE SET status = 'sending', error = '', updated_at = excluded.updated_at
		WHERE report_sends.status = 'failed' OR (report_sends.status = 'sending' AND report_sends.updated_at < ?)
		RETURNING id`, team, week, recipient, now.UnixMicro(), now.Add(-stale).UnixMicro()).Scan(&ids).Error
	if err != nil {
		return false, unavailable(err, "the report sends")
	}
	return len(ids) == 1, nil
}

// FinishSend records how a claimed send ended: sent, or failed with
// sendErr (which a later claim may retry).
func (s *Store) FinishSend(ctx context.Context, team, week, recipient string, now time.Time, sendErr error) error {
	status, msg := "sent", ""
	if sendErr != nil {
		status, msg = "failed", sendErr.Error()
	}
	err := s.db.WithContext(ctx).Exec(`UPDATE report_sends SET status = ?, error = ?, updated_at = ?
		WHERE team = ? AND week = ? AND recipient = ?`, status, msg, now.UnixMicro(), team, week, recipient).Error
	if err != nil {
		return unavailable(err, "the report sends")
	}
	return nil
}

// SendState is, for one team, when its report last reached a recipient
// and how many of its sends are failed now (each waits for a retry).
type SendState struct {
	Team     string
	LastSent time.Time // zero if never
	Failed   int
}

// SendStates reads every team's SendState that has any send recorded.
func (s *Store) SendStates(ctx context.Context) ([]SendState, error) {
	var rows []struct {
		Team     string
		LastSent int64
		Failed   int
	}
	err := s.db.WithContext(ctx).Raw(`SELECT team,
			COALESCE(MAX(CASE WHEN status = 'sent' THEN updated_at END), 0) AS last_sent,
			SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
		FROM report_sends GROUP BY team ORDER BY team`).Scan(&rows).Error
	if err != nil {
		return nil, unavailable(err, "the report sends")
	}
	out := make([]SendState, 0, len(rows))
	for _, r := range rows {
		st := SendState{Team: r.Team, Failed: r.Failed}
		if r.LastSent > 0 {
			st.LastSent = fromMicros(r.LastSent)
		}
		out = append(out, st)
	}
	return out, nil
}
