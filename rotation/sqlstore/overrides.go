package sqlstore

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// CreateOverride puts o.Person on call for o.Rotation from o.Start to
// o.End and returns it with its ID. Overrides may overlap each other; the
// on-call math decides which wins. Times are kept to the microsecond.
func (s *Store) CreateOverride(ctx context.Context, o rotation.Override) (rotation.Override, error) {
	o.Rotation, o.Person, o.CreatedBy = strings.TrimSpace(o.Rotation), strings.TrimSpace(o.Person), strings.TrimSpace(o.CreatedBy)
	switch {
	case o.Rotation == "":
		return rotation.Override{}, quietpager.Errorf(quietpager.Invalid, "an override needs a rotation")
	case o.Person == "":
		return rotation.Override{}, quietpager.Errorf(quietpager.Invalid, "an override needs a person")
	case o.CreatedBy == "":
		return rotation.Override{}, quietpager.Errorf(quietpager.Invalid, "an override needs to say who made it")
	case o.Start.IsZero() || o.End.IsZero():
		return rotation.Override{}, quietpager.Errorf(quietpager.Invalid, "an override needs a start and an end")
	}
	o.Start, o.End = fromMicros(micros(o.Start)), fromMicros(micros(o.End))
	if !o.End.After(o.Start) {
		return rotation.Override{}, quietpager.Errorf(quietpager.Invalid, "an override must end after it starts (%s to %s)",
			o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339))
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		rotationID, err := idOf(tx, "rotations", "rotation", o.Rotation)
		if err != nil {
			return err
		}
		personID, err := idOf(tx, "people", "person", o.Person)
		if err != nil {
			return err
		}
		return tx.Raw(`INSERT INTO overrides (rotation_id, person_id, starts_at, ends_at, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			rotationID, personID, micros(o.Start), micros(o.End), o.CreatedBy, micros(s.now())).Scan(&o.ID).Error
	})
	if err != nil {
		return rotation.Override{}, fail(err, "create the override")
	}
	return o, nil
}

// idOf returns the id of the row of table named name, or NotFound.
func idOf(tx *gorm.DB, table, kind, name string) (int64, error) {
	var ids []int64
	if err := tx.Raw(`SELECT id FROM `+table+` WHERE name = ?`, name).Scan(&ids).Error; err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, quietpager.Errorf(quietpager.NotFound, "no %s named %q", kind, name)
	}
	return ids[0], nil
}

// DeleteOverride deletes the override with id, or answers NotFound.
func (s *Store) DeleteOverride(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM overrides WHERE id = ?`, id)
	if res.Error != nil {
		return fail(res.Error, "delete the override")
	}
	if res.RowsAffected == 0 {
		return quietpager.Errorf(quietpager.NotFound, "no override %d", id)
	}
	return nil
}

// Overrides lists the overrides of rotation (every rotation's, when
// rotation is "") that overlap [from, to): starting before to and ending
// after from. They come ordered by start, then ID, with times in UTC. An
// unknown rotation is NotFound, so that a typo does not read as "no
// overrides".
func (s *Store) Overrides(ctx context.Context, rotationName string, from, to time.Time) ([]rotation.Override, error) {
	if !to.After(from) {
		return nil, quietpager.Errorf(quietpager.Invalid, "the range must end after it starts")
	}
	var out []rotation.Override
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := `SELECT o.id, r.name, p.name, o.starts_at, o.ends_at, o.created_by
			FROM overrides o JOIN rotations r ON r.id = o.rotation_id JOIN people p ON p.id = o.person_id
			WHERE o.starts_at < ? AND o.ends_at > ?`
		args := []any{micros(to), micros(from)}
		if rotationName != "" {
			id, err := idOf(tx, "rotations", "rotation", rotationName)
			if err != nil {
				return err
			}
			q += ` AND o.rotation_id = ?`
			args = append(args, id)
		}
		return scanRows(tx, q+` ORDER BY o.starts_at, o.id`, func(scan func(...any) error) error {
			var (
				o          rotation.Override
				start, end int64
			)
			if err := scan(&o.ID, &o.Rotation, &o.Person, &start, &end, &o.CreatedBy); err != nil {
				return err
			}
			o.Start, o.End = fromMicros(start), fromMicros(end)
			out = append(out, o)
			return nil
		}, args...)
	})
	if err != nil {
		return nil, fail(err, "read overrides")
	}
	return out, nil
}
