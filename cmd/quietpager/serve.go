package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/flap"
	"github.com/quietpager/quietpager/ingest"
	ingeststore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/web"
)

// tokenTTL is how long a server trusts its copy of the token table.
const tokenTTL = 5 * time.Second

// maintenanceInterval is how often flap scores decay and quiet periods end.
const maintenanceInterval = 15 * time.Second

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
	logLevel := fs.String("log-level", env.str("QUIETPAGER_LOG_LEVEL", "info"), "debug, info, warn or error (env QUIETPAGER_LOG_LEVEL)")
	logFormat := fs.String("log-format", env.str("QUIETPAGER_LOG_FORMAT", "text"), "text or json (env QUIETPAGER_LOG_FORMAT)")
	if _, err := parse(fs, args, 0, "quietpager serve [flags]"); err != nil {
		return err
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := ingest.NewMetrics(reg)

	writers := 1 // SQLite has one writer whatever we do
	if db.Dialect == migrations.Postgres {
		writers = 4
	}
	store := dedupestore.New(db, dedupestore.Options{Policies: dedupe.StaticPolicy(policy)})
	batcher := ingest.NewBatcher(ingest.BatcherOptions{
		Writer: store, Writers: writers, Metrics: metrics, Logger: log,
	})
	batcher.Start()
	defer batcher.Stop()

	maintainer := &dedupe.Maintainer{Store: store, Interval: maintenanceInterval, Now: time.Now, Logger: log,
		Observe: func(flapping, open int) {
			metrics.FlappingAlerts.Set(float64(flapping))
			metrics.OpenIncidents.Set(float64(open))
		}}
	maintainer.Start(ctx)
	defer maintainer.Stop()

	handler := web.New(web.Options{
		Logger:    log,
		Gatherer:  reg,
		Metrics:   metrics,
		Auth:      &ingest.Authenticator{Store: ingeststore.New(db), TTL: tokenTTL, Now: time.Now},
		Limiter:   &ingest.RateLimiter{PerSecond: *rateLimit, Burst: *rateBurst},
		Submit:    batcher,
		Alerts:    store,
		Incidents: store,
		Ready:     ready(db),
		MaxBody:   *maxBody,
		Now:       time.Now,
	})

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
