package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// group is the new episodes of one batch that belong to one incident group.
type group struct {
	hash     string
	policy   dedupe.Policy
	first    dedupe.AlertUpsert
	window   time.Duration
	keys     []episodeKey
	common   map[string]string
	added    []dedupe.AlertUpsert // alerts with a new episode in the group
	seen     int                  // how many of them quietpager knew before
	page     bool                 // some new episode comes from an alert that is not flapping
	critical bool                 // some new alert has severity="critical"

	id               int64
	opened, reopened bool
	opening          int  // the incident's openings
	acknowledged     bool // the incident it joins is acknowledged
	resolvedNew      bool // some new episode arrived already resolved
}

var incidentTypes = []string{"text", "text", "text", "text", "jsonb", "text", "bigint", "text", "text"}

// incidentsFor finds or opens the incident of each group: the group's
// unresolved incident if it has one; else the incident that resolved within
// the reopen window, reopened; else a new one. The unique index on
// unresolved incidents per group decides races between replicas: the loser
// of an insert joins the winner's incident.
func (w *write) incidentsFor(groups map[string]*group, order []string) error {
	if len(order) == 0 {
		return nil
	}
	commons := make(map[int64]map[string]string)
	latest, err := w.lookupIncidents(order, groups, commons)
	if err != nil {
		return err
	}
	if err := w.reopen(order, groups, commons, latest); err != nil {
		return err
	}
	var fresh []*group
	for _, h := range order {
		if groups[h].id == 0 {
			fresh = append(fresh, groups[h])
		}
	}
	err = chunks(fresh, func(chunk []*group) error {
		args := make([]any, 0, len(chunk)*9)
		for _, g := range chunk {
			// A group's common labels are its first alert's, less those
			// another alert differs in: the same size, the same labels.
			cl := w.labels[g.first.Fingerprint]
			if len(g.common) != len(g.first.Labels) {
				b, err := json.Marshal(g.common)
				if err != nil {
					return err
				}
				cl = string(b)
			}
			args = append(args, g.hash, g.first.Receiver, g.first.GroupKey, dedupe.Title(g.first),
				cl, dedupe.IncidentOpen, micros(w.at), g.policy.Team, urgency(g.policy))
		}
		src, args := w.rows(incidentTypes, args)
		rows, err := w.tx.Raw(`INSERT INTO incidents (group_hash, receiver, group_key, title,
				common_labels, state, opened_at, team, urgency)
			`+src+`
			ON CONFLICT (group_hash) WHERE state <> 'resolved' DO NOTHING
			RETURNING id, group_hash`, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id   int64
				hash string
			)
			if err := rows.Scan(&id, &hash); err != nil {
				return err
			}
			groups[hash].id, groups[hash].opened, groups[hash].opening = id, true, 1
			w.events = append(w.events, eventRow{id, dedupe.EventOpened, dedupe.ActorAlertmanager,
				describeAdded(groups[hash].added)})
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	// Groups whose insert lost a race to another replica join its incident.
	var lost []string
	for _, h := range order {
		if groups[h].id == 0 {
			lost = append(lost, h)
		}
	}
	if len(lost) > 0 {
		if err := w.activeIncidents(lost, groups, commons); err != nil {
			return err
		}
	}
	for _, h := range order {
		g := groups[h]
		if g.id == 0 {
			return quietpager.Errorf(quietpager.Internal, "no incident for group %s", h)
		}
		if g.opened {
			continue
		}
		if !g.reopened {
			w.tallies = append(w.tallies, tally{g.id, g.added, g.seen})
		}
		if old, ok := commons[g.id]; ok {
			if common := dedupe.CommonLabels(old, g.common); len(common) != len(old) {
				cl, err := json.Marshal(common)
				if err != nil {
					return err
				}
				if err := w.tx.Exec(`UPDATE incidents SET common_labels = ? WHERE id = ?`, string(cl), g.id).Error; err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// describeAdded names the alerts a batch added, the first five by name: a
// storm's timeline entry stays one line.
func describeAdded(added []dedupe.AlertUpsert) string {
	if len(added) == 1 {
		return "alert " + describe(added[0])
	}
	return strconv.Itoa(len(added)) + " alerts: " + list(firstNames(added), len(added))
}

// firstNames names the first five of added (in fingerprint order), sorted
// as a timeline shows them.
func firstNames(added []dedupe.AlertUpsert) []string {
	names := make([]string, 0, listed)
	for _, a := range added[:min(len(added), listed)] {
		names = append(names, describe(a))
	}
	slices.Sort(names)
	return names
}

// activeIncidents assigns each of hashes its unresolved incident, if any,
// and records the incident's common labels.
func (w *write) activeIncidents(hashes []string, groups map[string]*group, commons map[int64]map[string]string) error {
	return chunks(hashes, func(chunk []string) error {
		cond, arg := in(w.Store, "text", chunk)
		rows, err := w.tx.Raw(`SELECT id, group_hash, common_labels, state, openings FROM incidents
			WHERE group_hash `+cond+` AND state <> 'resolved'`, arg).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id     int64
				hash   string
				common string
				state  dedupe.IncidentState
				open   int
			)
			if err := rows.Scan(&id, &hash, &common, &state, &open); err != nil {
				return err
			}
			m := map[string]string{}
			if err := json.Unmarshal([]byte(common), &m); err != nil {
				return err
			}
			groups[hash].id, commons[id] = id, m
			groups[hash].acknowledged = state == dedupe.IncidentAcknowledged
			groups[hash].opening = open
		}
		return rows.Err()
	})
}

// candidate is a resolved incident a group may reopen.
type candidate struct {
	id         int64
	resolvedAt int64
	common     string
}

// lookupIncidents reads, in one query, each group's unresolved incident
// (assigned to the group) and its most recently resolved one within the
// widest reopen window (returned, for reopen to decide).
func (w *write) lookupIncidents(order []string, groups map[string]*group, commons map[int64]map[string]string) (map[string]candidate, error) {
	var widest time.Duration
	for _, h := range order {
		widest = max(widest, groups[h].window)
	}
	latest := map[string]candidate{}
	err := chunks(order, func(chunk []string) error {
		cond, arg := in(w.Store, "text", chunk)
		rows, err := w.tx.Raw(`SELECT id, group_hash, common_labels, state, openings, COALESCE(resolved_at, 0)
			FROM incidents WHERE group_hash `+cond+` AND (state <> 'resolved' OR resolved_at >= ?)`,
			arg, micros(w.at.Add(-widest))).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c     candidate
				hash  string
				state dedupe.IncidentState
				open  int
			)
			if err := rows.Scan(&c.id, &hash, &c.common, &state, &open, &c.resolvedAt); err != nil {
				return err
			}
			if state == dedupe.IncidentResolved {
				if c.resolvedAt > latest[hash].resolvedAt {
					latest[hash] = c
				}
				continue
			}
			m := map[string]string{}
			if err := json.Unmarshal([]byte(c.common), &m); err != nil {
				return err
			}
			g := groups[hash]
			g.id, g.opening, g.acknowledged, commons[c.id] = c.id, open, state == dedupe.IncidentAcknowledged, m
		}
		return rows.Err()
	})
	return latest, err
}

// reopen reopens, for each group still without an incident, the incident
// that resolved within the group's reopen window.
func (w *write) reopen(order []string, groups map[string]*group, commons map[int64]map[string]string, latest map[string]candidate) error {
	var hashes []string
	for _, h := range order {
		if g := groups[h]; g.id == 0 && g.window > 0 {
			hashes = append(hashes, h)
		}
	}
	for _, h := range hashes {
		c, ok := latest[h]
		g := groups[h]
		if !ok || fromMicros(c.resolvedAt).Before(w.at.Add(-g.window)) {
			continue
		}
		var openings []int
		err := w.tx.Raw(`UPDATE incidents SET state = 'open', acknowledged_at = NULL,
				acknowledged_by = NULL, resolved_at = NULL, resolved_by = NULL, hold_until = NULL,
				openings = openings + 1
			WHERE id = ? AND state = 'resolved' RETURNING openings`, c.id).Scan(&openings).Error
		if err != nil {
			return err
		}
		if len(openings) == 1 {
			g.opening = openings[0]
			m := map[string]string{}
			if err := json.Unmarshal([]byte(c.common), &m); err != nil {
				return err
			}
			g.id, g.reopened, commons[c.id] = c.id, true, m
			w.events = append(w.events, eventRow{c.id, dedupe.EventReopened, dedupe.ActorAlertmanager,
				describeAdded(g.added)})
		}
	}
	return nil
}

// autoResolve resolves the incidents among ids whose episodes have all
// resolved, none of whose alerts is flapping, and whose quiet period (after
// flapping) has passed.
//
// It first asks which of them no longer fire, one index probe each, and
// only for those looks at every alert for flapping: asked in one
// statement, PostgreSQL may check the alerts first, and during a storm that
// is hundreds of alerts of an incident that still fires, for each alert
// that resolves.
func (w *write) autoResolve(ids []int64) error {
	return chunks(ids, func(chunk []int64) error {
		cond, arg := in(w.Store, "bigint", chunk)
		var quiet []int64
		if err := w.tx.Raw(`SELECT id FROM incidents
			WHERE id `+cond+` AND state <> 'resolved' AND (hold_until IS NULL OR hold_until <= ?) AND `+notFiring,
			arg, micros(w.at)).Scan(&quiet).Error; err != nil || len(quiet) == 0 {
			return err
		}
		cond, arg = in(w.Store, "bigint", quiet)
		resolved, err := returningIDs(w.tx, `UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?
			WHERE id `+cond+` AND state <> 'resolved' AND (hold_until IS NULL OR hold_until <= ?) AND `+settled+`
			RETURNING id`, micros(w.at), dedupe.ActorAlertmanager, arg, micros(w.at), true)
		if err != nil {
			return err
		}
		for _, id := range resolved {
			w.events = append(w.events, eventRow{id, dedupe.EventResolved, dedupe.ActorAlertmanager, "all alerts resolved"})
		}
		return w.o.transitioned(w.tx, resolved)
	})
}

// stopFlapping starts the quiet period of the unresolved incidents that hold
// episodes of an alert that stopped flapping.
func stopFlapping(tx *gorm.DB, alertID int64, name string, at time.Time, quiet time.Duration) ([]eventRow, error) {
	ids, err := returningIDs(tx, `UPDATE incidents SET hold_until = ?
		WHERE state <> 'resolved' AND id IN (SELECT incident_id FROM episodes WHERE alert_id = ?)
		RETURNING id`, micros(at.Add(quiet)), alertID)
	var evs []eventRow
	for _, id := range ids {
		evs = append(evs, eventRow{id, dedupe.EventFlappingStopped, dedupe.ActorQuietpager,
			name + " stopped flapping; the incident resolves after a quiet " + quiet.String() + " if all its alerts have"})
	}
	return evs, err
}

func urgency(p dedupe.Policy) string {
	if p.Urgency == "" {
		return "page"
	}
	return p.Urgency
}

// transitioned tells the OnTransition hook about incidents that resolved by
// themselves, so that their pages are updated like a person's resolve.
func (o Options) transitioned(tx *gorm.DB, resolved []int64) error {
	if o.OnTransition == nil {
		return nil
	}
	for _, id := range resolved {
		if err := o.OnTransition(tx.Statement.Context, sqlTx(tx), id, dedupe.EventResolved); err != nil {
			return err
		}
	}
	return nil
}

// returningIDs runs a statement ending in RETURNING id and collects the ids.
func returningIDs(tx *gorm.DB, sql string, args ...any) ([]int64, error) {
	rows, err := tx.Raw(sql, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// notFiring is true of an incident none of whose episodes fires.
const notFiring = `NOT EXISTS (SELECT 1 FROM episodes e
		WHERE e.incident_id = incidents.id AND e.state = 'firing')`

// settled is true of an incident none of whose episodes fires and none of
// whose alerts flaps; its one argument is true.
const settled = notFiring + `
	AND NOT EXISTS (SELECT 1 FROM episodes e JOIN alerts a ON a.id = e.alert_id
		WHERE e.incident_id = incidents.id AND a.flapping = ?)`

var eventTypes = []string{"bigint", "bigint", "text", "text", "text"}

func (s *Store) insertEvents(tx *gorm.DB, at time.Time, evs []eventRow) error {
	return chunks(evs, func(chunk []eventRow) error {
		args := make([]any, 0, len(chunk)*5)
		for _, e := range chunk {
			args = append(args, e.incidentID, micros(at), e.kind, e.actor, e.detail)
		}
		src, args := s.rows(eventTypes, args)
		return tx.Exec(`INSERT INTO incident_events (incident_id, at, kind, actor, detail) `+src, args...).Error
	})
}

// Acknowledge marks an incident acknowledged by actor. Acknowledging an
// acknowledged incident changes nothing; a resolved one is a conflict.
func (s *Store) Acknowledge(ctx context.Context, id int64, actor string, at time.Time) error {
	return s.transition(ctx, id, actor, at, dedupe.EventAcknowledged)
}

// Resolve marks an incident resolved by actor. Resolving a resolved
// incident changes nothing.
func (s *Store) Resolve(ctx context.Context, id int64, actor string, at time.Time) error {
	return s.transition(ctx, id, actor, at, dedupe.EventResolved)
}

func (s *Store) transition(ctx context.Context, id int64, actor string, at time.Time, kind string) error {
	if actor == "" {
		return quietpager.Errorf(quietpager.Invalid, "an actor is required")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var res *gorm.DB
		if kind == dedupe.EventAcknowledged {
			res = tx.Exec(`UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?
				WHERE id = ? AND state = 'open'`, micros(at), actor, id)
		} else {
			res = tx.Exec(`UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?
				WHERE id = ? AND state <> 'resolved'`, micros(at), actor, id)
		}
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			if s.o.OnTransition != nil {
				if err := s.o.OnTransition(ctx, sqlTx(tx), id, kind); err != nil {
					return err
				}
			}
			if kind == dedupe.EventAcknowledged {
				// The episodes remember it, so that a reopened incident's
				// acknowledged episodes never count as transient.
				if err := tx.Exec(`UPDATE episodes SET acknowledged_at = ?
					WHERE incident_id = ? AND acknowledged_at IS NULL`, micros(at), id).Error; err != nil {
					return err
				}
			}
			return s.insertEvents(tx, at, []eventRow{{id, kind, actor, ""}})
		}
		var state []string
		if err := tx.Raw(`SELECT state FROM incidents WHERE id = ?`, id).Scan(&state).Error; err != nil {
			return err
		}
		switch {
		case len(state) == 0:
			return quietpager.Errorf(quietpager.NotFound, "no incident %d", id)
		case kind == dedupe.EventAcknowledged && state[0] == string(dedupe.IncidentResolved):
			return quietpager.Errorf(quietpager.Conflict, "incident %d is resolved; it cannot be acknowledged", id)
		}
		return nil // already in the state asked for
	})
	switch quietpager.ErrorCode(err) {
	case quietpager.NotFound, quietpager.Conflict, quietpager.Invalid:
		return err
	}
	if err != nil {
		return quietpager.Wrap(quietpager.Unavailable, err, "could not update the incident")
	}
	return nil
}

// Maintain decays the flap scores of flapping alerts, stops those that
// calmed down (starting their incidents' quiet period), and resolves the
// incidents whose quiet period is over and whose alerts have all resolved.
// Every update is conditional, so replicas running it at once do each
// change once.
func (s *Store) Maintain(ctx context.Context, now time.Time) (flapping, open int, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		flapping = 0
		type flappingAlert struct {
			ID        int64
			Labels    string
			Alertname string
			FlapScore float64
			FlapAt    int64
		}
		var list []flappingAlert
		if err := tx.Raw(`SELECT id, labels, alertname, flap_score, flap_at FROM alerts WHERE flapping = ?`, true).
			Scan(&list).Error; err != nil {
			return err
		}
		var evs []eventRow
		for _, f := range list {
			labels := map[string]string{}
			if err := json.Unmarshal([]byte(f.Labels), &labels); err != nil {
				return err
			}
			p := s.o.Policies.PolicyFor(labels)
			st, _ := p.Flap.Decay(flapState(f.FlapScore, f.FlapAt, true), now)
			if st.Flapping {
				flapping++
				continue
			}
			upd := tx.Exec(`UPDATE alerts SET flapping = ?, flap_score = ?, flap_at = ? WHERE id = ? AND flapping = ?`,
				false, st.Score, micros(st.At), f.ID, true)
			if upd.Error != nil {
				return upd.Error
			}
			if upd.RowsAffected == 0 {
				continue // another replica got there first
			}
			stopped, err := stopFlapping(tx, f.ID, describe(dedupe.AlertUpsert{Alertname: f.Alertname, Labels: labels}), now, p.Flap.Quiet)
			if err != nil {
				return err
			}
			evs = append(evs, stopped...)
		}
		ids, err := returningIDs(tx, `UPDATE incidents SET state = 'resolved', resolved_at = hold_until, resolved_by = ?
			WHERE state <> 'resolved' AND hold_until IS NOT NULL AND hold_until <= ? AND `+settled+`
			RETURNING id`, dedupe.ActorQuietpager, micros(now), true)
		if err != nil {
			return err
		}
		for _, id := range ids {
			evs = append(evs, eventRow{id, dedupe.EventResolved, dedupe.ActorQuietpager,
				"quiet period after flapping is over and all alerts resolved"})
		}
		if err := s.o.transitioned(tx, ids); err != nil {
			return err
		}
		if err := s.insertEvents(tx, now, evs); err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM incidents WHERE state <> 'resolved'`).Scan(&n).Error; err != nil {
			return err
		}
		open = int(n)
		return nil
	})
	if err != nil {
		return 0, 0, quietpager.Wrap(quietpager.Unavailable, err, "maintenance failed")
	}
	return flapping, open, nil
}
