// Package sqlstore keeps webhook and API tokens in the SQL database. Only a
// hash of each token is stored.
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
)

// Tokens reads and writes the token table.
type Tokens struct {
	db *gorm.DB
}

// New returns a token store on db.
func New(db *migrations.DB) *Tokens { return &Tokens{db: db.Gorm} }

type apiToken struct {
	ID        int64
	Name      string
	Hash      string
	CreatedAt int64 `gorm:"autoCreateTime:false"`
}

// Token is a token as listed: never its secret.
type Token = ingest.Token

// Create stores a new token under name and returns its secret, which is
// shown once and never again.
func (t *Tokens) Create(ctx context.Context, name string, now time.Time) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", quietpager.Errorf(quietpager.Invalid, "a token needs a name (--name)")
	}
	secret, hash := ingest.NewToken()
	err := t.db.WithContext(ctx).Create(&apiToken{Name: name, Hash: hash, CreatedAt: now.UnixMicro()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) || (err != nil && strings.Contains(strings.ToLower(err.Error()), "unique")) {
		return "", quietpager.Errorf(quietpager.Conflict, "a token named %q already exists", name)
	}
	if err != nil {
		return "", unavailable(err)
	}
	return secret, nil
}

// List returns every token, oldest first.
func (t *Tokens) List(ctx context.Context) ([]Token, error) {
	var rows []apiToken
	if err := t.db.WithContext(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, unavailable(err)
	}
	out := make([]Token, 0, len(rows))
	for _, r := range rows {
		out = append(out, Token{Name: r.Name, Created: time.UnixMicro(r.CreatedAt).UTC()})
	}
	return out, nil
}

// Revoke deletes the token called name.
func (t *Tokens) Revoke(ctx context.Context, name string) error {
	res := t.db.WithContext(ctx).Where("name = ?", name).Delete(&apiToken{})
	if res.Error != nil {
		return unavailable(res.Error)
	}
	if res.RowsAffected == 0 {
		return quietpager.Errorf(quietpager.NotFound, "no token named %q", name)
	}
	return nil
}

// TokenHashes maps each token's hash to its name.
func (t *Tokens) TokenHashes(ctx context.Context) (map[string]string, error) {
	var rows []apiToken
	if err := t.db.WithContext(ctx).Select("name", "hash").Find(&rows).Error; err != nil {
		return nil, unavailable(err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Hash] = r.Name
	}
	return out, nil
}

func unavailable(err error) error {
	return quietpager.Wrap(quietpager.Unavailable, err, "the token store is unavailable")
}
