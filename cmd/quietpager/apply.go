package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/sqlstore"
)

// apply makes the database's on-call configuration match a file. The file
// is checked whole before the database is opened: a file with any problem
// changes nothing, and every problem is printed as FILE:LINE: message.
func apply(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("apply", stderr)
	dsn := dbFlag(fs, env)
	file := fs.String("f", "", "the on-call configuration file (YAML; see docs/examples/oncall.yaml)")
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	const usage = "quietpager apply -f FILE [--dry-run] [--db DSN]"
	if _, err := parse(fs, args, 0, usage); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("apply needs the file: %s", usage)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	cfg, err := rotation.ParseConfig(data, *file)
	if err != nil {
		msg := quietpager.ErrorMessage(err)
		fmt.Fprintln(stderr, msg)
		n := strings.Count(msg, "\n") + 1
		return fmt.Errorf("%s: %d %s; nothing was applied", *file, n, applyPlural(n, "problem", "problems"))
	}

	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	plan, err := sqlstore.New(db).Apply(ctx, cfg, *dryRun)
	if err != nil {
		return err
	}
	if plan.Empty() {
		fmt.Fprintln(stdout, "no changes")
		return nil
	}
	for _, c := range plan.Changes {
		fmt.Fprintln(stdout, c)
	}
	n := len(plan.Changes)
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: %d %s planned, nothing applied\n", n, applyPlural(n, "change", "changes"))
	} else {
		fmt.Fprintf(stdout, "applied %d %s\n", n, applyPlural(n, "change", "changes"))
	}
	return nil
}

func applyPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
