package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/ingest/heartbeat"
	ingeststore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports"
	"github.com/quietpager/quietpager/reports/replay"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// tokenTTL is how long a server trusts its copy of the token table.
const tokenTTL = 5 * time.Second

// maintenanceInterval is how often flap scores decay and quiet periods end.
const maintenanceInterval = 15 * time.Second

// minRetention keeps the five weeks the weekly report compares.
const minRetention = 35 * 24 * time.Hour

// deadLetterRetention is how long a page that gave up stays replayable.
const deadLetterRetention = 30 * 24 * time.Hour

// rescueStuckJobs is how long a job may run before another replica
// assumes its worker died and runs it again.
const rescueStuckJobs = 5 * time.Minute

// shutdownGrace bounds how long in-flight webhooks may take to commit on
// SIGTERM.
const shutdownGrace = 30 * time.Second

func serve(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	dsn := dbFlag(fs, env)
	listen := fs.String("listen", env.str("QUIETPAGER_LISTEN", ":8080"),
		"address to listen on (env QUIETPAGER_LISTEN)")
	autoMigrate := fs.Bool("migrate", env.bool("QUIETPAGER_MIGRATE", true),
		"apply pending migrations on start (env QUIETPAGER_MIGRATE)")
	maxBody := fs.Int64("max-body", env.int64("QUIETPAGER_MAX_BODY", 4<<20),
		"largest webhook body accepted, in bytes (env QUIETPAGER_MAX_BODY)")
	rateLimit := fs.Float64("rate-limit", env.float("QUIETPAGER_RATE_LIMIT", 10000),
		"webhook requests per second allowed per token, 0 for no limit (env QUIETPAGER_RATE_LIMIT)")
	rateBurst := fs.Int("rate-burst", int(env.int64("QUIETPAGER_RATE_BURST", 20000)),
		"requests a token may send at once above its rate (env QUIETPAGER_RATE_BURST)")
	reopen := fs.Duration("reopen-window", env.duration("QUIETPAGER_REOPEN_WINDOW", dedupe.DefaultPolicy.ReopenWindow),
		"an alert firing again this soon after its incident resolved reopens it (env QUIETPAGER_REOPEN_WINDOW)")
	flapTau := fs.Duration("flap-tau", env.duration("QUIETPAGER_FLAP_TAU", flap.Defaults.Tau),
		"flap score decay time constant (env QUIETPAGER_FLAP_TAU)")
	flapHigh := fs.Float64("flap-high", env.float("QUIETPAGER_FLAP_HIGH", flap.Defaults.High),
		"flap score at which an alert starts flapping (env QUIETPAGER_FLAP_HIGH)")
	flapLow := fs.Float64("flap-low", env.float("QUIETPAGER_FLAP_LOW", flap.Defaults.Low),
		"flap score below which a flapping alert stops (env QUIETPAGER_FLAP_LOW)")
	flapQuiet := fs.Duration("flap-quiet", env.duration("QUIETPAGER_FLAP_QUIET", flap.Defaults.Quiet),
		"how long an incident stays open after its alert stops flapping (env QUIETPAGER_FLAP_QUIET)")
	channels := addChannelFlags(fs, env)
	weeklyReports := fs.Bool("weekly-reports", env.bool("QUIETPAGER_WEEKLY_REPORTS", true),
		"send every team's weekly report on Monday 09:00 in its zone (env QUIETPAGER_WEEKLY_REPORTS)")
	slackSecret := fs.String("slack-signing-secret", env.str("QUIETPAGER_SLACK_SIGNING_SECRET", ""),
		"Slack app signing secret; with the bot token it turns on /slack/commands and /slack/interactions (env QUIETPAGER_SLACK_SIGNING_SECRET)")
	slackCommand := fs.String("slack-command", env.str("QUIETPAGER_SLACK_COMMAND", "/oncall"),
		"name of the slash command, as set up in the Slack app (env QUIETPAGER_SLACK_COMMAND)")
	amURL := fs.String("alertmanager-url", env.str("QUIETPAGER_ALERTMANAGER_URL", ""),
		"Alertmanager base URL for silences; empty: no silences (env QUIETPAGER_ALERTMANAGER_URL)")
	amUser := fs.String("alertmanager-username", env.str("QUIETPAGER_ALERTMANAGER_USERNAME", ""),
		"Alertmanager basic auth user; the password only from QUIETPAGER_ALERTMANAGER_PASSWORD (env QUIETPAGER_ALERTMANAGER_USERNAME)")
	maxSilence := fs.Duration("max-silence", env.duration("QUIETPAGER_MAX_SILENCE", 24*time.Hour),
		"longest silence Slack may create (env QUIETPAGER_MAX_SILENCE)")
	retryBase := fs.Duration("page-retry", env.duration("QUIETPAGER_PAGE_RETRY", 15*time.Second),
		"first retry delay of a failed page, doubling each attempt (env QUIETPAGER_PAGE_RETRY)")
	retention := fs.Duration("retention", env.duration("QUIETPAGER_RETENTION", 400*24*time.Hour),
		"how long resolved incidents, their episodes and alerts are kept; 0 keeps everything (env QUIETPAGER_RETENTION)")
	sessionTTL := fs.Duration("session-ttl", env.duration("QUIETPAGER_SESSION_TTL", 12*time.Hour),
		"how long a web UI login lasts (env QUIETPAGER_SESSION_TTL)")
	logLevel := fs.String("log-level", env.str("QUIETPAGER_LOG_LEVEL", "info"), "debug, info, warn or error (env QUIETPAGER_LOG_LEVEL)")
	demoMode := fs.Bool("demo", false, "load the demo (a month of history, docs/replay.md) into the demo's own database, "+demoDB+" unless --db is given, and serve it")
	record := fs.String("record", env.str("QUIETPAGER_RECORD", ""),
		"append every accepted webhook and every acknowledge/resolve to this file, for quietpager replay (env QUIETPAGER_RECORD)")
	logFormat := fs.String("log-format", env.str("QUIETPAGER_LOG_FORMAT", "text"), "text or json (env QUIETPAGER_LOG_FORMAT)")
	if _, err := parse(fs, args, 0, "quietpager serve [flags]"); err != nil {
		return err
	}
	if *retention != 0 && *retention < minRetention {
		return fmt.Errorf("--retention must be 0 (keep everything) or at least %s: the weekly report compares five weeks", minRetention)
	}
	if *maxSilence < time.Minute {
		return fmt.Errorf("--max-silence must be at least 1m")
	}
	if *maxBody < 1024 {
		return fmt.Errorf("--max-body must be at least 1024 bytes")
	}
	policy := dedupe.Policy{ReopenWindow: *reopen,
		Flap: flap.Options{Tau: *flapTau, High: *flapHigh, Low: *flapLow, Quiet: *flapQuiet}}
	if !policy.Flap.Valid() || *reopen < 0 || *flapQuiet < 0 {
		return fmt.Errorf("flap settings need --flap-tau > 0 and 0 < --flap-low < --flap-high, and durations ≥ 0")
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}

	if *demoMode && !flagGiven(fs, "db") && env("QUIETPAGER_DB") == "" {
		*dsn = demoDB
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if *autoMigrate {
		steps, err := db.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, s := range steps {
			log.Info("applied migration", "version", s.Version, "file", s.Name)
		}
	}

	if *demoMode {
		if !*autoMigrate {
			return fmt.Errorf("--demo needs --migrate")
		}
		if err := loadDemo(ctx, db, time.Now(), stdout, log); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := ingest.NewMetrics(reg)

	writers := 1 // SQLite has one writer whatever we do
	if db.Dialect == migrations.Postgres {
		writers = 2 // measured: more writers make smaller batches and more PostgreSQL work per alert
	}
	oncall := rotationstore.New(db)
	routes := &paging.Routes{Store: oncall, Defaults: policy, Logger: log}
	if err := routes.Refresh(ctx); err != nil {
		// Not fatal: /readyz says what is wrong (migrations pending, say),
		// and the next refresh picks the configuration up.
		log.Warn("load on-call configuration", "err", err)
	}
	go routes.Run(ctx, 10*time.Second)

	ch, err := channels.build(env, reg)
	if err != nil {
		return err
	}
	pager := newPager(ch, oncall, log)
	store := dedupestore.New(db, dedupestore.Options{Policies: routes,
		OnIncidents: pager.Schedule, OnGrown: pager.Grown, OnTransition: pager.Transitioned})
	pager.SetIncidents(store)
	workers := river.NewWorkers()
	pager.Register(workers)
	reportStore := reportstore.New(db)
	reportService := reports.New(reports.Options{History: reportStore, OnCall: oncall, Now: time.Now})
	reg.MustRegister(newReportSends(reportStore))
	var periodic []*river.PeriodicJob
	if *weeklyReports {
		delivery := newDelivery(ch, reportService, db, time.Now)
		delivery.Register(workers)
		periodic = append(periodic, delivery.PeriodicJob())
	}
	jobs, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		PeriodicJobs:      periodic,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		RetryPolicy:       paging.Backoff{Base: *retryBase},
		// Completed and cancelled job rows go after River's default day;
		// discarded ones are the dead letters, kept long enough for a
		// person to see them in a weekly report and replay them.
		DiscardedJobRetentionPeriod: deadLetterRetention,
		// A replica killed in the middle of a page leaves its job
		// running; the survivors take it over after this, not after
		// River's default hour. It must exceed the page job's timeout.
		RescueStuckJobsAfter: rescueStuckJobs,
		Logger:               log.With("component", "jobs"),
	})
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	pager.SetClient(jobs)
	jobsErr := make(chan error, 1)
	go func() { jobsErr <- startJobs(ctx, db, jobs, log) }()
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := jobs.Stop(stopCtx); err != nil {
			log.Warn("stopping the job queue", "err", err)
		}
	}()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quietpager_dead_letters",
		Help: "Page jobs that exhausted their retries and wait to be replayed.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		list, err := pager.DeadLetters(ctx)
		if err != nil {
			return -1
		}
		return float64(len(list))
	}))
	batcher := ingest.NewBatcher(ingest.BatcherOptions{
		Writer: store, Writers: writers, Metrics: metrics, Logger: log,
	})
	batcher.Start()
	defer batcher.Stop()
	var submit web.AlertSubmitter = batcher
	var incidents web.IncidentStore = store
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("--record: %w", err)
		}
		defer f.Close()
		rec := replay.NewRecorder(f, log)
		submit = replay.RecordingSubmitter{Next: batcher, Recorder: rec}
		incidents = replay.RecordingIncidents{IncidentStore: store, Recorder: rec}
	}

	maintainer := &dedupe.Maintainer{Store: store, Interval: maintenanceInterval, Now: time.Now, Logger: log,
		Retention: *retention, OnPrune: metrics.Pruned,
		Observe: func(flapping, open int) {
			metrics.FlappingAlerts.Set(float64(flapping))
			metrics.OpenIncidents.Set(float64(open))
		}}
	maintainer.Start(ctx)
	defer maintainer.Stop()

	heartbeats := heartbeat.New(heartbeat.Options{Config: oncall, Store: store, Submit: batcher,
		Interval: maintenanceInterval, Now: time.Now, Logger: log, Metrics: heartbeat.NewMetrics(reg)})
	heartbeats.Start(ctx)
	defer heartbeats.Stop()

	// One Alertmanager client makes the silences of the Slack bot and the web UI.
	var silencer integrations.Silencer
	if *amURL != "" {
		silencer = integrations.NewAlertmanager(integrations.AlertmanagerOptions{URL: *amURL,
			Username: *amUser, Password: env.str("QUIETPAGER_ALERTMANAGER_PASSWORD", ""), Metrics: ch.metrics})
	}
	var bot web.SlackBot
	slackClient := ch.slack
	if (slackClient == nil) != (*slackSecret == "") {
		log.Warn("the Slack bot needs both --slack-bot-token and --slack-signing-secret; /slack/commands and /slack/interactions are off")
	}
	if slackClient != nil && *slackSecret != "" {
		b := newSlackBot(slackBotSettings{command: *slackCommand, externalURL: ch.externalURL, maxSilence: *maxSilence,
			silencer: silencer},
			slackClient, store, oncall, reportService, log)
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			b.Stop(stopCtx)
		}()
		bot = b
	}
	accounts := accountstore.New(db)
	webOptions := web.Options{
		Logger:      log,
		Gatherer:    reg,
		Metrics:     metrics,
		Auth:        &ingest.Authenticator{Store: ingeststore.New(db), TTL: tokenTTL, Now: time.Now},
		Limiter:     &ingest.RateLimiter{PerSecond: *rateLimit, Burst: *rateBurst},
		Submit:      submit,
		Alerts:      store,
		Incidents:   incidents,
		OnCall:      oncall,
		DeadLetters: pager,
		Reports:     reportService,
		Accounts:    accounts,
		Audit:       accounts,
		Feeds:       accounts,
		Users:       accounts,
		Tokens:      ingeststore.New(db),
		SessionTTL:  *sessionTTL,
		ExternalURL: ch.externalURL,
		Ready:       ready(db),
		MaxBody:     *maxBody,
		Now:         time.Now,
	}
	webOptions.SlackBot, webOptions.SlackSigningSecret = bot, *slackSecret
	if silencer != nil {
		webOptions.Silencer = &integrations.IncidentSilencer{Alertmanager: silencer, Incidents: store, Max: *maxSilence}
	}
	handler, err := web.New(webOptions)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info("quietpager serving", "addr", ln.Addr().String(), "db", db.Dialect)
	fmt.Fprintf(stdout, "quietpager listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case err := <-jobsErr:
		if err != nil {
			return err
		}
		<-ctx.Done()
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startJobs starts the job queue once the schema is current. A replica
// started before the deploy step ran the migrations waits (and /readyz says
// why) instead of failing.
func startJobs(ctx context.Context, db *migrations.DB, jobs *river.Client[*sql.Tx], log *slog.Logger) error {
	for {
		current, err := db.Current(ctx)
		if err == nil && current {
			if err := jobs.Start(ctx); err != nil {
				return fmt.Errorf("job queue: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
			log.Info("job queue waits for the migrations", "err", err)
		}
	}
}

// ready reports whether the database answers and its schema is current.
func ready(db *migrations.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := db.SQL.PingContext(ctx); err != nil {
			return fmt.Errorf("database unreachable: %w", err)
		}
		current, err := db.Current(ctx)
		if err != nil {
			return fmt.Errorf("database unreachable: %w", err)
		}
		if !current {
			return errors.New("migrations pending: run quietpager migrate up")
		}
		return nil
	}
}

// newPager builds the pager on the delivery channels that are configured.
func newPager(ch deliveryChannels, oncall paging.OnCallStore, log *slog.Logger) *paging.Pager {
	o := paging.Options{OnCall: oncall, ExternalURL: ch.externalURL, Now: time.Now, Logger: log, Webhook: ch.webhook}
	if ch.slack != nil {
		o.Slack = ch.slack
	}
	if ch.mail != nil {
		o.Mail = ch.mail
	}
	return paging.New(o)
}
