package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/alertmanager/pkg/labels"
	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// Plan is what Apply changed, or would change on a dry run: one line per
// created, updated or deleted thing, such as "create rotation primary",
// "update team payments: slack_channel", "delete person bob". Updates name
// the changed settings, never their values (a webhook secret is one).
type Plan struct {
	Changes []string
}

// Empty reports whether the database already matched the configuration.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

func (p Plan) String() string {
	if p.Empty() {
		return "no changes"
	}
	return strings.Join(p.Changes, "\n")
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// Apply makes the database match cfg, by name: what cfg has and the
// database lacks is created, what differs is updated, what the database
// has and cfg lacks is deleted (a deleted rotation's overrides with it).
// It runs in one transaction, so readers see the old configuration or the
// new one, never a mix. Applying the same cfg twice plans nothing the
// second time.
//
// With dryRun, Apply does all the work and rolls it back, so the plan it
// returns is exactly what a real run would do, and it fails where a real
// run would fail.
//
// Deleting a person who has an override that has not ended yet, on a
// rotation that stays, is refused (Conflict): apply never removes
// somebody's cover behind their back. Their past overrides go with them.
func (s *Store) Apply(ctx context.Context, cfg rotation.Config, dryRun bool) (Plan, error) {
	if err := check(cfg); err != nil {
		return Plan{}, err
	}
	var plan Plan
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.postgres {
			// Two applies at once would each plan against the old state;
			// take turns. (SQLite's write transactions already do.)
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(7461636)`).Error; err != nil {
				return err
			}
		}
		cur, err := load(tx)
		if err != nil {
			return err
		}
		a := &apply{s: s, tx: tx, cur: cur, want: cfg}
		if err := a.run(); err != nil {
			return err
		}
		plan = Plan{Changes: a.changes}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return Plan{}, fail(err, "apply the on-call configuration")
	}
	return plan, nil
}

// check refuses a Config that ParseConfig would not have produced: one
// built in code with duplicate names, dangling references or no zones.
func check(cfg rotation.Config) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	names := func(kind string, list []string) map[string]bool {
		set := map[string]bool{}
		for _, n := range list {
			if n == "" {
				add("a %s has no name", kind)
			} else if set[n] {
				add("duplicate %s %q", kind, n)
			}
			set[n] = true
		}
		return set
	}
	people := names("person", mapSlice(cfg.People, func(p rotation.Person) string { return p.Name }))
	teams := names("team", mapSlice(cfg.Teams, func(t rotation.Team) string { return t.Name }))
	rotations := names("rotation", mapSlice(cfg.Rotations, func(r rotation.Rotation) string { return r.Name }))
	names("route", mapSlice(cfg.Routes, func(r rotation.Route) string { return r.Name }))
	names("escalation policy of team", mapSlice(cfg.Escalation, func(e rotation.EscalationPolicy) string { return e.Team }))
	ref := func(what string, set map[string]bool, kind, name string) {
		if !set[name] {
			add("%s: unknown %s %q", what, kind, name)
		}
	}
	for _, p := range cfg.People {
		if p.TimeZone == nil {
			add("person %q has no time zone", p.Name)
		}
	}
	for _, t := range cfg.Teams {
		if t.TimeZone == nil {
			add("team %q has no time zone", t.Name)
		}
		for _, m := range t.Members {
			ref("team "+strconv.Quote(t.Name), people, "person", m)
		}
	}
	for _, r := range cfg.Rotations {
		what := "rotation " + strconv.Quote(r.Name)
		if r.TimeZone == nil {
			add("%s has no time zone", what)
		}
		if len(r.Members) == 0 {
			add("%s has no members", what)
		}
		if (r.Shift.Days > 0) == (r.Shift.Duration > 0) || r.Shift.Days < 0 || r.Shift.Duration < 0 {
			add("%s: a shift is a positive number of days or a positive duration", what)
		}
		ref(what, teams, "team", r.Team)
		for _, m := range r.Members {
			ref(what, people, "person", m)
		}
	}
	for _, e := range cfg.Escalation {
		what := "escalation of team " + strconv.Quote(e.Team)
		ref(what, teams, "team", e.Team)
		if e.Repeat < 0 {
			add("%s: negative repeat", what)
		}
		for i, st := range e.Steps {
			if st.Delay < 0 {
				add("%s, step %d: negative delay", what, i+1)
			}
			for _, t := range st.Targets {
				switch {
				case (t.Rotation == "") == (t.Person == ""):
					add("%s, step %d: a target is a rotation or a person", what, i+1)
				case t.Rotation != "":
					ref(what, rotations, "rotation", t.Rotation)
				default:
					ref(what, people, "person", t.Person)
				}
			}
		}
	}
	for _, r := range cfg.Routes {
		ref("route "+strconv.Quote(r.Name), teams, "team", r.Team)
		switch r.Urgency {
		case rotation.UrgencyPage, rotation.UrgencyBusinessHours, rotation.UrgencyDigest:
		default:
			add("route %q: unknown urgency %q", r.Name, r.Urgency)
		}
	}
	names("heartbeat", mapSlice(cfg.Heartbeats, func(h rotation.Heartbeat) string { return h.Name }))
	for _, h := range cfg.Heartbeats {
		if name := h.Alertname(); name == "" || name == rotation.HeartbeatAlertname {
			add("heartbeat %q: its matchers must pin an alertname with = (not %s)", h.Name, rotation.HeartbeatAlertname)
		}
		if h.Interval <= 0 {
			add("heartbeat %q: the interval must be positive", h.Name)
		}
		if _, ok := h.Labels["alertname"]; ok {
			add("heartbeat %q: labels may not set alertname", h.Name)
		}
		if _, ok := h.Labels[rotation.HeartbeatLabel]; ok {
			add("heartbeat %q: labels may not set %s", h.Name, rotation.HeartbeatLabel)
		}
	}
	if len(problems) > 0 {
		return &quietpager.Error{Code: quietpager.Invalid, Message: strings.Join(problems, "\n")}
	}
	return nil
}

func mapSlice[T any](items []T, f func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = f(it)
	}
	return out
}

// record is one thing's settings as comparable text, keyed by the name the
// configuration file gives the setting, so that an update can say which
// settings changed. The same function turns the stored and the wanted
// configuration into records, so equal settings always compare equal.
type record map[string]string

func (r record) changed(old record) []string {
	var out []string
	for k, v := range r {
		if old[k] != v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func personRecord(p rotation.Person) record {
	return record{"email": p.Email, "slack_id": p.SlackID, "time_zone": p.TimeZone.String()}
}

func teamRecord(t rotation.Team) record {
	return record{
		"time_zone": t.TimeZone.String(), "slack_channel": t.SlackChannel,
		"webhook.url": t.WebhookURL, "webhook.secret": t.WebhookSecret,
		"members": strings.Join(t.Members, "\x00"),
	}
}

func rotationRecord(r rotation.Rotation) record {
	return record{
		"team": r.Team, "members": strings.Join(r.Members, "\x00"),
		"shift":     fmt.Sprintf("%dd%dus", r.Shift.Days, durMicros(r.Shift.Duration)),
		"start":     strconv.FormatInt(micros(r.Start), 10),
		"time_zone": r.TimeZone.String(),
	}
}

func escalationRecord(e rotation.EscalationPolicy) record {
	var steps []string
	for _, st := range e.Steps {
		targets := mapSlice(st.Targets, func(t rotation.Target) string { return t.Rotation + "\x01" + t.Person })
		steps = append(steps, fmt.Sprintf("%d:%s", durMicros(st.Delay), strings.Join(targets, "\x02")))
	}
	return record{"steps": strings.Join(steps, "\x00"), "repeat": strconv.Itoa(e.Repeat)}
}

// routeRecord keeps a route's place as the name of the route before it, so
// that inserting or deleting one route reports one move, not a change to
// every route after it.
func routeRecord(routes []rotation.Route, i int) record {
	r, after := routes[i], "\x00first"
	if i > 0 {
		after = routes[i-1].Name
	}
	return record{
		"order": after, "matchers": matcherText(r.Matchers), "team": r.Team,
		"urgency": string(r.Urgency), "group_by": strings.Join(r.GroupBy, ","),
		"reopen_window": strconv.FormatInt(durMicros(r.ReopenWindow), 10),
		"flap":          fmt.Sprintf("%d %g %g %d", durMicros(r.Flap.Tau), r.Flap.High, r.Flap.Low, durMicros(r.Flap.Quiet)),
		"default":       strconv.FormatBool(r.Default),
	}
}

// heartbeatRecord's labels are JSON, whose object keys encoding/json
// sorts, so equal label sets compare equal.
func heartbeatRecord(h rotation.Heartbeat) record {
	return record{
		"matchers": matcherText(h.Matchers), "interval": strconv.FormatInt(durMicros(h.Interval), 10),
		"labels": labelsJSON(h.Labels),
	}
}

func labelsJSON(ls map[string]string) string {
	if ls == nil {
		ls = map[string]string{}
	}
	b, _ := json.Marshal(ls) // a map of strings always encodes
	return string(b)
}

// matcherText is a list of matchers as Alertmanager writes them:
// {severity="critical", team=~"db.*"}.
func matcherText(ms []*labels.Matcher) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		if m != nil {
			parts = append(parts, m.String())
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// apply is one Apply's transaction.
type apply struct {
	s       *Store
	tx      *gorm.DB
	cur     *snapshot
	want    rotation.Config
	changes []string
}

func (a *apply) note(format string, args ...any) {
	a.changes = append(a.changes, fmt.Sprintf(format, args...))
}

// diff reports, for one kind of thing, which wanted names are new and
// which changed (with what changed), and which stored names are gone.
type diff struct {
	create  []int            // indexes into the wanted list
	update  map[int][]string // index → changed settings
	deleted []string         // names
}

func diffOf[T any](kind string, want []T, cur []T, name func(T) string, rec func([]T, int) record, a *apply) diff {
	d := diff{update: map[int][]string{}}
	old := map[string]record{}
	for i, c := range cur {
		old[name(c)] = rec(cur, i)
	}
	keep := map[string]bool{}
	for i, w := range want {
		n := name(w)
		keep[n] = true
		o, ok := old[n]
		if !ok {
			d.create = append(d.create, i)
			a.note("create %s %s", kind, n)
			continue
		}
		if ch := rec(want, i).changed(o); len(ch) > 0 {
			d.update[i] = ch
			a.note("update %s %s: %s", kind, n, strings.Join(ch, ", "))
		}
	}
	for _, c := range cur {
		if n := name(c); !keep[n] {
			d.deleted = append(d.deleted, n)
		}
	}
	return d
}

// run plans and writes. Order matters for the foreign keys: things are
// created and updated before what refers to them, and deleted only after
// nothing refers to them any more.
func (a *apply) run() error {
	cur, want := a.cur.cfg, a.want
	people := diffOf("person", want.People, cur.People, func(p rotation.Person) string { return p.Name },
		func(l []rotation.Person, i int) record { return personRecord(l[i]) }, a)
	teams := diffOf("team", want.Teams, cur.Teams, func(t rotation.Team) string { return t.Name },
		func(l []rotation.Team, i int) record { return teamRecord(l[i]) }, a)
	rotations := diffOf("rotation", want.Rotations, cur.Rotations, func(r rotation.Rotation) string { return r.Name },
		func(l []rotation.Rotation, i int) record { return rotationRecord(l[i]) }, a)
	policies := diffOf("escalation", want.Escalation, cur.Escalation, func(e rotation.EscalationPolicy) string { return e.Team },
		func(l []rotation.EscalationPolicy, i int) record { return escalationRecord(l[i]) }, a)
	routes := diffOf("route", want.Routes, cur.Routes, func(r rotation.Route) string { return r.Name }, routeRecord, a)
	heartbeats := diffOf("heartbeat", want.Heartbeats, cur.Heartbeats, func(h rotation.Heartbeat) string { return h.Name },
		func(l []rotation.Heartbeat, i int) record { return heartbeatRecord(l[i]) }, a)

	if err := a.people(people); err != nil {
		return err
	}
	if err := a.teams(teams); err != nil {
		return err
	}
	if err := a.rotations(rotations); err != nil {
		return err
	}
	if err := a.policies(policies); err != nil {
		return err
	}
	if err := a.routes(routes); err != nil {
		return err
	}
	if err := a.heartbeats(heartbeats); err != nil {
		return err
	}
	// Deletions, each line in the plan after the creates and updates.
	for _, n := range heartbeats.deleted {
		a.note("delete heartbeat %s", n)
		if err := a.tx.Exec(`DELETE FROM heartbeats WHERE id = ?`, a.cur.heartbeatID[n]).Error; err != nil {
			return err
		}
	}
	for _, n := range routes.deleted {
		a.note("delete route %s", n)
		if err := a.tx.Exec(`DELETE FROM routes WHERE id = ?`, a.cur.routeID[n]).Error; err != nil {
			return err
		}
	}
	for _, n := range policies.deleted {
		a.note("delete escalation %s", n)
		if err := a.tx.Exec(`DELETE FROM escalation_policies WHERE id = ?`, a.cur.policyID[n]).Error; err != nil {
			return err
		}
	}
	for _, n := range rotations.deleted {
		var count int64
		id := a.cur.rotationID[n]
		if err := a.tx.Raw(`SELECT COUNT(*) FROM overrides WHERE rotation_id = ?`, id).Scan(&count).Error; err != nil {
			return err
		}
		a.note("delete rotation %s%s", n, plural(count, " (and its override)", " (and its %d overrides)"))
		if err := a.tx.Exec(`DELETE FROM rotations WHERE id = ?`, id).Error; err != nil {
			return err
		}
	}
	for _, n := range teams.deleted {
		a.note("delete team %s", n)
		if err := a.tx.Exec(`DELETE FROM teams WHERE id = ?`, a.cur.teamID[n]).Error; err != nil {
			return err
		}
	}
	return a.deletePeople(people.deleted)
}

// plural says nothing for 0, one for 1 and many, formatted with n, else.
func plural(n int64, one, many string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return one
	}
	return fmt.Sprintf(many, n)
}

func (a *apply) deletePeople(names []string) error {
	now := micros(a.s.now())
	for _, n := range names {
		id := a.cur.personID[n]
		var active []struct {
			ID       int64
			Rotation string
			StartsAt int64
			EndsAt   int64
		}
		err := a.tx.Raw(`SELECT o.id, r.name AS rotation, o.starts_at, o.ends_at FROM overrides o
			JOIN rotations r ON r.id = o.rotation_id
			WHERE o.person_id = ? AND o.ends_at > ? ORDER BY o.starts_at`, id, now).Scan(&active).Error
		if err != nil {
			return err
		}
		if len(active) > 0 {
			o := active[0]
			return quietpager.Errorf(quietpager.Conflict,
				"person %s cannot be deleted: they cover rotation %s by override %d from %s to %s (%d override(s) not ended yet); delete the override or keep them",
				n, o.Rotation, o.ID, fromMicros(o.StartsAt).Format("2006-01-02 15:04Z"), fromMicros(o.EndsAt).Format("2006-01-02 15:04Z"), len(active))
		}
		res := a.tx.Exec(`DELETE FROM overrides WHERE person_id = ?`, id)
		if res.Error != nil {
			return res.Error
		}
		a.note("delete person %s%s", n, plural(res.RowsAffected, " (and their past override)", " (and their %d past overrides)"))
		if err := a.tx.Exec(`DELETE FROM people WHERE id = ?`, id).Error; err != nil {
			return err
		}
	}
	return nil
}

// insertID runs an INSERT … RETURNING id.
func (a *apply) insertID(q string, args ...any) (int64, error) {
	var id int64
	err := a.tx.Raw(q+` RETURNING id`, args...).Scan(&id).Error
	return id, err
}

func (a *apply) people(d diff) error {
	for _, i := range d.create {
		p := a.want.People[i]
		id, err := a.insertID(`INSERT INTO people (name, email, slack_id, time_zone) VALUES (?, ?, ?, ?)`,
			p.Name, p.Email, p.SlackID, p.TimeZone.String())
		if err != nil {
			return err
		}
		a.cur.personID[p.Name] = id
	}
	for i := range d.update {
		p := a.want.People[i]
		if err := a.tx.Exec(`UPDATE people SET email = ?, slack_id = ?, time_zone = ? WHERE id = ?`,
			p.Email, p.SlackID, p.TimeZone.String(), a.cur.personID[p.Name]).Error; err != nil {
			return err
		}
	}
	return nil
}

func (a *apply) teams(d diff) error {
	for _, i := range d.create {
		t := a.want.Teams[i]
		id, err := a.insertID(`INSERT INTO teams (name, time_zone, slack_channel, webhook_url, webhook_secret)
			VALUES (?, ?, ?, ?, ?)`, t.Name, t.TimeZone.String(), t.SlackChannel, t.WebhookURL, t.WebhookSecret)
		if err != nil {
			return err
		}
		a.cur.teamID[t.Name] = id
	}
	for i := range d.update {
		t := a.want.Teams[i]
		if err := a.tx.Exec(`UPDATE teams SET time_zone = ?, slack_channel = ?, webhook_url = ?, webhook_secret = ?
			WHERE id = ?`, t.TimeZone.String(), t.SlackChannel, t.WebhookURL, t.WebhookSecret, a.cur.teamID[t.Name]).Error; err != nil {
			return err
		}
	}
	for _, i := range touched(d) {
		t := a.want.Teams[i]
		if err := a.members("team_members", "team_id", a.cur.teamID[t.Name], t.Members); err != nil {
			return err
		}
	}
	return nil
}

// touched is every created or updated index, in configuration order.
func touched(d diff) []int {
	out := slices.Clone(d.create)
	for i := range d.update {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// members replaces an ordered member list.
func (a *apply) members(table, parent string, id int64, names []string) error {
	if err := a.tx.Exec(`DELETE FROM `+table+` WHERE `+parent+` = ?`, id).Error; err != nil {
		return err
	}
	for pos, n := range names {
		if err := a.tx.Exec(`INSERT INTO `+table+` (`+parent+`, position, person_id) VALUES (?, ?, ?)`,
			id, pos, a.cur.personID[n]).Error; err != nil {
			return err
		}
	}
	return nil
}

func (a *apply) rotations(d diff) error {
	for _, i := range d.create {
		r := a.want.Rotations[i]
		id, err := a.insertID(`INSERT INTO rotations (name, team_id, shift_days, shift_us, starts_at, time_zone)
			VALUES (?, ?, ?, ?, ?, ?)`, r.Name, a.cur.teamID[r.Team], r.Shift.Days, durMicros(r.Shift.Duration),
			micros(r.Start), r.TimeZone.String())
		if err != nil {
			return err
		}
		a.cur.rotationID[r.Name] = id
	}
	for i := range d.update {
		r := a.want.Rotations[i]
		if err := a.tx.Exec(`UPDATE rotations SET team_id = ?, shift_days = ?, shift_us = ?, starts_at = ?, time_zone = ?
			WHERE id = ?`, a.cur.teamID[r.Team], r.Shift.Days, durMicros(r.Shift.Duration), micros(r.Start),
			r.TimeZone.String(), a.cur.rotationID[r.Name]).Error; err != nil {
			return err
		}
	}
	for _, i := range touched(d) {
		r := a.want.Rotations[i]
		if err := a.members("rotation_members", "rotation_id", a.cur.rotationID[r.Name], r.Members); err != nil {
			return err
		}
	}
	return nil
}

func (a *apply) policies(d diff) error {
	for _, i := range d.create {
		e := a.want.Escalation[i]
		id, err := a.insertID(`INSERT INTO escalation_policies (team_id, repeats) VALUES (?, ?)`, a.cur.teamID[e.Team], e.Repeat)
		if err != nil {
			return err
		}
		a.cur.policyID[e.Team] = id
	}
	for i := range d.update {
		e := a.want.Escalation[i]
		if err := a.tx.Exec(`UPDATE escalation_policies SET repeats = ? WHERE id = ?`, e.Repeat, a.cur.policyID[e.Team]).Error; err != nil {
			return err
		}
	}
	for _, i := range touched(d) {
		e := a.want.Escalation[i]
		id := a.cur.policyID[e.Team]
		if err := a.tx.Exec(`DELETE FROM escalation_steps WHERE policy_id = ?`, id).Error; err != nil {
			return err
		}
		for si, st := range e.Steps {
			if err := a.tx.Exec(`INSERT INTO escalation_steps (policy_id, position, delay_us) VALUES (?, ?, ?)`,
				id, si, durMicros(st.Delay)).Error; err != nil {
				return err
			}
			for ti, t := range st.Targets {
				var rot, person any
				if t.Rotation != "" {
					rot = a.cur.rotationID[t.Rotation]
				} else {
					person = a.cur.personID[t.Person]
				}
				if err := a.tx.Exec(`INSERT INTO escalation_targets (policy_id, step, position, rotation_id, person_id)
					VALUES (?, ?, ?, ?, ?)`, id, si, ti, rot, person).Error; err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *apply) routes(d diff) error {
	write := func(i int, update bool) error {
		r := a.want.Routes[i]
		groupBy, err := json.Marshal(append([]string{}, r.GroupBy...))
		if err != nil {
			return err
		}
		args := []any{i, matcherText(r.Matchers), a.cur.teamID[r.Team], string(r.Urgency), string(groupBy),
			durMicros(r.ReopenWindow), durMicros(r.Flap.Tau), r.Flap.High, r.Flap.Low, durMicros(r.Flap.Quiet), r.Default}
		if update {
			return a.tx.Exec(`UPDATE routes SET position = ?, matchers = ?, team_id = ?, urgency = ?, group_by = ?,
				reopen_window_us = ?, flap_tau_us = ?, flap_high = ?, flap_low = ?, flap_quiet_us = ?, is_default = ?
				WHERE id = ?`, append(args, a.cur.routeID[r.Name])...).Error
		}
		return a.tx.Exec(`INSERT INTO routes (name, position, matchers, team_id, urgency, group_by,
				reopen_window_us, flap_tau_us, flap_high, flap_low, flap_quiet_us, is_default)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append([]any{r.Name}, args...)...).Error
	}
	for _, i := range d.create {
		if err := write(i, false); err != nil {
			return err
		}
	}
	for i := range d.update {
		if err := write(i, true); err != nil {
			return err
		}
	}
	// Every route's position follows the file, whether or not it changed
	// (inserting a route moves the ones after it).
	for i, r := range a.want.Routes {
		if _, ok := d.update[i]; ok || slices.Contains(d.create, i) {
			continue
		}
		if err := a.tx.Exec(`UPDATE routes SET position = ? WHERE id = ? AND position <> ?`,
			i, a.cur.routeID[r.Name], i).Error; err != nil {
			return err
		}
	}
	return nil
}

// heartbeats writes created and updated heartbeats. A heartbeat's clock
// (configured_at) starts again when what it listens for changes (matchers,
// interval), not when only the labels of its alert do.
func (a *apply) heartbeats(d diff) error {
	now := micros(a.s.now())
	for _, i := range d.create {
		h := a.want.Heartbeats[i]
		if err := a.tx.Exec(`INSERT INTO heartbeats (name, matchers, interval_us, labels, configured_at) VALUES (?, ?, ?, ?, ?)`,
			h.Name, matcherText(h.Matchers), durMicros(h.Interval), labelsJSON(h.Labels), now).Error; err != nil {
			return err
		}
	}
	for i, changed := range d.update {
		h := a.want.Heartbeats[i]
		q := `UPDATE heartbeats SET matchers = ?, interval_us = ?, labels = ? WHERE id = ?`
		args := []any{matcherText(h.Matchers), durMicros(h.Interval), labelsJSON(h.Labels)}
		if slices.ContainsFunc(changed, func(k string) bool { return k != "labels" }) {
			q = `UPDATE heartbeats SET matchers = ?, interval_us = ?, labels = ?, configured_at = ? WHERE id = ?`
			args = append(args, now)
		}
		if err := a.tx.Exec(q, append(args, a.cur.heartbeatID[h.Name])...).Error; err != nil {
			return err
		}
	}
	return nil
}
