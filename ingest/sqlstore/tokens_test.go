package sqlstore_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func create(t *testing.T, s *sqlstore.Tokens, name string, at time.Time) string {
	t.Helper()
	secret, err := s.Create(context.Background(), name, at)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return secret
}

func names(t *testing.T, s *sqlstore.Tokens) []string {
	t.Helper()
	list, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := []string{}
	for _, tok := range list {
		out = append(out, tok.Name)
	}
	return out
}

func hashes(t *testing.T, s *sqlstore.Tokens) map[string]string {
	t.Helper()
	h, err := s.TokenHashes(context.Background())
	if err != nil {
		t.Fatalf("TokenHashes: %v", err)
	}
	return h
}

func wantCode(t *testing.T, err error, code quietpager.Code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want a %s error", what, code)
	}
	if got := quietpager.ErrorCode(err); got != code {
		t.Errorf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

func TestCreateStoresOnlyTheHash(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		secret := create(t, s, "alertmanager-prod", t0)
		other := create(t, s, "alertmanager-staging", t0.Add(time.Minute))
		for _, sec := range []string{secret, other} {
			if !strings.HasPrefix(sec, "qp_") || len(sec) < 40 {
				t.Errorf("secret %q: want qp_ followed by at least 256 random bits", sec)
			}
		}
		if secret == other {
			t.Error("two tokens got the same secret")
		}

		h := hashes(t, s)
		want := map[string]string{
			ingest.HashToken(secret): "alertmanager-prod",
			ingest.HashToken(other):  "alertmanager-staging",
		}
		if !reflect.DeepEqual(h, want) {
			t.Errorf("TokenHashes = %v, want %v", h, want)
		}
		for k, v := range h {
			if k == secret || k == other || strings.Contains(k, "qp_") || strings.Contains(v, "qp_") {
				t.Errorf("TokenHashes holds a secret: %q → %q", k, v)
			}
		}

		// Whoever reads the database must not find a usable token in it.
		rows, err := db.SQL.Query(`SELECT id, name, hash, created_at FROM api_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var (
				id, created int64
				name, hash  string
			)
			if err := rows.Scan(&id, &name, &hash, &created); err != nil {
				t.Fatal(err)
			}
			n++
			row := strings.Join([]string{name, hash}, "|")
			for _, sec := range []string{secret, other} {
				if strings.Contains(row, sec) || strings.Contains(row, strings.TrimPrefix(sec, "qp_")) {
					t.Errorf("api_tokens row %d holds the secret: %q", id, row)
				}
			}
			if hash != ingest.HashToken(secret) && hash != ingest.HashToken(other) {
				t.Errorf("api_tokens row %d: hash %q is not the hash of either secret", id, hash)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("api_tokens has %d rows, want 2", n)
		}
	})
}

func TestCreateRefuses(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		create(t, s, "ci", t0)
		cases := []struct {
			name string
			code quietpager.Code
		}{
			{"ci", quietpager.Conflict},
			{"  ci\t", quietpager.Conflict}, // names are trimmed
			{"", quietpager.Invalid},
			{"   ", quietpager.Invalid},
		}
		for _, c := range cases {
			secret, err := s.Create(context.Background(), c.name, t0.Add(time.Hour))
			wantCode(t, err, c.code, fmt.Sprintf("Create(%q)", c.name))
			if secret != "" {
				t.Errorf("Create(%q) failed but returned a secret", c.name)
			}
			if quietpager.ErrorMessage(err) == "internal error" {
				t.Errorf("Create(%q): the user gets no reason: %v", c.name, err)
			}
		}
		if got := names(t, s); !reflect.DeepEqual(got, []string{"ci"}) {
			t.Errorf("after refused creates, tokens = %v, want [ci]", got)
		}
		if len(hashes(t, s)) != 1 {
			t.Errorf("refused creates left hashes behind: %v", hashes(t, s))
		}
	})
}

func TestListOldestFirst(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		if got := names(t, s); len(got) != 0 {
			t.Fatalf("fresh database lists tokens %v", got)
		}
		create(t, s, "newest", t0.Add(2*time.Hour))
		create(t, s, "oldest", t0)
		create(t, s, "middle-b", t0.Add(time.Hour))
		create(t, s, "middle-a", t0.Add(time.Hour)) // same instant: creation order
		want := []string{"oldest", "middle-b", "middle-a", "newest"}
		if got := names(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("List = %v, want %v", got, want)
		}
		list, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !list[0].Created.Equal(t0) || list[0].Created.Location() != time.UTC {
			t.Errorf("oldest created %v, want %v in UTC", list[0].Created, t0)
		}
	})
}

func TestRevoke(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		s := sqlstore.New(db)
		ctx := context.Background()
		keep := create(t, s, "keep", t0)
		gone := create(t, s, "gone", t0.Add(time.Minute))

		if err := s.Revoke(ctx, "gone"); err != nil {
			t.Fatalf("Revoke(gone): %v", err)
		}
		h := hashes(t, s)
		if _, ok := h[ingest.HashToken(gone)]; ok {
			t.Error("a revoked token's hash is still accepted")
		}
		if h[ingest.HashToken(keep)] != "keep" {
			t.Error("revoking one token removed another")
		}
		if got := names(t, s); !reflect.DeepEqual(got, []string{"keep"}) {
			t.Errorf("List after revoke = %v, want [keep]", got)
		}

		wantCode(t, s.Revoke(ctx, "gone"), quietpager.NotFound, "Revoke(gone) twice")
		wantCode(t, s.Revoke(ctx, "never-existed"), quietpager.NotFound, "Revoke(never-existed)")

		// The name is free again, and the new token is a new secret.
		again := create(t, s, "gone", t0.Add(time.Hour))
		if again == gone {
			t.Error("re-created token reuses the revoked secret")
		}
		if hashes(t, s)[ingest.HashToken(again)] != "gone" {
			t.Error("re-created token is not accepted")
		}
	})
}
