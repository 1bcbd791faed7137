package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/flap"
)

// Write commits one folded batch in one transaction: alerts, episodes, the
// incidents new episodes open or join, flap scores, and the incidents that
// resolve. The episode upserts are monotonic merges, and at most one
// unresolved incident per group is a unique index, so replicas writing the
// same notification at the same moment converge on the same rows whatever
// order their transactions commit in.
func (s *Store) Write(ctx context.Context, b dedupe.Batch) (dedupe.WriteResult, error) {
	var (
		res dedupe.WriteResult
		err error
	)
	for attempt := 1; ; attempt++ {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res = dedupe.WriteResult{}
			w := &write{Store: s, tx: tx, b: b}
			return w.run(&res)
		})
		if err == nil || !transient(err) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return dedupe.WriteResult{}, quietpager.Wrap(quietpager.Unavailable, err, "could not commit alerts")
	}
	return res, nil
}

// transient reports whether PostgreSQL aborted the transaction only because
// of a concurrent one (a deadlock between replicas touching the same
// incidents in different orders), so that running it again will work.
func transient(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

type episodeKey struct {
	alertID  int64
	startsAt int64
}

// storedAlert is an alert's id and flap state as stored before a batch.
type storedAlert struct {
	id    int64
	flap  flap.State
	known bool // quietpager had seen the alert before this batch
}

type priorEpisode struct {
	state      dedupe.State
	incidentID int64 // 0: none
}

// write is the state of one Write transaction.
type write struct {
	*Store
	tx *gorm.DB
	b  dedupe.Batch
	at time.Time // when the batch was received: its newest delivery

	policy  map[string]dedupe.Policy // by fingerprint
	flaps   map[string]flap.State    // by fingerprint, after this batch
	started map[string]bool          // fingerprints that started flapping
	stopped map[string]bool          // fingerprints that stopped flapping
	ids     map[string]int64         // alert id by fingerprint
	labels  map[string]string        // labels as stored (JSON) by fingerprint
	prior   map[episodeKey]priorEpisode
	events  []eventRow
	tallies []tally
}

type eventRow struct {
	incidentID int64
	kind       string
	actor      string
	detail     string
}

func (w *write) run(res *dedupe.WriteResult) error {
	w.policy = make(map[string]dedupe.Policy, len(w.b.Alerts))
	for _, a := range w.b.Alerts {
		w.policy[a.Fingerprint] = w.o.Policies.PolicyFor(a.Labels)
		if a.LastSeen.After(w.at) {
			w.at = a.LastSeen
		}
	}
	// Upserting the alerts first takes their row locks, new alerts'
	// included, so what this transaction reads next (prior episodes, flap
	// state) cannot change under it: a replica writing the same alerts waits
	// here for this one to commit and then sees what it wrote.
	// A new alert's flap state follows from this batch alone, so it is
	// written with the insert; only known alerts need a second statement.
	w.prior = map[episodeKey]priorEpisode{}
	w.scoreFlaps(nil)
	stored, err := w.upsertAlerts()
	if err != nil {
		return err
	}
	w.ids = make(map[string]int64, len(stored))
	for fp, a := range stored {
		w.ids[fp] = a.id
	}
	if w.prior, err = w.priorEpisodes(stored); err != nil {
		return err
	}
	var known []flapUpdate
	for _, u := range w.scoreFlaps(stored) {
		if u.known {
			known = append(known, u)
		}
	}
	if err := w.updateFlaps(known); err != nil {
		return err
	}

	// New episodes join (or open) their group's incident.
	groups := make(map[string]*group)
	var order []string
	incidentOf := make(map[episodeKey]int64)
	ackedOnJoin := make(map[episodeKey]bool) // new episodes joining an acknowledged incident
	var startedIDs []int64                   // known alerts with a new episode: older ones may be superseded
	settling := make(map[int64]bool)         // incidents with an episode resolved by this batch
	for _, e := range w.b.Episodes {
		k := episodeKey{w.ids[e.Fingerprint], micros(e.StartsAt)}
		p, existed := w.prior[k]
		if existed {
			res.Folded += e.Notifications
			incidentOf[k] = p.incidentID
		} else {
			res.NewEpisodes++
			res.Folded += e.Notifications - 1
			if stored[e.Fingerprint].known {
				startedIDs = append(startedIDs, k.alertID)
			}
			a := w.alert(e.Fingerprint)
			hash := w.policy[e.Fingerprint].GroupHash(a)
			g, ok := groups[hash]
			if !ok {
				p := w.policy[e.Fingerprint]
				g = &group{hash: hash, policy: p, first: a, window: p.ReopenWindow, common: maps.Clone(a.Labels)}
				groups[hash] = g
				order = append(order, hash)
			}
			g.keys = append(g.keys, k)
			g.resolvedNew = g.resolvedNew || e.Resolved
			maps.DeleteFunc(g.common, func(k, v string) bool { av, ok := a.Labels[k]; return !ok || av != v })
			g.added = append(g.added, a)
			g.critical = g.critical || a.Labels["severity"] == "critical"
			if stored[e.Fingerprint].known {
				g.seen++
			}
			if w.flaps[e.Fingerprint].Flapping {
				res.Held++
			} else {
				g.page = true
			}
		}
		if e.Resolved && p.state != dedupe.Resolved {
			res.Resolved++
			if existed && p.incidentID != 0 {
				settling[p.incidentID] = true
			}
		}
	}
	slices.Sort(order) // the same lock order in every transaction
	if err := w.incidentsFor(groups, order); err != nil {
		return err
	}
	var grown []dedupe.IncidentChange // incidents that were open and gained alerts
	for _, hash := range order {
		g := groups[hash]
		for _, k := range g.keys {
			incidentOf[k] = g.id
			if g.acknowledged {
				ackedOnJoin[k] = true
			}
		}
		// A critical alert joining an incident matters only where a page
		// may be held for business hours.
		critical := g.critical && !g.opened && !g.reopened && g.policy.Urgency == "business-hours"
		change := dedupe.IncidentChange{
			ID: g.id, Opened: g.opened, Reopened: g.reopened, Page: g.page, Critical: critical,
			Team: g.policy.Team, Urgency: g.policy.Urgency, Opening: g.opening}
		if g.opened || g.reopened || critical {
			res.Incidents = append(res.Incidents, change)
		} else {
			grown = append(grown, change)
		}
	}
	if err := w.upsertEpisodes(incidentOf, ackedOnJoin); err != nil {
		return err
	}
	superseded, err := w.closeSuperseded(startedIDs)
	if err != nil {
		return err
	}
	for _, id := range superseded {
		if id != 0 {
			settling[id] = true
		}
	}
	if err := w.flapEvents(incidentOf, res); err != nil {
		return err
	}
	// Only an incident with an episode resolved by this batch can have
	// settled; new incidents and joins leave something firing.
	for _, hash := range order {
		if g := groups[hash]; g.resolvedNew {
			settling[g.id] = true
		}
	}
	touched := make([]int64, 0, len(settling))
	for id := range settling {
		touched = append(touched, id)
	}
	slices.Sort(touched)
	if err := w.autoResolve(touched); err != nil {
		return err
	}
	if err := w.writeTallies(); err != nil {
		return err
	}
	if err := w.insertEvents(w.tx, w.at, w.events); err != nil {
		return err
	}
	if w.o.OnGrown != nil && len(grown) > 0 {
		if err := w.o.OnGrown(w.tx.Statement.Context, sqlTx(w.tx), grown); err != nil {
			return err
		}
	}
	if w.o.OnIncidents != nil && len(res.Incidents) > 0 {
		return w.o.OnIncidents(w.tx.Statement.Context, sqlTx(w.tx), res.Incidents)
	}
	return nil
}

// alert returns the batch's description of the alert with fingerprint fp.
func (w *write) alert(fp string) dedupe.AlertUpsert {
	i, _ := slices.BinarySearchFunc(w.b.Alerts, fp, func(a dedupe.AlertUpsert, fp string) int {
		return strings.Compare(a.Fingerprint, fp)
	})
	return w.b.Alerts[i]
}

var alertTypes = []string{"text", "text", "jsonb", "jsonb", "text", "text", "text", "bigint", "bigint",
	"double precision", "bigint", "boolean"}

// upsertAlerts writes the batch's alerts and returns each one's id and
// stored flap state, and whether quietpager knew it before this batch.
func (w *write) upsertAlerts() (map[string]storedAlert, error) {
	stored := make(map[string]storedAlert, len(w.b.Alerts))
	w.labels = make(map[string]string, len(w.b.Alerts))
	// Which rows the upsert inserted: PostgreSQL says so itself (a row
	// version no transaction has replaced has xmax 0). SQLite has one
	// writer at a time and gives new rows ids above every existing one.
	inserted, newAbove := "xmax = 0", []any(nil)
	if !w.postgres {
		var maxID int64
		if err := w.tx.Raw(`SELECT COALESCE(MAX(id), 0) FROM alerts`).Scan(&maxID).Error; err != nil {
			return nil, err
		}
		inserted, newAbove = "id > ?", []any{maxID}
	}
	err := chunks(w.b.Alerts, func(chunk []dedupe.AlertUpsert) error {
		args := make([]any, 0, len(chunk)*12)
		for _, a := range chunk {
			ls, err := json.Marshal(a.Labels)
			if err != nil {
				return err
			}
			as, err := json.Marshal(nonNil(a.Annotations))
			if err != nil {
				return err
			}
			f := w.flaps[a.Fingerprint] // as if new; the update below ignores it
			labels := string(ls)
			w.labels[a.Fingerprint] = labels
			args = append(args, a.Fingerprint, a.Alertname, labels, string(as),
				a.GeneratorURL, a.Receiver, a.GroupKey, micros(a.FirstSeen), micros(a.LastSeen),
				f.Score, flapAt(f), f.Flapping)
		}
		src, args := w.rows(alertTypes, args)
		rows, err := w.tx.Raw(`INSERT INTO alerts (fingerprint, alertname, labels, annotations,
				generator_url, receiver, group_key, first_seen, last_seen, flap_score, flap_at, flapping)
			`+src+`
			ON CONFLICT (fingerprint) DO UPDATE SET
				alertname     = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.alertname ELSE alerts.alertname END,
				labels        = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.labels ELSE alerts.labels END,
				annotations   = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.annotations ELSE alerts.annotations END,
				generator_url = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.generator_url ELSE alerts.generator_url END,
				receiver      = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.receiver ELSE alerts.receiver END,
				group_key     = CASE WHEN excluded.last_seen >= alerts.last_seen THEN excluded.group_key ELSE alerts.group_key END,
				first_seen    = CASE WHEN excluded.first_seen < alerts.first_seen THEN excluded.first_seen ELSE alerts.first_seen END,
				last_seen     = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END
			RETURNING id, fingerprint, flap_score, flap_at, flapping, `+inserted, append(args, newAbove...)...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a     storedAlert
				fp    string
				at    int64
				isNew bool
			)
			if err := rows.Scan(&a.id, &fp, &a.flap.Score, &at, &a.flap.Flapping, &isNew); err != nil {
				return err
			}
			if at != 0 {
				a.flap.At = fromMicros(at)
			}
			if a.known = !isNew; !a.known {
				a.flap = flap.State{} // what it was before this batch: nothing
			}
			stored[fp] = a
		}
		return rows.Err()
	})
	return stored, err
}

// priorEpisodes reads the stored state of the batch's episodes before it is
// merged: which are new, which were already resolved, and their incidents.
func (w *write) priorEpisodes(stored map[string]storedAlert) (map[episodeKey]priorEpisode, error) {
	prior := make(map[episodeKey]priorEpisode)
	var eps []dedupe.EpisodeUpsert // a new alert has no episodes yet
	for _, e := range w.b.Episodes {
		if stored[e.Fingerprint].known {
			eps = append(eps, e)
		}
	}
	err := chunks(eps, func(chunk []dedupe.EpisodeUpsert) error {
		alertIDs := make([]int64, 0, len(chunk))
		earliest := chunk[0].StartsAt
		for i, e := range chunk {
			if i == 0 || e.Fingerprint != chunk[i-1].Fingerprint {
				alertIDs = append(alertIDs, w.ids[e.Fingerprint])
			}
			if e.StartsAt.Before(earliest) {
				earliest = e.StartsAt
			}
		}
		cond, ids := in(w.Store, "bigint", alertIDs)
		rows, err := w.tx.Raw(`SELECT alert_id, starts_at, state, incident_id FROM episodes
			WHERE alert_id `+cond+` AND starts_at >= ?`, ids, micros(earliest)).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k        episodeKey
				p        priorEpisode
				incident *int64
			)
			if err := rows.Scan(&k.alertID, &k.startsAt, &p.state, &incident); err != nil {
				return err
			}
			if incident != nil {
				p.incidentID = *incident
			}
			prior[k] = p
		}
		return rows.Err()
	})
	return prior, err
}

// flapAt is the stored form of a flap state's time: 0 for none.
func flapAt(f flap.State) int64 {
	if f.At.IsZero() {
		return 0
	}
	return micros(f.At)
}

// flapUpdate is an alert's flap state after the batch.
type flapUpdate struct {
	id    int64
	state flap.State
	known bool
}

// scoreFlaps feeds each alert's new state changes (episodes that start,
// episodes that resolve) to its flap detector, and returns the alerts whose
// flap state changed.
func (w *write) scoreFlaps(stored map[string]storedAlert) []flapUpdate {
	w.flaps = make(map[string]flap.State, len(stored))
	w.started, w.stopped = map[string]bool{}, map[string]bool{}
	var (
		updates []flapUpdate
		changes []time.Time
		eps     = w.b.Episodes
	)
	for i := 0; i < len(eps); {
		fp := eps[i].Fingerprint
		cur := stored[fp]
		changes = changes[:0]
		for ; i < len(eps) && eps[i].Fingerprint == fp; i++ {
			e := eps[i]
			p, existed := w.prior[episodeKey{cur.id, micros(e.StartsAt)}]
			if !existed {
				changes = append(changes, e.StartsAt)
			}
			if e.Resolved && p.state != dedupe.Resolved {
				changes = append(changes, e.EndsAt)
			}
		}
		slices.SortFunc(changes, time.Time.Compare)
		st := cur.flap
		opts := w.policy[fp].Flap
		for _, at := range changes {
			var tr flap.Transition
			st, tr = opts.Change(st, at)
			switch tr {
			case flap.Started:
				w.started[fp], w.stopped[fp] = true, false
			case flap.Stopped:
				w.stopped[fp], w.started[fp] = true, false
			}
		}
		w.flaps[fp] = st
		if len(changes) > 0 {
			updates = append(updates, flapUpdate{cur.id, st, cur.known})
		}
	}
	return updates
}

var flapTypes = []string{"bigint", "double precision", "bigint", "boolean"}

// updateFlaps stores the new flap states, one statement per chunk.
func (w *write) updateFlaps(updates []flapUpdate) error {
	return chunks(updates, func(chunk []flapUpdate) error {
		args := make([]any, 0, len(chunk)*4)
		ids := make([]int64, len(chunk))
		for i, u := range chunk {
			args = append(args, u.id, u.state.Score, micros(u.state.At), u.state.Flapping)
			ids[i] = u.id
		}
		src, args := w.rows(flapTypes, args)
		// "alerts.id IN" lets SQLite look the rows up by id instead of
		// scanning the table for the join.
		cond, idArg := in(w.Store, "bigint", ids)
		return w.tx.Exec(`UPDATE alerts SET flap_score = v.column2, flap_at = v.column3, flapping = v.column4
			FROM (`+src+`) AS v WHERE alerts.id = v.column1 AND alerts.id `+cond, append(args, idArg)...).Error
	})
}

var episodeTypes = []string{"bigint", "bigint", "bigint", "text", "bigint", "bigint", "bigint", "bigint", "boolean", "bigint"}

func (w *write) upsertEpisodes(incidentOf map[episodeKey]int64, acked map[episodeKey]bool) error {
	return chunks(w.b.Episodes, func(chunk []dedupe.EpisodeUpsert) error {
		args := make([]any, 0, len(chunk)*10)
		for _, e := range chunk {
			k := episodeKey{w.ids[e.Fingerprint], micros(e.StartsAt)}
			var endsAt, state, incident any = nil, dedupe.Firing, nil
			if e.Resolved {
				endsAt, state = micros(e.EndsAt), dedupe.Resolved
			}
			if id := incidentOf[k]; id != 0 {
				incident = id
			}
			var ackedAt any
			if acked[k] {
				ackedAt = micros(w.at)
			}
			args = append(args, k.alertID, k.startsAt, endsAt, state,
				e.Notifications, micros(e.FirstReceived), micros(e.LastReceived), incident, false, ackedAt)
		}
		// A resolve that arrives before its firing (out-of-order delivery)
		// wins: once resolved, an episode stays resolved. A real endsAt
		// replaces one inferred by closeSuperseded. An episode keeps the
		// first incident it joined.
		src, args := w.rows(episodeTypes, args)
		return w.tx.Exec(`INSERT INTO episodes (alert_id, starts_at, ends_at, state,
				notifications, first_received, last_received, incident_id, ends_inferred, acknowledged_at)
			`+src+`
			ON CONFLICT (alert_id, starts_at) DO UPDATE SET
				notifications  = episodes.notifications + excluded.notifications,
				state          = CASE WHEN excluded.state = 'resolved' THEN 'resolved' ELSE episodes.state END,
				ends_at        = CASE WHEN episodes.ends_at IS NULL OR (episodes.ends_inferred AND excluded.ends_at IS NOT NULL)
					THEN excluded.ends_at ELSE episodes.ends_at END,
				ends_inferred  = CASE WHEN excluded.ends_at IS NOT NULL THEN excluded.ends_inferred ELSE episodes.ends_inferred END,
				first_received = CASE WHEN excluded.first_received < episodes.first_received THEN excluded.first_received ELSE episodes.first_received END,
				last_received  = CASE WHEN excluded.last_received > episodes.last_received THEN excluded.last_received ELSE episodes.last_received END,
				incident_id    = COALESCE(episodes.incident_id, excluded.incident_id),
				acknowledged_at = COALESCE(episodes.acknowledged_at, excluded.acknowledged_at)`,
			args...).Error
	})
}

// closeSuperseded ends firing episodes that a later episode of the same
// alert has replaced: one alert cannot fire twice at once, so when its
// resolve was lost, the next firing period's start is the end of the last.
// Such an end is marked inferred: an episode that turns up in between (a
// late delivery) moves it earlier, and a real resolve replaces it.
func (w *write) closeSuperseded(alertIDs []int64) ([]int64, error) {
	var incidents []int64
	err := chunks(alertIDs, func(chunk []int64) error {
		cond, arg := in(w.Store, "bigint", chunk)
		ids, err := returningIDs(w.tx, `UPDATE episodes SET state = 'resolved', ends_inferred = ?,
				ends_at = (SELECT MIN(n.starts_at) FROM episodes n
					WHERE n.alert_id = episodes.alert_id AND n.starts_at > episodes.starts_at)
			WHERE alert_id `+cond+` AND (state = 'firing' OR ends_inferred = ?)
				AND EXISTS (SELECT 1 FROM episodes n
					WHERE n.alert_id = episodes.alert_id AND n.starts_at > episodes.starts_at
						AND (episodes.ends_at IS NULL OR n.starts_at < episodes.ends_at))
			RETURNING COALESCE(incident_id, 0)`, true, arg, true)
		incidents = append(incidents, ids...)
		return err
	})
	return incidents, err
}

// flapEvents puts one "flapping started" event on each incident whose
// alerts started flapping in this batch, and starts the quiet period of
// incidents whose alerts stopped.
func (w *write) flapEvents(incidentOf map[episodeKey]int64, res *dedupe.WriteResult) error {
	started := map[int64][]string{}
	for _, e := range w.b.Episodes {
		id := incidentOf[episodeKey{w.ids[e.Fingerprint], micros(e.StartsAt)}]
		fp := e.Fingerprint
		if id == 0 {
			continue
		}
		if w.started[fp] && !slices.Contains(started[id], fp) {
			started[id] = append(started[id], fp)
		}
	}
	for id, fps := range started {
		names := make([]string, len(fps))
		for i, fp := range fps {
			names[i] = describe(w.alert(fp))
		}
		res.FlapStarted += len(fps)
		w.events = append(w.events, eventRow{id, dedupe.EventFlappingStarted, dedupe.ActorQuietpager,
			"pages held while flapping: " + list(names, len(names))})
	}
	for fp, stopped := range w.stopped {
		if stopped {
			evs, err := stopFlapping(w.tx, w.ids[fp], describe(w.alert(fp)), w.at, w.policy[fp].Flap.Quiet)
			if err != nil {
				return err
			}
			w.events = append(w.events, evs...)
		}
	}
	return nil
}

// describe names an alert for a timeline: alertname{label="value",…}.
func describe(a dedupe.AlertUpsert) string {
	parts := make([]string, 0, len(a.Labels))
	for k, v := range a.Labels {
		if k != "alertname" {
			parts = append(parts, k+"="+strconv.Quote(v))
		}
	}
	slices.Sort(parts)
	return a.Alertname + "{" + strings.Join(parts, ",") + "}"
}

// listed is how many names a timeline entry spells out.
const listed = 5

// list joins the first names of total, saying how many more there are.
func list(names []string, total int) string {
	slices.Sort(names)
	shown := names[:min(len(names), listed)]
	out := strings.Join(shown, ", ")
	if total > len(shown) {
		out += " and " + strconv.Itoa(total-len(shown)) + " more"
	}
	return out
}
