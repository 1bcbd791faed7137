package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/flap"
)

func flapState(score float64, at int64, flapping bool) flap.State {
	st := flap.State{Score: score, Flapping: flapping}
	if at != 0 {
		st.At = fromMicros(at)
	}
	return st
}

func unavailable(err error, what string) error {
	return quietpager.Wrap(quietpager.Unavailable, err, "could not read "+what)
}

// Alerts lists alerts, most recently seen first, each with the rule hints
// of its alertname as of now.
func (s *Store) Alerts(ctx context.Context, q dedupe.AlertQuery, now time.Time) ([]dedupe.Alert, error) {
	where, args := "WHERE 1 = 1", []any{}
	switch q.State {
	case dedupe.Firing:
		where += " AND EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing')"
	case dedupe.Resolved:
		where += " AND NOT EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing')"
	}
	if q.Flapping != nil {
		where += " AND a.flapping = ?"
		args = append(args, *q.Flapping)
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT a.fingerprint, a.alertname, a.labels, a.annotations,
			a.generator_url, a.receiver, a.group_key, a.first_seen, a.last_seen,
			(SELECT COUNT(*) FROM episodes e WHERE e.alert_id = a.id),
			EXISTS (SELECT 1 FROM episodes e WHERE e.alert_id = a.id AND e.state = 'firing'),
			a.flapping, a.flap_score, a.flap_at
		FROM alerts a `+where+` ORDER BY a.last_seen DESC, a.fingerprint`, args...).Rows()
	if err != nil {
		return nil, unavailable(err, "alerts")
	}
	defer rows.Close()
	out := []dedupe.Alert{}
	var names []string
	for rows.Next() && len(out) < q.Limit {
		var (
			a               dedupe.Alert
			alertname       string
			ls, as          string
			first, last, at int64
			firing          bool
		)
		if err := rows.Scan(&a.Fingerprint, &alertname, &ls, &as, &a.GeneratorURL, &a.Receiver, &a.GroupKey,
			&first, &last, &a.Episodes, &firing, &a.Flapping, &a.FlapScore, &at); err != nil {
			return nil, unavailable(err, "alerts")
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
		if a.Flapping { // the score as of now, not as of the last change
			st, _ := s.o.Policies.PolicyFor(a.Labels).Flap.Decay(flapState(a.FlapScore, at, true), now)
			a.FlapScore = st.Score
		}
		out = append(out, a)
		names = append(names, alertname)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "alerts")
	}
	rows.Close()
	hints, err := s.RuleHints(ctx, names, now)
	if err != nil {
		return nil, err
	}
	for i := range out {
		h := hints[names[i]]
		out[i].Hints = &h
	}
	return out, nil
}

// RuleHints computes the rule-fix hints of each named alert rule from its
// episodes of the hint window before now.
func (s *Store) RuleHints(ctx context.Context, alertnames []string, now time.Time) (map[string]flap.RuleHint, error) {
	out := make(map[string]flap.RuleHint)
	if len(alertnames) == 0 {
		return out, nil
	}
	uniq := map[string]bool{}
	var names []string
	for _, n := range alertnames {
		if !uniq[n] {
			uniq[n] = true
			names = append(names, n)
		}
	}
	episodes := map[string]map[int64][]flap.Episode{} // alertname → alert → episodes
	err := chunks(names, func(chunk []string) error {
		rows, err := s.db.WithContext(ctx).Raw(`SELECT a.alertname, a.id, e.starts_at, e.ends_at, e.acknowledged_at
			FROM episodes e JOIN alerts a ON a.id = e.alert_id
			WHERE a.alertname IN ? AND e.starts_at >= ?`, chunk, micros(now.Add(-s.o.HintWindow))).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				name         string
				id, start    int64
				end, ackedAt sql.NullInt64
			)
			if err := rows.Scan(&name, &id, &start, &end, &ackedAt); err != nil {
				return err
			}
			e := flap.Episode{Start: fromMicros(start)}
			if end.Valid {
				e.End = fromMicros(end.Int64)
			}
			e.Acknowledged = ackedAt.Valid && (!end.Valid || ackedAt.Int64 <= end.Int64)
			if episodes[name] == nil {
				episodes[name] = map[int64][]flap.Episode{}
			}
			episodes[name][id] = append(episodes[name][id], e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, unavailable(err, "episodes")
	}
	for name, byAlert := range episodes {
		series := make([][]flap.Episode, 0, len(byAlert))
		for _, eps := range byAlert {
			series = append(series, eps)
		}
		out[name] = s.o.Hints.Hints(series)
	}
	return out, nil
}

// episodeColumns are read by scanEpisode.
const episodeColumns = `e.starts_at, e.ends_at, e.state, e.notifications, e.incident_id, e.acknowledged_at`

func (s *Store) scanEpisode(rows *sql.Rows, e *dedupe.Episode, extra ...any) error {
	var (
		starts      int64
		ends, ackAt sql.NullInt64
		incident    sql.NullInt64
	)
	if err := rows.Scan(append([]any{&starts, &ends, &e.State, &e.Notifications, &incident, &ackAt}, extra...)...); err != nil {
		return err
	}
	e.StartsAt = fromMicros(starts)
	fe := flap.Episode{Start: e.StartsAt}
	if ends.Valid {
		t := fromMicros(ends.Int64)
		e.EndsAt, fe.End = &t, t
	}
	if incident.Valid {
		id := incident.Int64
		e.IncidentID = &id
	}
	fe.Acknowledged = ackAt.Valid && (!ends.Valid || ackAt.Int64 <= ends.Int64)
	e.Transient = s.o.Hints.Transient(fe)
	return nil
}

// Episodes lists one alert's episodes, newest first.
func (s *Store) Episodes(ctx context.Context, fingerprint string, limit int) ([]dedupe.Episode, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT `+episodeColumns+`
		FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE a.fingerprint = ? ORDER BY e.starts_at DESC LIMIT ?`, fingerprint, limit).Rows()
	if err != nil {
		return nil, unavailable(err, "episodes")
	}
	defer rows.Close()
	out := []dedupe.Episode{}
	for rows.Next() {
		e := dedupe.Episode{Fingerprint: fingerprint}
		if err := s.scanEpisode(rows, &e); err != nil {
			return nil, unavailable(err, "episodes")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "episodes")
	}
	return out, nil
}

const incidentColumns = `i.id, i.state, i.title, i.common_labels, i.receiver, i.group_key, i.team, i.urgency, i.openings,
	i.opened_at, i.acknowledged_at, i.acknowledged_by, i.resolved_at, i.resolved_by,
	(SELECT COUNT(DISTINCT e.alert_id) FROM episodes e WHERE e.incident_id = i.id),
	(SELECT COUNT(*) FROM episodes e WHERE e.incident_id = i.id AND e.state = 'firing'),
	(SELECT COUNT(*) FROM episodes e WHERE e.incident_id = i.id),
	(SELECT COUNT(DISTINCT a.id) FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE e.incident_id = i.id AND a.flapping = ?)`

func scanIncident(rows *sql.Rows) (dedupe.Incident, error) {
	var (
		in           dedupe.Incident
		common       string
		opened       int64
		ackAt, resAt sql.NullInt64
		ackBy, resBy sql.NullString
	)
	err := rows.Scan(&in.ID, &in.State, &in.Title, &common, &in.Receiver, &in.GroupKey, &in.Team, &in.Urgency, &in.Openings,
		&opened, &ackAt, &ackBy, &resAt, &resBy, &in.Alerts, &in.Firing, &in.Episodes, &in.Flapping)
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal([]byte(common), &in.CommonLabels); err != nil {
		return in, err
	}
	in.OpenedAt = fromMicros(opened)
	if ackAt.Valid {
		t := fromMicros(ackAt.Int64)
		in.AcknowledgedAt, in.AcknowledgedBy = &t, ackBy.String
	}
	if resAt.Valid {
		t := fromMicros(resAt.Int64)
		in.ResolvedAt, in.ResolvedBy = &t, resBy.String
	}
	in.Summarize()
	return in, nil
}

// Incidents lists incidents, newest first.
func (s *Store) Incidents(ctx context.Context, q dedupe.IncidentQuery) ([]dedupe.Incident, error) {
	where, args := "WHERE 1 = 1", []any{true}
	if q.State != "" {
		where += " AND i.state = ?"
		args = append(args, q.State)
	}
	if !q.Since.IsZero() {
		where += " AND i.opened_at >= ?"
		args = append(args, micros(q.Since))
	}
	if q.Team != "" {
		where += " AND i.team = ?"
		args = append(args, q.Team)
	}
	args = append(args, q.Limit)
	rows, err := s.db.WithContext(ctx).Raw(`SELECT `+incidentColumns+` FROM incidents i `+where+`
		ORDER BY i.opened_at DESC, i.id DESC LIMIT ?`, args...).Rows()
	if err != nil {
		return nil, unavailable(err, "incidents")
	}
	defer rows.Close()
	out := []dedupe.Incident{}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, unavailable(err, "incidents")
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "incidents")
	}
	return out, nil
}

// Incident returns one incident with its episodes and timeline.
func (s *Store) Incident(ctx context.Context, id int64) (dedupe.IncidentDetail, error) {
	var d dedupe.IncidentDetail
	db := s.db.WithContext(ctx)
	rows, err := db.Raw(`SELECT `+incidentColumns+` FROM incidents i WHERE i.id = ?`, true, id).Rows()
	if err != nil {
		return d, unavailable(err, "the incident")
	}
	found := rows.Next()
	if found {
		d.Incident, err = scanIncident(rows)
	}
	rows.Close()
	if err != nil {
		return d, unavailable(err, "the incident")
	}
	if !found {
		return d, quietpager.Errorf(quietpager.NotFound, "no incident %d", id)
	}

	rows, err = db.Raw(`SELECT `+episodeColumns+`, a.fingerprint, a.alertname, a.labels, a.flapping
		FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE e.incident_id = ? ORDER BY e.starts_at, a.fingerprint`, id).Rows()
	if err != nil {
		return d, unavailable(err, "episodes")
	}
	d.EpisodeList = []dedupe.IncidentEpisode{}
	for rows.Next() {
		var (
			e  dedupe.IncidentEpisode
			ls string
		)
		if err := s.scanEpisode(rows, &e.Episode, &e.Fingerprint, &e.Alertname, &ls, &e.Flapping); err != nil {
			rows.Close()
			return d, unavailable(err, "episodes")
		}
		if err := json.Unmarshal([]byte(ls), &e.Labels); err != nil {
			rows.Close()
			return d, quietpager.Wrap(quietpager.Internal, err, "corrupt labels")
		}
		d.EpisodeList = append(d.EpisodeList, e)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return d, unavailable(err, "episodes")
	}
	rows.Close()

	d.Timeline = []dedupe.Event{}
	rows, err = db.Raw(`SELECT at, kind, actor, detail, alerts, alerts_known, last_at FROM incident_events
		WHERE incident_id = ? ORDER BY at, id`, id).Rows()
	if err != nil {
		return d, unavailable(err, "the timeline")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ev            dedupe.Event
			at, last      int64
			alerts, known int
		)
		if err := rows.Scan(&at, &ev.Kind, &ev.Actor, &ev.Detail, &alerts, &known, &last); err != nil {
			return d, unavailable(err, "the timeline")
		}
		ev.At = fromMicros(at)
		if alerts > 0 {
			if ev.Detail, err = tallyDetail(ev.Detail, alerts, known, ev.At, fromMicros(last)); err != nil {
				return d, err
			}
		}
		d.Timeline = append(d.Timeline, ev)
	}
	if err := rows.Err(); err != nil {
		return d, unavailable(err, "the timeline")
	}
	if d.Pages, err = s.Pages(ctx, id); err != nil {
		return d, err
	}
	d.Silences, d.Feedback, err = s.silencesAndFeedback(ctx, id)
	return d, err
}
