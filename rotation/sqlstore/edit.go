package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// Edits made one rotation at a time, by people through the web UI, as
// opposed to Apply, which writes the whole configuration from the file.
// The next Apply makes the rotation match the file again: an edit here
// lasts until then.

// Override returns the override with id, or NotFound.
func (s *Store) Override(ctx context.Context, id int64) (rotation.Override, error) {
	var (
		o          rotation.Override
		start, end int64
		found      bool
	)
	err := scanRows(s.db.WithContext(ctx), `SELECT o.id, r.name, p.name, o.starts_at, o.ends_at, o.created_by
		FROM overrides o JOIN rotations r ON r.id = o.rotation_id JOIN people p ON p.id = o.person_id
		WHERE o.id = ?`, func(scan func(...any) error) error {
		found = true
		return scan(&o.ID, &o.Rotation, &o.Person, &start, &end, &o.CreatedBy)
	}, id)
	if err != nil {
		return rotation.Override{}, fail(err, "read the override")
	}
	if !found {
		return rotation.Override{}, quietpager.Errorf(quietpager.NotFound, "no override %d", id)
	}
	o.Start, o.End = fromMicros(start), fromMicros(end)
	return o, nil
}

// SetRotationMembers puts the members of rotation name in a new handoff
// order. members must be the rotation's current members, each once, in
// any order: reordering never adds or removes anyone (apply does that).
// Anything else is Invalid and changes nothing; checking against the
// stored members inside the transaction also refuses a form sent from a
// page that was out of date.
func (s *Store) SetRotationMembers(ctx context.Context, name string, members []string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		id, err := idOf(tx, "rotations", "rotation", name)
		if err != nil {
			return err
		}
		var cur []struct {
			PersonID int64
			Name     string
		}
		if err := tx.Raw(`SELECT m.person_id, p.name FROM rotation_members m JOIN people p ON p.id = m.person_id
			WHERE m.rotation_id = ? ORDER BY m.position`, id).Scan(&cur).Error; err != nil {
			return err
		}
		ids := map[string]int64{}
		var have []string
		for _, m := range cur {
			ids[m.Name] = m.PersonID
			have = append(have, m.Name)
		}
		if !samePeople(have, members) {
			return quietpager.Errorf(quietpager.Invalid,
				"the new order (%s) must list the rotation's members (%s), each once; reload the page if someone changed them",
				strings.Join(members, ", "), strings.Join(have, ", "))
		}
		if err := tx.Exec(`DELETE FROM rotation_members WHERE rotation_id = ?`, id).Error; err != nil {
			return err
		}
		for pos, n := range members {
			if err := tx.Exec(`INSERT INTO rotation_members (rotation_id, position, person_id) VALUES (?, ?, ?)`,
				id, pos, ids[n]).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return fail(err, "reorder the rotation's members")
}

// samePeople reports whether b is a permutation of a.
func samePeople(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// SetRotationShift changes how rotation name hands off: the shift length,
// the first handoff (start, whose wall time in zone is the handoff time of
// a Shift.Days rotation) and the time zone. A shift must be a positive
// number of days or a positive duration, not both, and zone a real IANA
// zone; anything else is Invalid and changes nothing.
func (s *Store) SetRotationShift(ctx context.Context, name string, shift rotation.Shift, start time.Time, zone *time.Location) error {
	switch {
	case (shift.Days > 0) == (shift.Duration > 0) || shift.Days < 0 || shift.Duration < 0:
		return quietpager.Errorf(quietpager.Invalid, "a shift is a positive number of days or a positive duration")
	case zone == nil || zone.String() == "Local":
		return quietpager.Errorf(quietpager.Invalid, "a rotation needs an IANA time zone such as Europe/Berlin")
	case start.IsZero():
		return quietpager.Errorf(quietpager.Invalid, "a rotation needs a start: its first handoff")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		id, err := idOf(tx, "rotations", "rotation", name)
		if err != nil {
			return err
		}
		return tx.Exec(`UPDATE rotations SET shift_days = ?, shift_us = ?, starts_at = ?, time_zone = ? WHERE id = ?`,
			shift.Days, durMicros(shift.Duration), micros(start), zone.String(), id).Error
	})
	return fail(err, "change the rotation's shift")
}
