package sqlstore

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// A tally is an incident's "alert added" timeline entry. Alerts that join
// an open incident less than tallyWindow after its latest entry, itself an
// "alert added" one, are counted in that entry instead of writing another:
// during a storm the timeline reads as a line a minute, not a line per
// notification, and a batch joining a storm updates a row rather than
// inserting one per incident (migration 13; on SQLite every new row
// dirtied an index page per incident at each commit). Counts are added in
// SQL, so two replicas counting into one entry lose nothing.
//
// Alertmanager re-sends a group no more often than its group_interval (5
// minutes by default), so outside storms and bursts each notification
// keeps its own entry.
const tallyWindow = time.Minute

// tally is what one batch adds to an incident's timeline.
type tally struct {
	incidentID int64
	added      []dedupe.AlertUpsert
	known      int // how many of added had fired before
}

var tallyTypes = []string{"bigint", "bigint", "text", "text", "text", "bigint", "bigint", "bigint"}

var countTypes = []string{"bigint", "bigint", "bigint", "bigint"}

// writeTallies counts each tally into its incident's latest timeline entry
// if that is an "alert added" entry younger than tallyWindow, and starts a
// new entry otherwise.
func (w *write) writeTallies() error {
	ids := make([]int64, len(w.tallies))
	for i, t := range w.tallies {
		ids[i] = t.incidentID
	}
	entry := make(map[int64]int64, len(ids)) // open entry by incident
	err := chunks(ids, func(chunk []int64) error {
		cond, arg := in(w.Store, "bigint", chunk)
		// "l.at >= e.at" keeps the probe for later entries to the index
		// range after e: a long incident has many entries before it.
		rows, err := w.tx.Raw(`SELECT e.incident_id, e.id FROM incident_events e
			WHERE e.incident_id `+cond+` AND e.kind = ? AND e.alerts > 0 AND e.at > ?
			AND NOT EXISTS (SELECT 1 FROM incident_events l WHERE l.incident_id = e.incident_id
				AND l.at >= e.at AND l.id <> e.id AND (l.at > e.at OR l.id > e.id))`,
			arg, dedupe.EventAlertAdded, micros(w.at.Add(-tallyWindow))).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var incident, id int64
			if err := rows.Scan(&incident, &id); err != nil {
				return err
			}
			entry[incident] = id
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	var counted, fresh []tally
	for _, t := range w.tallies {
		if _, ok := entry[t.incidentID]; ok {
			counted = append(counted, t)
		} else {
			fresh = append(fresh, t)
		}
	}
	err = chunks(counted, func(chunk []tally) error {
		args := make([]any, 0, len(chunk)*len(countTypes))
		entries := make([]int64, len(chunk))
		for i, t := range chunk {
			entries[i] = entry[t.incidentID]
			args = append(args, entries[i], len(t.added), t.known, micros(w.at))
		}
		src, args := w.rows(countTypes, args)
		cond, arg := in(w.Store, "bigint", entries)
		return w.tx.Exec(`UPDATE incident_events SET alerts = alerts + v.column2,
				alerts_known = alerts_known + v.column3, last_at = v.column4
			FROM (`+src+`) AS v WHERE incident_events.id = v.column1 AND incident_events.id `+cond,
			append(args, arg)...).Error
	})
	if err != nil {
		return err
	}
	return chunks(fresh, func(chunk []tally) error {
		args := make([]any, 0, len(chunk)*len(tallyTypes))
		for _, t := range chunk {
			b, err := json.Marshal(firstNames(t.added))
			if err != nil {
				return err
			}
			args = append(args, t.incidentID, micros(w.at), dedupe.EventAlertAdded, dedupe.ActorAlertmanager,
				string(b), len(t.added), t.known, micros(w.at))
		}
		src, args := w.rows(tallyTypes, args)
		return w.tx.Exec(`INSERT INTO incident_events (incident_id, at, kind, actor, detail,
			alerts, alerts_known, last_at) `+src, args...).Error
	})
}

// tallyDetail spells out a tally entry: names (JSON) are its first alerts,
// alerts how many it counts, known how many of them had fired before, and
// at and last when the first and the latest joined.
func tallyDetail(names string, alerts, known int, at, last time.Time) (string, error) {
	var ns []string
	if err := json.Unmarshal([]byte(names), &ns); err != nil {
		return "", quietpager.Wrap(quietpager.Internal, err, "corrupt timeline entry")
	}
	var out string
	if alerts == 1 && len(ns) == 1 {
		out = "alert " + ns[0]
	} else {
		out = strconv.Itoa(alerts) + " alerts"
		if span := last.Sub(at).Truncate(time.Second); span > 0 {
			out += " over " + span.String()
		}
		out += ": " + list(ns, alerts)
	}
	if known == alerts {
		out += " fired again"
	}
	return out, nil
}
