package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/quietpager/quietpager/migrations"
)

func migrate(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("migrate up|down|status", stderr)
	dsn := dbFlag(fs, env)
	to := fs.Int64("to", -1, "with down: roll back every migration above this version (0: all)")
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("migrate needs up, down or status")
	}
	verb := args[0]
	if _, err := parse(fs, args[1:], 0, "quietpager migrate up|down|status [--db DSN] [--to V]"); err != nil {
		return err
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	var done []migrations.Step
	switch verb {
	case "up":
		done, err = db.Up(ctx)
	case "down":
		if *to >= 0 {
			done, err = db.DownTo(ctx, *to)
		} else {
			done, err = db.Down(ctx)
		}
	case "status":
		st, err := db.Status(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			state, at := "pending", ""
			if s.Applied {
				state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Version, state, at, s.Name)
		}
		return w.Flush()
	default:
		return fmt.Errorf("migrate needs up, down or status, not %q", verb)
	}
	for _, s := range done {
		fmt.Fprintf(stdout, "%s %d %s (%s)\n", verb, s.Version, s.Name, s.Duration.Round(1e6))
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "nothing to do")
	}
	return nil
}
