package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web/account"
)

// calendarDays is how many days the rotation page shows, today first.
const calendarDays = 28

type rotationView struct {
	Rotation rotation.Rotation
	Team     rotation.Team
	Now      rotation.OnCallShift // who is on call now
	Days     []calendarDay
	// CanEdit shows the forms; the handlers check again.
	CanEdit bool
	// People, when the user has no person of their own (an admin), are
	// whom a cover or a take may name: the team's members.
	People  []string
	Members []rotationMember
	Shift   string // as oncall.yaml writes it: 1w, 2d, 12h
	Handoff string // the local wall time of the first handoff
	Audit   []account.AuditEntry
}

// rotationMember is one member in handoff order, and whether they can
// move up or down.
type rotationMember struct {
	Name     string
	Up, Down bool
}

// calendarDay is one local calendar day, midnight to midnight; on a
// daylight saving day that is 23 or 25 hours.
type calendarDay struct {
	Date  time.Time
	Hours int
	Rows  []calendarRow
}

// calendarRow is one stretch of one person on call, clipped to its day.
type calendarRow struct {
	rotation.OnCallShift
	Until   string // the end's wall time, 24:00 at the day's end
	Current bool
	// Action marks the row that carries the shift's buttons: the current
	// one, or where an upcoming shift starts. Cover from CoverStart (now,
	// for the current shift) to CoverEnd, the whole shift's end.
	Action               bool
	CoverStart, CoverEnd time.Time
	// For an override: the override, and whom the schedule had on call.
	Source  rotation.Override
	Covered string
}

// handleRotationPage shows a rotation's next four weeks day by day, with
// overrides, its members and shift, and its audit log.
func handleRotationPage(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cfg, r, err := rotationNamed(c, store)
		if err != nil {
			p.fail(c, err)
			return
		}
		t := now()
		loc := r.TimeZone
		y, m, d := t.In(loc).Date()
		first := time.Date(y, m, d, 0, 0, 0, 0, loc)
		last := time.Date(y, m, d+calendarDays, 0, 0, 0, 0, loc)
		horizon := first.Add(maxShiftRange)
		ovs, err := store.Overrides(ctx, r.Name, first, horizon)
		if err != nil {
			p.fail(c, err)
			return
		}
		// Reach past the calendar to the end of the shift it cuts off, so
		// that covering the last shift covers all of it.
		to := last
		if s := r.OnCall(last, ovs); s.End.After(to) {
			to = earliest(s.End, horizon)
		}
		team, _ := teamNamed(cfg, r.Team)
		s, _ := sessionOf(c)
		v := rotationView{Rotation: r, Team: team, Now: r.OnCall(t, ovs), CanEdit: s.User.MayEdit(team),
			Shift: r.Shift.String(), Handoff: r.Start.In(loc).Format("15:04")}
		if s.User.Person == "" {
			v.People = team.Members
		}
		for i, m := range r.Members {
			v.Members = append(v.Members, rotationMember{Name: m, Up: i > 0, Down: i < len(r.Members)-1})
		}
		v.Days = calendar(r, first, r.Shifts(first, to, ovs), ovs, t)
		if v.Audit, err = audit.AuditOf(ctx, "rotation", r.Name, auditLimit); err != nil {
			p.fail(c, err)
			return
		}
		p.render(c, http.StatusOK, "rotation", "Rotation "+r.Name, v)
	}
}

// calendar cuts stretches (covering first onwards, in order) into
// calendarDays local days.
func calendar(r rotation.Rotation, first time.Time, stretches []rotation.OnCallShift, ovs []rotation.Override, now time.Time) []calendarDay {
	loc := r.TimeZone
	days := make([]calendarDay, 0, calendarDays)
	for i := range calendarDays {
		start := time.Date(first.Year(), first.Month(), first.Day()+i, 0, 0, 0, 0, loc)
		end := time.Date(first.Year(), first.Month(), first.Day()+i+1, 0, 0, 0, 0, loc)
		day := calendarDay{Date: start, Hours: int(end.Sub(start).Round(time.Hour).Hours())}
		for _, s := range stretches {
			if !s.Start.Before(end) || !s.End.After(start) {
				continue
			}
			row := calendarRow{OnCallShift: s, Until: "24:00"}
			row.Start, row.End = latest(s.Start, start), earliest(s.End, end)
			if row.End.Before(end) {
				row.Until = row.End.In(loc).Format("15:04")
			}
			row.Current = !now.Before(row.Start) && now.Before(row.End)
			row.Action = row.Current || row.Start.Equal(s.Start) && !row.Start.Before(now)
			row.CoverStart, row.CoverEnd = latest(s.Start, now), s.End
			if s.Override {
				row.Source = overrideOf(ovs, s)
				row.Covered = r.Scheduled(s.Start).Person
			}
			day.Rows = append(day.Rows, row)
		}
		days = append(days, day)
	}
	return days
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// overrideOf finds the override behind an override stretch: of those
// putting its person on call at its start, the one rotation.OnCall lets
// win (latest start, then highest ID).
func overrideOf(ovs []rotation.Override, s rotation.OnCallShift) rotation.Override {
	var best rotation.Override
	for _, o := range ovs {
		if o.Person != s.Person || s.Start.Before(o.Start) || !s.Start.Before(o.End) {
			continue
		}
		if best.ID == 0 || o.Start.After(best.Start) || o.Start.Equal(best.Start) && o.ID > best.ID {
			best = o
		}
	}
	return best
}

// rotationNamed loads the configuration and the rotation the path names.
func rotationNamed(c *gin.Context, store OnCallStore) (rotation.Config, rotation.Rotation, error) {
	cfg, err := store.Load(c.Request.Context())
	if err != nil {
		return cfg, rotation.Rotation{}, err
	}
	name := c.Param("name")
	if r, ok := rotationIn(cfg, name); ok {
		return cfg, r, nil
	}
	return cfg, rotation.Rotation{}, quietpager.Errorf(quietpager.NotFound, "no rotation %q", name)
}

// editableRotation is the rotation a form names, when the logged-in user
// may change it; otherwise it shows the error or the refusal.
func editableRotation(c *gin.Context, p *pages, store OnCallStore) (rotation.Config, rotation.Rotation, bool) {
	cfg, r, err := rotationNamed(c, store)
	if err != nil {
		p.fail(c, err)
		return cfg, r, false
	}
	return cfg, r, mayEdit(c, p, cfg, r.Team)
}

func rotationPath(name string) string { return "/rotations/" + url.PathEscape(name) }

// flashTime is how flash lines give an instant: the rotation's wall time.
func flashTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(wallLayout)
}

// handleCover serves the "Cover this shift" forms: the logged-in user's
// person (or, for a user without one, the team member picked) goes on call
// from the shift's start, or now if it has begun, to its end.
func handleCover(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		start, err1 := time.Parse(time.RFC3339, c.PostForm("start"))
		end, err2 := time.Parse(time.RFC3339, c.PostForm("end"))
		if err1 != nil || err2 != nil {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "the shift to cover needs a start and an end (RFC 3339 times)"))
			return
		}
		takeOver(c, p, store, audit, now, "cover shift", func(rotation.Rotation, []rotation.Override, time.Time) (time.Time, time.Time) {
			return start, end
		})
	}
}

// handleTakePager serves "Take the pager now": the user's person is on
// call from now to the end of the current shift.
func handleTakePager(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		takeOver(c, p, store, audit, now, "take the pager", func(r rotation.Rotation, ovs []rotation.Override, t time.Time) (time.Time, time.Time) {
			return t, r.OnCall(t, ovs).End
		})
	}
}

// takeOver creates the override that covering a shift and taking the
// pager both are; span says from when to when, given the rotation, its
// overrides and the time.
func takeOver(c *gin.Context, p *pages, store OnCallStore, audit AuditLog, now func() time.Time, action string,
	span func(rotation.Rotation, []rotation.Override, time.Time) (time.Time, time.Time)) {
	ctx := c.Request.Context()
	cfg, r, ok := editableRotation(c, p, store)
	if !ok {
		return
	}
	person, err := coverer(c, cfg, r)
	if err != nil {
		p.fail(c, err)
		return
	}
	t := now()
	ovs, err := store.Overrides(ctx, r.Name, t, t.Add(maxShiftRange))
	if err != nil {
		p.fail(c, err)
		return
	}
	start, end := span(r, ovs, t)
	start = latest(start, t)
	switch {
	case !end.After(start):
		p.fail(c, quietpager.Errorf(quietpager.Invalid, "that shift is over (it ended %s)", flashTime(end, r.TimeZone)))
		return
	case end.Sub(start) > maxShiftRange:
		p.fail(c, quietpager.Errorf(quietpager.Invalid, "an override from the web page may last at most %s", humanDuration(maxShiftRange)))
		return
	}
	covered := r.OnCall(start, ovs)
	if covered.Person == person && !covered.End.Before(end) {
		back(c, rotationPath(r.Name), fmt.Sprintf("%s is already on call until %s", person, flashTime(covered.End, r.TimeZone)))
		return
	}
	o, err := store.CreateOverride(ctx, rotation.Override{Rotation: r.Name, Person: person, Start: start, End: end, CreatedBy: actor(c)})
	if err != nil {
		p.fail(c, err)
		return
	}
	if err := record(c, audit, t, "rotation", r.Name, action, fmt.Sprintf("override %d: %s covers %s from %s until %s",
		o.ID, person, covered.Person, flashTime(start, r.TimeZone), flashTime(end, r.TimeZone))); err != nil {
		p.fail(c, err)
		return
	}
	back(c, rotationPath(r.Name), fmt.Sprintf("%s covers %s until %s", person, covered.Person, flashTime(end, r.TimeZone)))
}

// coverer is who covers: the user's own person, or for a user without one
// (an admin) the team member the form names.
func coverer(c *gin.Context, cfg rotation.Config, r rotation.Rotation) (string, error) {
	if s, _ := sessionOf(c); s.User.Person != "" {
		return s.User.Person, nil
	}
	team, _ := teamNamed(cfg, r.Team)
	person := c.PostForm("person")
	if !slices.Contains(team.Members, person) {
		return "", quietpager.Errorf(quietpager.Invalid, "pick who covers: one of team %s's members (%s), not %q",
			team.Name, strings.Join(team.Members, ", "), person)
	}
	return person, nil
}

// handleRemoveOverride deletes an override; it is recorded under its
// rotation.
func handleRemoveOverride(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.NotFound, "no override %q", c.Param("id")))
			return
		}
		o, err := store.Override(ctx, id)
		if err != nil {
			p.fail(c, err)
			return
		}
		cfg, err := store.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		r, _ := rotationIn(cfg, o.Rotation)
		loc := r.TimeZone
		if loc == nil {
			loc = time.UTC
		}
		if !mayEdit(c, p, cfg, r.Team) {
			return
		}
		if err := store.DeleteOverride(ctx, id); err != nil {
			p.fail(c, err)
			return
		}
		line := fmt.Sprintf("%s's override from %s to %s", o.Person, flashTime(o.Start, loc), flashTime(o.End, loc))
		if err := record(c, audit, now(), "rotation", o.Rotation, "remove override",
			fmt.Sprintf("override %d, %s, made by %s", o.ID, line, o.CreatedBy)); err != nil {
			p.fail(c, err)
			return
		}
		back(c, rotationPath(o.Rotation), "Removed "+line)
	}
}

// handleReorder puts a rotation's members in a new order: move=up|down
// with member moves one person by one place; otherwise order lists them
// all, separated by commas or spaces.
func handleReorder(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, r, ok := editableRotation(c, p, store)
		if !ok {
			return
		}
		members, err := reordered(r.Members, c.PostForm("move"), c.PostForm("member"), c.PostForm("order"))
		if err != nil {
			p.fail(c, err)
			return
		}
		if err := store.SetRotationMembers(c.Request.Context(), r.Name, members); err != nil {
			p.fail(c, err)
			return
		}
		line := fmt.Sprintf("%s → %s", strings.Join(r.Members, ", "), strings.Join(members, ", "))
		if err := record(c, audit, now(), "rotation", r.Name, "reorder members", line); err != nil {
			p.fail(c, err)
			return
		}
		back(c, rotationPath(r.Name), "Members reordered: "+strings.Join(members, ", "))
	}
}

// reordered is the member list a reorder form asks for. Whether it is a
// permutation of the members is for the store to check, against what it
// holds.
func reordered(members []string, move, member, order string) ([]string, error) {
	if move == "" {
		return strings.FieldsFunc(order, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }), nil
	}
	i := slices.Index(members, member)
	j := i - 1
	if move == "down" {
		j = i + 1
	}
	if i < 0 || (move != "up" && move != "down") || j < 0 || j >= len(members) {
		return nil, quietpager.Errorf(quietpager.Invalid, "cannot move %q %s in %s", member, move, strings.Join(members, ", "))
	}
	out := slices.Clone(members)
	out[i], out[j] = out[j], out[i]
	return out, nil
}

// handleChangeShift changes a rotation's shift length, handoff time and
// time zone. The first handoff keeps its calendar date (in the old zone),
// so the rotation keeps its phase; only its wall time and zone move.
func handleChangeShift(p *pages, store OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, r, ok := editableRotation(c, p, store)
		if !ok {
			return
		}
		shift, err := rotation.ParseShift(c.PostForm("shift"))
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "%v", err))
			return
		}
		zone, err := rotation.LoadZone(strings.TrimSpace(c.PostForm("time_zone")))
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "%v", err))
			return
		}
		handoff, err := time.Parse("15:04", strings.TrimSpace(c.PostForm("handoff")))
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "the handoff time must be a wall time such as 09:00, not %q", c.PostForm("handoff")))
			return
		}
		y, m, d := r.Start.In(r.TimeZone).Date()
		start, ok := rotation.ExactWall(time.Date(y, m, d, handoff.Hour(), handoff.Minute(), 0, 0, time.UTC), zone)
		if !ok {
			p.fail(c, quietpager.Errorf(quietpager.Invalid,
				"%s on %s does not exist in %s (the clocks skip it for daylight saving); pick another hour",
				handoff.Format("15:04"), start.Format("2 Jan 2006"), zone))
			return
		}
		if err := store.SetRotationShift(c.Request.Context(), r.Name, shift, start, zone); err != nil {
			p.fail(c, err)
			return
		}
		line := fmt.Sprintf("shift %s, handoff %s %s", shift.String(), handoff.Format("15:04"), zone)
		if err := record(c, audit, now(), "rotation", r.Name, "change shift",
			fmt.Sprintf("was shift %s, handoff %s %s; now %s", r.Shift.String(), r.Start.In(r.TimeZone).Format("15:04"), r.TimeZone, line)); err != nil {
			p.fail(c, err)
			return
		}
		back(c, rotationPath(r.Name), "Shift changed: "+line)
	}
}
