// Package sqlstore keeps users, sessions, the audit log and calendar feeds
// in the SQL database. Session and feed tokens are stored as hashes only.
package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/web/account"
)

// Store reads and writes the account tables.
type Store struct {
	db *gorm.DB
}

// New returns a store on db.
func New(db *migrations.DB) *Store { return &Store{db: db.Gorm} }

type userRow struct {
	ID           int64
	Name         string
	Role         string
	Person       string
	PasswordHash string
	CreatedAt    int64 `gorm:"autoCreateTime:false"`
}

func (userRow) TableName() string { return "users" }

func (r userRow) user() account.User {
	return account.User{ID: r.ID, Name: r.Name, Role: account.Role(r.Role), Person: r.Person,
		Created: time.UnixMicro(r.CreatedAt).UTC()}
}

func unavailable(err error) error {
	return quietpager.Wrap(quietpager.Unavailable, err, "the account store is unavailable")
}

func duplicate(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || (err != nil && strings.Contains(strings.ToLower(err.Error()), "unique"))
}

// AddUser creates a user. person links a member to oncall.yaml's people.
func (s *Store) AddUser(ctx context.Context, name string, role account.Role, person, password string, now time.Time) (account.User, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return account.User{}, quietpager.Errorf(quietpager.Invalid, "a user needs a name")
	}
	if _, err := account.ParseRole(string(role)); err != nil {
		return account.User{}, err
	}
	if role == account.Member && person == "" {
		return account.User{}, quietpager.Errorf(quietpager.Invalid,
			"a member needs --person: the name in oncall.yaml whose teams they may change")
	}
	hash, err := account.HashPassword(password)
	if err != nil {
		return account.User{}, err
	}
	row := userRow{Name: name, Role: string(role), Person: person, PasswordHash: hash, CreatedAt: now.UnixMicro()}
	err = s.db.WithContext(ctx).Create(&row).Error
	if duplicate(err) {
		return account.User{}, quietpager.Errorf(quietpager.Conflict, "a user named %q already exists", name)
	}
	if err != nil {
		return account.User{}, unavailable(err)
	}
	return row.user(), nil
}

// SetPassword changes a user's password and ends all of their sessions.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row userRow
		if err := findUser(tx, name, &row); err != nil {
			return err
		}
		if err := tx.Model(&row).Update("password_hash", hash).Error; err != nil {
			return unavailable(err)
		}
		if err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", row.ID).Error; err != nil {
			return unavailable(err)
		}
		return nil
	})
}

func findUser(tx *gorm.DB, name string, row *userRow) error {
	err := tx.Where("name = ?", name).Take(row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return quietpager.Errorf(quietpager.NotFound, "no user named %q", name)
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]account.User, error) {
	var rows []userRow
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, unavailable(err)
	}
	out := make([]account.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.user())
	}
	return out, nil
}

// DeleteUser removes a user and their sessions. The last admin cannot be
// deleted: somebody must be left who can manage users in the web UI.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row userRow
		if err := findUser(tx, name, &row); err != nil {
			return err
		}
		if err := keepAnAdmin(tx, row, ""); err != nil {
			return err
		}
		// The foreign key cascades too; deleting the sessions here does not
		// depend on SQLite's foreign_keys pragma being on.
		if err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", row.ID).Error; err != nil {
			return unavailable(err)
		}
		if err := tx.Delete(&row).Error; err != nil {
			return unavailable(err)
		}
		return nil
	})
}

// SetRole changes a user's role and person. Their sessions stay: a session
// reads the role afresh on every request. The last admin cannot lose the
// role.
func (s *Store) SetRole(ctx context.Context, name string, role account.Role, person string) (account.User, error) {
	if _, err := account.ParseRole(string(role)); err != nil {
		return account.User{}, err
	}
	person = strings.TrimSpace(person)
	if role == account.Member && person == "" {
		return account.User{}, quietpager.Errorf(quietpager.Invalid,
			"a member needs a person: the name in oncall.yaml whose teams they may change")
	}
	var row userRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := findUser(tx, name, &row); err != nil {
			return err
		}
		if err := keepAnAdmin(tx, row, role); err != nil {
			return err
		}
		row.Role, row.Person = string(role), person
		if err := tx.Model(&row).Updates(map[string]any{"role": row.Role, "person": row.Person}).Error; err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		return account.User{}, err
	}
	return row.user(), nil
}

// keepAnAdmin refuses to turn row into role (deleting it when role is "")
// when it is the only admin left.
func keepAnAdmin(tx *gorm.DB, row userRow, role account.Role) error {
	if row.Role != string(account.Admin) || role == account.Admin {
		return nil
	}
	var others int64
	if err := tx.Model(&userRow{}).Where("role = ? AND id <> ?", account.Admin, row.ID).Count(&others).Error; err != nil {
		return unavailable(err)
	}
	if others == 0 {
		return quietpager.Errorf(quietpager.Conflict, "%s is the last admin; make another user admin first", row.Name)
	}
	return nil
}

type sessionRow struct {
	TokenHash string `gorm:"primaryKey"`
	UserID    int64
	CSRF      string `gorm:"column:csrf"`
	CreatedAt int64  `gorm:"autoCreateTime:false"`
	ExpiresAt int64
}

func (sessionRow) TableName() string { return "sessions" }

// dummyHash is checked against when the user does not exist, so that a
// wrong name takes as long as a wrong password.
var dummyHash, _ = account.HashPassword("not a password of anyone")

// Login checks name and password and opens a session lasting ttl. A wrong
// name and a wrong password get the same answer.
func (s *Store) Login(ctx context.Context, name, password string, now time.Time, ttl time.Duration) (string, account.Session, error) {
	var row userRow
	err := findUser(s.db.WithContext(ctx), name, &row)
	if quietpager.ErrorCode(err) == quietpager.NotFound {
		account.CheckPassword(dummyHash, password)
		return "", account.Session{}, quietpager.Errorf(quietpager.Unauthorized, "wrong user name or password")
	}
	if err != nil {
		return "", account.Session{}, err
	}
	if !account.CheckPassword(row.PasswordHash, password) {
		return "", account.Session{}, quietpager.Errorf(quietpager.Unauthorized, "wrong user name or password")
	}
	token, hash := ingest.NewToken()
	csrf, _ := ingest.NewToken()
	sess := sessionRow{TokenHash: hash, UserID: row.ID, CSRF: csrf, CreatedAt: now.UnixMicro(), ExpiresAt: now.Add(ttl).UnixMicro()}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Expired sessions go when anyone logs in: no separate sweeper.
		if err := tx.Exec("DELETE FROM sessions WHERE expires_at <= ?", now.UnixMicro()).Error; err != nil {
			return err
		}
		return tx.Create(&sess).Error
	})
	if err != nil {
		return "", account.Session{}, unavailable(err)
	}
	return token, account.Session{User: row.user(), CSRF: csrf, Expires: now.Add(ttl).UTC()}, nil
}

// Session returns the live session of token.
func (s *Store) Session(ctx context.Context, token string, now time.Time) (account.Session, error) {
	var rows []struct {
		CSRF      string `gorm:"column:csrf"`
		ExpiresAt int64
		ID        int64
		Name      string
		Role      string
		Person    string
		CreatedAt int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT s.csrf, s.expires_at, u.id, u.name, u.role, u.person, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?`,
		ingest.HashToken(token), now.UnixMicro()).Scan(&rows).Error
	if err != nil {
		return account.Session{}, unavailable(err)
	}
	if len(rows) == 0 {
		return account.Session{}, quietpager.Errorf(quietpager.Unauthorized, "not logged in, or the session has expired")
	}
	r := rows[0]
	u := userRow{ID: r.ID, Name: r.Name, Role: r.Role, Person: r.Person, CreatedAt: r.CreatedAt}
	return account.Session{User: u.user(), CSRF: r.CSRF, Expires: time.UnixMicro(r.ExpiresAt).UTC()}, nil
}

// Logout ends the session of token.
func (s *Store) Logout(ctx context.Context, token string) error {
	if err := s.db.WithContext(ctx).Exec("DELETE FROM sessions WHERE token_hash = ?", ingest.HashToken(token)).Error; err != nil {
		return unavailable(err)
	}
	return nil
}
