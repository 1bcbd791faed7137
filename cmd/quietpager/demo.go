package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	ingeststore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports/replay/demo"
	replaystore "github.com/quietpager/quietpager/reports/replay/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// demoDB is where the demo keeps its data unless --db says otherwise: its
// own file, so that it never mixes with real data.
const demoDB = "sqlite:quietpager-demo.db"

// demoCmd loads the demo into its database and says how to look at it.
func demoCmd(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dsn := fs.String("db", env.str("QUIETPAGER_DEMO_DB", demoDB), "the demo's database (env QUIETPAGER_DEMO_DB)")
	if _, err := parse(fs, args, 0, "quietpager demo [--db DSN]"); err != nil {
		return err
	}
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := loadDemo(ctx, db, time.Now(), stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "look at it: quietpager serve --db %s\n", *dsn)
	return nil
}

// loadDemo resets the demo: it deletes replayed history, applies the demo's
// on-call configuration and replays its month of history ending at end.
// Running it again gives the same data, moved to the new end.
func loadDemo(ctx context.Context, db *migrations.DB, end time.Time, stdout io.Writer, log *slog.Logger) error {
	started := time.Now()
	if _, err := replaystore.New(db).Delete(ctx); err != nil {
		return err
	}
	cfg, err := rotation.ParseConfig(demo.OnCall, "demo/oncall.yaml")
	if err != nil {
		return err
	}
	if _, err := rotationstore.New(db).Apply(ctx, cfg, false); err != nil {
		return err
	}
	var history bytes.Buffer
	if err := demo.History(&history, end); err != nil {
		return err
	}
	res, err := replayStream(ctx, db, &history, "demo", end, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: %d days of history (%d webhooks, %d alerts, %d actions) replayed in %s\n",
		demo.Days, res.Webhooks, res.Alerts, res.Actions, time.Since(started).Round(100*time.Millisecond))
	// A fresh token each time, so that the demo's API can be read at once.
	tokens := ingeststore.New(db)
	if err := tokens.Revoke(ctx, demoToken); err != nil && quietpager.ErrorCode(err) != quietpager.NotFound {
		return err
	}
	secret, err := tokens.Create(ctx, demoToken, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "read it: curl -H 'Authorization: Bearer %s' 'localhost:8080/api/v1/incidents?limit=20'\n", secret)
	// And a fresh admin login for the web UI.
	password, err := resetDemoUser(ctx, accountstore.New(db))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "see it: http://localhost:8080/ as %s, password %s\n", demoUser, password)
	return nil
}

// demoUser is the web UI admin the demo creates.
const demoUser = "demo"

// resetDemoUser replaces the demo's admin with one with a new random
// password, which it returns.
func resetDemoUser(ctx context.Context, users *accountstore.Store) (string, error) {
	if err := users.DeleteUser(ctx, demoUser); err != nil && quietpager.ErrorCode(err) != quietpager.NotFound {
		return "", err
	}
	secret, _ := ingest.NewToken()
	password := secret[len(secret)-16:] // 16 random URL-safe characters: 96 bits
	if _, err := users.AddUser(ctx, demoUser, account.Admin, "", password, time.Now()); err != nil {
		return "", err
	}
	return password, nil
}

// demoToken names the API token the demo creates.
const demoToken = "demo"
