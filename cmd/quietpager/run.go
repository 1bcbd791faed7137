package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quietpager/quietpager/migrations"
)

const usage = `usage: quietpager COMMAND [flags]

commands:
  serve                       run the HTTP server (webhook, API, metrics)
  migrate up|down|status      apply, roll back or list schema migrations
  apply -f FILE [--dry-run]   make people, teams, rotations, escalation and routes match FILE
  report weekly|noise|whatif  print (or send) a team's weekly report, noise ranking or what-if
  token create --name NAME    create a webhook/API token (printed once)
  token list                  list tokens
  token revoke NAME           revoke a token
  user add NAME --role ROLE   add a web UI user (--person P: their name in oncall.yaml; password from stdin)
  user passwd NAME            change a user's password (from stdin); ends their sessions
  user list                   list users with their role and person
  user delete NAME            delete a user and end their sessions
  replay FILE                 replay recorded webhooks and actions (docs/replay.md)
  replay --delete             delete replayed history
  demo                        load a month of demo history into quietpager-demo.db

Run "quietpager COMMAND -h" for a command's flags.`

// errUsage marks an error whose message is the usage text.
var errUsage = errors.New("usage")

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	env := environment(getenv)
	err := dispatch(ctx, args, env, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // "COMMAND -h" printed the flags, as asked
	}
	return err
}

func dispatch(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], env, stdout, stderr)
	case "token":
		return token(ctx, args[1:], env, stdout, stderr)
	case "user":
		// Only user reads stdin (passwords), so only it gets the process's.
		return user(ctx, args[1:], env, os.Stdin, stdout, stderr)
	case "apply":
		return apply(ctx, args[1:], env, stdout, stderr)
	case "report":
		return report(ctx, args[1:], env, stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], env, stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// environment reads QUIETPAGER_* settings, falling back to defaults.
type environment func(string) string

func (env environment) str(name, def string) string {
	if v := env(name); v != "" {
		return v
	}
	return def
}

func (env environment) int64(name string, def int64) int64 {
	if v, err := strconv.ParseInt(env(name), 10, 64); err == nil {
		return v
	}
	return def
}

func (env environment) float(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(env(name), 64); err == nil {
		return v
	}
	return def
}

func (env environment) duration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(env(name)); err == nil {
		return v
	}
	return def
}

func (env environment) bool(name string, def bool) bool {
	if v, err := strconv.ParseBool(env(name)); err == nil {
		return v
	}
	return def
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("quietpager "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags that may stand before, between or after the
// positional arguments, and checks that exactly want positionals came.
// Go's flag package stops at the first positional, which would silently
// drop every flag after it ("--migrate false" leaves "false" behind).
func parse(fs *flag.FlagSet, args []string, want int, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		if len(pos) > want {
			return nil, fmt.Errorf("unexpected argument %q (usage: %s; boolean flags take --flag=false)", pos[want], usage)
		}
		return nil, fmt.Errorf("usage: %s", usage)
	}
	return pos, nil
}

// dbFlag registers the --db flag every command that touches the database has.
func dbFlag(fs *flag.FlagSet, env environment) *string {
	return fs.String("db", env.str("QUIETPAGER_DB", "sqlite:quietpager.db"),
		"database: sqlite:PATH or a postgres:// URL (env QUIETPAGER_DB)")
}

// flagGiven reports whether the command line set the flag.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func openDB(ctx context.Context, dsn string) (*migrations.DB, error) {
	return migrations.Open(ctx, dsn)
}

// openMigrated opens dsn and applies pending migrations, for commands that
// a newcomer may run before the server ever started.
func openMigrated(ctx context.Context, dsn string) (*migrations.DB, error) {
	db, err := migrations.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Up(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}
