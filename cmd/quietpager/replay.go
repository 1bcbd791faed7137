package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports/replay"
	replaystore "github.com/quietpager/quietpager/reports/replay/sqlstore"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

// replayCmd replays a recorded stream (docs/replay.md) or deletes replayed
// history.
func replayCmd(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	dsn := dbFlag(fs, env)
	del := fs.Bool("delete", false, "delete all replayed history instead of replaying")
	until := fs.String("until", "", "keep running escalations and held pages until this RFC 3339 time (default: the last line's time)")
	const usage = "quietpager replay FILE [--until TIME] [--db DSN] | quietpager replay --delete [--db DSN]"
	want := 1 // the file, unless deleting
	for _, a := range args {
		if a == "--delete" || a == "-delete" || a == "--delete=true" || a == "-delete=true" {
			want = 0
		}
	}
	pos, err := parse(fs, args, want, usage)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if *del {
		d, err := replaystore.New(db).Delete(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %d replays: %d incidents, %d alerts\n", d.Replays, d.Incidents, d.Alerts)
		return nil
	}
	var end time.Time
	if *until != "" {
		if end, err = time.Parse(time.RFC3339, *until); err != nil {
			return quietpager.Errorf(quietpager.Invalid, "--until must be an RFC 3339 time: %v", err)
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := replayStream(ctx, db, f, pos[0], end, log)
	fmt.Fprintf(stdout, "replayed %d lines (%d webhooks, %d alerts, %d actions, %d skipped)",
		res.Lines, res.Webhooks, res.Alerts, res.Actions, res.Skipped)
	if res.Lines > 0 {
		fmt.Fprintf(stdout, " from %s to %s", res.First.Format(time.RFC3339), res.Last.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout)
	return err
}

// replayStream feeds r through the real pipeline (the serve command's
// pieces) under a simulated clock: the decoded webhooks into the incident
// store with the on-call routes, pages and escalations through the pager's
// River workers on their own queue, deliveries through stand-ins that
// record instead of sending. The replay and every incident it opens are
// marked, and what was replayed stays committed when a line is bad.
func replayStream(ctx context.Context, db *migrations.DB, r io.Reader, source string, until time.Time, log *slog.Logger) (replay.Result, error) {
	replays := replaystore.New(db)
	id, err := replays.Begin(ctx, source, time.Now())
	if err != nil {
		return replay.Result{}, err
	}
	res, err := runReplay(ctx, db, replays, id, r, until, log)
	failure := ""
	if err != nil {
		failure = quietpager.ErrorMessage(err)
	}
	if ferr := replays.Finish(context.WithoutCancel(ctx), id, res.Lines, res.First, res.Last, time.Now(), failure); ferr != nil && err == nil {
		err = ferr
	}
	return res, err
}

func runReplay(ctx context.Context, db *migrations.DB, replays *replaystore.Store, id int64, r io.Reader,
	until time.Time, log *slog.Logger) (res replay.Result, err error) {
	oncall := rotationstore.New(db)
	routes := &paging.Routes{Store: oncall, Defaults: dedupe.DefaultPolicy, Logger: log}
	if err := routes.Refresh(ctx); err != nil {
		return res, err
	}
	clock := &replay.Clock{}
	pager := paging.New(paging.Options{OnCall: oncall, Slack: replay.Slack{}, Mail: replay.Mail{}, Webhook: replay.Webhook{},
		ExternalURL: "http://localhost:8080", Now: clock.Now, Logger: log, Queue: replay.Queue})
	store := dedupestore.New(db, dedupestore.Options{Policies: routes,
		OnIncidents: replays.Marker(id, pager.Schedule), OnTransition: pager.Transitioned})
	pager.SetIncidents(store)
	workers := river.NewWorkers()
	pager.Register(workers)
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		// One worker: jobs due at the same instant run in a fixed order,
		// so that a replay gives the same rows every time.
		Queues:            map[string]river.QueueConfig{replay.Queue: {MaxWorkers: 1}},
		Workers:           workers,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 2 * time.Millisecond,
		RetryPolicy:       paging.Backoff{Base: 15 * time.Second},
		// River's leader election sees simulated time jump and complains.
		Logger:     slog.New(slog.DiscardHandler),
		Test:       river.TestConfig{Time: clock},
		Middleware: []rivertype.Middleware{&replay.CompleteAtOnce{DB: db.SQL}},
	})
	if err != nil {
		return res, fmt.Errorf("job queue: %w", err)
	}
	pager.SetClient(client)
	jobs := &replay.RiverJobs{Client: client}
	defer func() {
		stopCtx := context.WithoutCancel(ctx)
		if cerr := jobs.CancelWaiting(stopCtx); cerr != nil && err == nil {
			err = cerr
		}
		stopCtx, cancel := context.WithTimeout(stopCtx, shutdownGrace)
		defer cancel()
		if serr := jobs.Stop(stopCtx); serr != nil && err == nil {
			err = serr
		}
	}()
	driver := replay.New(replay.Options{Clock: clock, Writer: store, Actions: store,
		Finder: replaystore.Run{Store: replays, ID: id, Policies: routes}, Maintain: store, MaintainEvery: maintenanceInterval,
		Jobs: jobs, Until: until, Logger: log})
	return driver.Run(ctx, replay.NewReader(r))
}
