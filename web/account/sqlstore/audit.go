package sqlstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/web/account"
)

type auditRow struct {
	ID         int64
	At         int64
	Actor      string
	ObjectKind string
	ObjectID   string
	Action     string
	Detail     string
}

func (auditRow) TableName() string { return "audit_log" }

// Record writes one entry to the audit log.
func (s *Store) Record(ctx context.Context, e account.AuditEntry) error {
	row := auditRow{At: e.At.UnixMicro(), Actor: e.Actor, ObjectKind: e.Kind, ObjectID: e.Object, Action: e.Action, Detail: e.Detail}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return unavailable(err)
	}
	return nil
}

// AuditOf returns the newest limit entries about one object, newest first.
func (s *Store) AuditOf(ctx context.Context, kind, object string, limit int) ([]account.AuditEntry, error) {
	var rows []auditRow
	err := s.db.WithContext(ctx).Where("object_kind = ? AND object_id = ?", kind, object).
		Order("at DESC, id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, unavailable(err)
	}
	return auditEntries(rows), nil
}

// AuditOfKinds returns the newest limit entries about objects of the
// given kinds (every user and token, say), newest first.
func (s *Store) AuditOfKinds(ctx context.Context, limit int, kinds ...string) ([]account.AuditEntry, error) {
	var rows []auditRow
	err := s.db.WithContext(ctx).Where("object_kind IN ?", kinds).
		Order("at DESC, id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, unavailable(err)
	}
	return auditEntries(rows), nil
}

func auditEntries(rows []auditRow) []account.AuditEntry {
	out := make([]account.AuditEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, account.AuditEntry{At: time.UnixMicro(r.At).UTC(), Actor: r.Actor, Kind: r.ObjectKind,
			Object: r.ObjectID, Action: r.Action, Detail: r.Detail})
	}
	return out
}

type feedRow struct {
	ID        int64
	TokenHash string
	Kind      string
	Subject   string
	CreatedBy string
	CreatedAt int64 `gorm:"autoCreateTime:false"`
	RevokedAt *int64
}

func (feedRow) TableName() string { return "calendar_feeds" }

func (r feedRow) feed() account.Feed {
	return account.Feed{ID: r.ID, Kind: account.FeedKind(r.Kind), Subject: r.Subject, CreatedBy: r.CreatedBy,
		Created: time.UnixMicro(r.CreatedAt).UTC()}
}

// CreateFeed makes a calendar feed and returns the token of its address,
// shown once.
func (s *Store) CreateFeed(ctx context.Context, kind account.FeedKind, subject, by string, now time.Time) (string, account.Feed, error) {
	if kind != account.PersonFeed && kind != account.RotationFeed {
		return "", account.Feed{}, quietpager.Errorf(quietpager.Invalid, "a feed is for a person or a rotation, not %q", kind)
	}
	if subject == "" {
		return "", account.Feed{}, quietpager.Errorf(quietpager.Invalid, "a feed needs the %s's name", kind)
	}
	token, hash := ingest.NewToken()
	row := feedRow{TokenHash: hash, Kind: string(kind), Subject: subject, CreatedBy: by, CreatedAt: now.UnixMicro()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", account.Feed{}, unavailable(err)
	}
	return token, row.feed(), nil
}

// FeedByToken returns the live feed whose address carries token.
func (s *Store) FeedByToken(ctx context.Context, token string) (account.Feed, error) {
	var row feedRow
	err := s.db.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL", ingest.HashToken(token)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return account.Feed{}, quietpager.Errorf(quietpager.NotFound, "no such calendar feed, or it was revoked")
	}
	if err != nil {
		return account.Feed{}, unavailable(err)
	}
	return row.feed(), nil
}

// Feeds lists the live feeds, newest first.
func (s *Store) Feeds(ctx context.Context) ([]account.Feed, error) {
	var rows []feedRow
	if err := s.db.WithContext(ctx).Where("revoked_at IS NULL").Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, unavailable(err)
	}
	out := make([]account.Feed, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.feed())
	}
	return out, nil
}

// RevokeFeed turns a feed's address off for good.
func (s *Store) RevokeFeed(ctx context.Context, id int64, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&feedRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now.UnixMicro())
	if res.Error != nil {
		return unavailable(res.Error)
	}
	if res.RowsAffected == 0 {
		return quietpager.Errorf(quietpager.NotFound, "no live calendar feed %d", id)
	}
	return nil
}
