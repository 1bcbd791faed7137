package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/rotation"
)

// snapshot is the stored configuration with the row ids behind its names.
type snapshot struct {
	cfg         rotation.Config
	personID    map[string]int64
	teamID      map[string]int64
	rotationID  map[string]int64
	policyID    map[string]int64 // by team name
	routeID     map[string]int64
	heartbeatID map[string]int64
}

// Load reads the whole configuration back. People, teams, rotations and
// escalation policies come sorted by name (the file's order is not kept:
// reordering a file changes nothing); routes and every member and step
// list come in their configured order. Heartbeats come sorted by name.
func (s *Store) Load(ctx context.Context) (rotation.Config, error) {
	var snap *snapshot
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		snap, err = load(tx)
		return err
	})
	if err != nil {
		return rotation.Config{}, fail(err, "read the on-call configuration")
	}
	return snap.cfg, nil
}

func load(tx *gorm.DB) (*snapshot, error) {
	snap := &snapshot{
		personID: map[string]int64{}, teamID: map[string]int64{}, rotationID: map[string]int64{},
		policyID: map[string]int64{}, routeID: map[string]int64{}, heartbeatID: map[string]int64{},
	}
	for _, f := range []func(*gorm.DB, *snapshot) error{loadPeople, loadTeams, loadRotations, loadEscalation, loadRoutes, loadHeartbeats} {
		if err := f(tx, snap); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// scanRows runs q and calls scan for each row.
func scanRows(tx *gorm.DB, q string, scan func(func(...any) error) error, args ...any) error {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func zone(name, what string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, quietpager.Wrap(quietpager.Internal, err, fmt.Sprintf("%s has time zone %q, unknown here", what, name))
	}
	return loc, nil
}

func loadPeople(tx *gorm.DB, snap *snapshot) error {
	return scanRows(tx, `SELECT id, name, email, slack_id, time_zone FROM people ORDER BY name`, func(scan func(...any) error) error {
		var (
			id int64
			p  rotation.Person
			tz string
		)
		if err := scan(&id, &p.Name, &p.Email, &p.SlackID, &tz); err != nil {
			return err
		}
		var err error
		if p.TimeZone, err = zone(tz, "person "+p.Name); err != nil {
			return err
		}
		snap.personID[p.Name] = id
		snap.cfg.People = append(snap.cfg.People, p)
		return nil
	})
}

func loadTeams(tx *gorm.DB, snap *snapshot) error {
	index := map[int64]int{}
	err := scanRows(tx, `SELECT id, name, time_zone, slack_channel, webhook_url, webhook_secret FROM teams ORDER BY name`,
		func(scan func(...any) error) error {
			var (
				id int64
				t  rotation.Team
				tz string
			)
			if err := scan(&id, &t.Name, &tz, &t.SlackChannel, &t.WebhookURL, &t.WebhookSecret); err != nil {
				return err
			}
			var err error
			if t.TimeZone, err = zone(tz, "team "+t.Name); err != nil {
				return err
			}
			snap.teamID[t.Name] = id
			index[id] = len(snap.cfg.Teams)
			snap.cfg.Teams = append(snap.cfg.Teams, t)
			return nil
		})
	if err != nil {
		return err
	}
	return scanRows(tx, `SELECT m.team_id, p.name FROM team_members m JOIN people p ON p.id = m.person_id
		ORDER BY m.team_id, m.position`, func(scan func(...any) error) error {
		var (
			id   int64
			name string
		)
		if err := scan(&id, &name); err != nil {
			return err
		}
		t := &snap.cfg.Teams[index[id]]
		t.Members = append(t.Members, name)
		return nil
	})
}

func loadRotations(tx *gorm.DB, snap *snapshot) error {
	index := map[int64]int{}
	err := scanRows(tx, `SELECT r.id, r.name, t.name, r.shift_days, r.shift_us, r.starts_at, r.time_zone
		FROM rotations r JOIN teams t ON t.id = r.team_id ORDER BY r.name`, func(scan func(...any) error) error {
		var (
			id, shiftUS, start int64
			r                  rotation.Rotation
			tz                 string
		)
		if err := scan(&id, &r.Name, &r.Team, &r.Shift.Days, &shiftUS, &start, &tz); err != nil {
			return err
		}
		var err error
		if r.TimeZone, err = zone(tz, "rotation "+r.Name); err != nil {
			return err
		}
		r.Shift.Duration = fromDurMicros(shiftUS)
		r.Start = time.UnixMicro(start).In(r.TimeZone)
		snap.rotationID[r.Name] = id
		index[id] = len(snap.cfg.Rotations)
		snap.cfg.Rotations = append(snap.cfg.Rotations, r)
		return nil
	})
	if err != nil {
		return err
	}
	return scanRows(tx, `SELECT m.rotation_id, p.name FROM rotation_members m JOIN people p ON p.id = m.person_id
		ORDER BY m.rotation_id, m.position`, func(scan func(...any) error) error {
		var (
			id   int64
			name string
		)
		if err := scan(&id, &name); err != nil {
			return err
		}
		r := &snap.cfg.Rotations[index[id]]
		r.Members = append(r.Members, name)
		return nil
	})
}

func loadEscalation(tx *gorm.DB, snap *snapshot) error {
	index := map[int64]int{}
	err := scanRows(tx, `SELECT e.id, t.name, e.repeats FROM escalation_policies e JOIN teams t ON t.id = e.team_id
		ORDER BY t.name`, func(scan func(...any) error) error {
		var (
			id int64
			e  rotation.EscalationPolicy
		)
		if err := scan(&id, &e.Team, &e.Repeat); err != nil {
			return err
		}
		snap.policyID[e.Team] = id
		index[id] = len(snap.cfg.Escalation)
		snap.cfg.Escalation = append(snap.cfg.Escalation, e)
		return nil
	})
	if err != nil {
		return err
	}
	err = scanRows(tx, `SELECT policy_id, delay_us FROM escalation_steps ORDER BY policy_id, position`,
		func(scan func(...any) error) error {
			var id, delay int64
			if err := scan(&id, &delay); err != nil {
				return err
			}
			e := &snap.cfg.Escalation[index[id]]
			e.Steps = append(e.Steps, rotation.Step{Delay: fromDurMicros(delay)})
			return nil
		})
	if err != nil {
		return err
	}
	// Steps are numbered from 0 in each policy, as they were written.
	return scanRows(tx, `SELECT g.policy_id, g.step, COALESCE(r.name, ''), COALESCE(p.name, '')
		FROM escalation_targets g
		LEFT JOIN rotations r ON r.id = g.rotation_id
		LEFT JOIN people p ON p.id = g.person_id
		ORDER BY g.policy_id, g.step, g.position`, func(scan func(...any) error) error {
		var (
			id   int64
			step int
			t    rotation.Target
		)
		if err := scan(&id, &step, &t.Rotation, &t.Person); err != nil {
			return err
		}
		e := &snap.cfg.Escalation[index[id]]
		if step < 0 || step >= len(e.Steps) {
			return quietpager.Errorf(quietpager.Internal, "escalation of team %s: target of missing step %d", e.Team, step)
		}
		e.Steps[step].Targets = append(e.Steps[step].Targets, t)
		return nil
	})
}

func loadRoutes(tx *gorm.DB, snap *snapshot) error {
	return scanRows(tx, `SELECT o.id, o.name, o.matchers, t.name, o.urgency, o.group_by, o.reopen_window_us,
			o.flap_tau_us, o.flap_high, o.flap_low, o.flap_quiet_us, o.is_default
		FROM routes o JOIN teams t ON t.id = o.team_id ORDER BY o.position, o.id`, func(scan func(...any) error) error {
		var (
			id                         int64
			r                          rotation.Route
			matchers, urgency, groupBy string
			reopen, tau, quiet         int64
			high, low                  float64
		)
		if err := scan(&id, &r.Name, &matchers, &r.Team, &urgency, &groupBy, &reopen,
			&tau, &high, &low, &quiet, &r.Default); err != nil {
			return err
		}
		ms, err := labels.ParseMatchers(matchers)
		if err != nil {
			return quietpager.Wrap(quietpager.Internal, err, fmt.Sprintf("route %s: stored matchers %s do not parse", r.Name, matchers))
		}
		if len(ms) > 0 {
			r.Matchers = ms
		}
		if err := json.Unmarshal([]byte(groupBy), &r.GroupBy); err != nil {
			return quietpager.Wrap(quietpager.Internal, err, "route "+r.Name+": stored group_by is not a JSON list")
		}
		if len(r.GroupBy) == 0 {
			r.GroupBy = nil
		}
		r.Urgency = rotation.Urgency(urgency)
		r.ReopenWindow = fromDurMicros(reopen)
		r.Flap = flap.Options{Tau: fromDurMicros(tau), High: high, Low: low, Quiet: fromDurMicros(quiet)}
		snap.routeID[r.Name] = id
		snap.cfg.Routes = append(snap.cfg.Routes, r)
		return nil
	})
}

// Heartbeats reads the heartbeats alone, for the checker that runs every
// few seconds.
func (s *Store) Heartbeats(ctx context.Context) ([]rotation.Heartbeat, error) {
	snap := &snapshot{heartbeatID: map[string]int64{}}
	if err := loadHeartbeats(s.db.WithContext(ctx), snap); err != nil {
		return nil, fail(err, "read the heartbeats")
	}
	return snap.cfg.Heartbeats, nil
}

func loadHeartbeats(tx *gorm.DB, snap *snapshot) error {
	return scanRows(tx, `SELECT id, name, matchers, interval_us, labels, configured_at FROM heartbeats ORDER BY name`,
		func(scan func(...any) error) error {
			var (
				id, interval, since int64
				h                   rotation.Heartbeat
				matchers, ls        string
			)
			if err := scan(&id, &h.Name, &matchers, &interval, &ls, &since); err != nil {
				return err
			}
			ms, err := labels.ParseMatchers(matchers)
			if err != nil {
				return quietpager.Wrap(quietpager.Internal, err, fmt.Sprintf("heartbeat %s: stored matchers %s do not parse", h.Name, matchers))
			}
			h.Matchers = ms
			if err := json.Unmarshal([]byte(ls), &h.Labels); err != nil {
				return quietpager.Wrap(quietpager.Internal, err, "heartbeat "+h.Name+": stored labels are not a JSON object")
			}
			if len(h.Labels) == 0 {
				h.Labels = nil
			}
			h.Interval = fromDurMicros(interval)
			h.Since = fromMicros(since)
			snap.heartbeatID[h.Name] = id
			snap.cfg.Heartbeats = append(snap.cfg.Heartbeats, h)
			return nil
		})
}
