package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/web/account"
	"github.com/quietpager/quietpager/web/account/sqlstore"
)

func TestCalendarFeeds(t *testing.T) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

		token, alice, err := s.CreateFeed(ctx, account.PersonFeed, "alice", "alice", now)
		if err != nil {
			t.Fatal(err)
		}
		want := account.Feed{ID: alice.ID, Kind: account.PersonFeed, Subject: "alice", CreatedBy: "alice", Created: now}
		if alice != want {
			t.Errorf("created %+v, want %+v", alice, want)
		}
		otherToken, rot, err := s.CreateFeed(ctx, account.RotationFeed, "payments-primary", "bob", now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if token == otherToken || len(token) < 40 {
			t.Errorf("tokens %q and %q: want long and different", token, otherToken)
		}

		got, err := s.FeedByToken(ctx, token)
		if err != nil || got != alice {
			t.Errorf("FeedByToken = %+v, %v; want %+v", got, err, alice)
		}
		list, err := s.Feeds(ctx)
		if err != nil || len(list) != 2 || list[0] != rot || list[1] != alice {
			t.Errorf("Feeds = %+v, %v; want the rotation feed, then alice's", list, err)
		}

		t.Run("the token is stored hashed", func(t *testing.T) {
			var hashes []string
			if err := db.Gorm.Raw("SELECT token_hash FROM calendar_feeds ORDER BY id").Scan(&hashes).Error; err != nil {
				t.Fatal(err)
			}
			for _, h := range hashes {
				if strings.Contains(h, token) || strings.Contains(h, otherToken) || len(h) != 64 {
					t.Errorf("stored %q: want a SHA-256 hex digest, not the token", h)
				}
			}
			// Whoever reads the table cannot use what they read.
			_, err := s.FeedByToken(ctx, hashes[0])
			wantFeedErr(t, err, quietpager.NotFound)
		})

		t.Run("bad feeds", func(t *testing.T) {
			_, _, err := s.CreateFeed(ctx, "team", "payments", "alice", now)
			wantFeedErr(t, err, quietpager.Invalid)
			_, _, err = s.CreateFeed(ctx, account.PersonFeed, "", "alice", now)
			wantFeedErr(t, err, quietpager.Invalid)
			_, err = s.FeedByToken(ctx, token+"x")
			wantFeedErr(t, err, quietpager.NotFound)
		})

		t.Run("a revoked token no longer resolves", func(t *testing.T) {
			if err := s.RevokeFeed(ctx, alice.ID, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err := s.FeedByToken(ctx, token)
			wantFeedErr(t, err, quietpager.NotFound)
			wantFeedErr(t, s.RevokeFeed(ctx, alice.ID, now.Add(2*time.Hour)), quietpager.NotFound)
			wantFeedErr(t, s.RevokeFeed(ctx, 999999, now), quietpager.NotFound)
			list, err := s.Feeds(ctx)
			if err != nil || len(list) != 1 || list[0] != rot {
				t.Errorf("Feeds after revoking alice's = %+v, %v; want only the rotation feed", list, err)
			}
			if _, err := s.FeedByToken(ctx, otherToken); err != nil {
				t.Errorf("revoking one feed broke another: %v", err)
			}
		})
	})
}

func wantFeedErr(t *testing.T, err error, code quietpager.Code) {
	t.Helper()
	if quietpager.ErrorCode(err) != code {
		t.Errorf("error %v: want code %v", err, code)
	}
}
