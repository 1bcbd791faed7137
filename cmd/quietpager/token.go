package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/quietpager/quietpager/ingest/sqlstore"
)

func token(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("token create|list|revoke", stderr)
	dsn := dbFlag(fs, env)
	name := fs.String("name", "", "with create: the token's name (say who uses it: alertmanager-eu1)")
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("token needs create, list or revoke")
	}
	verb := args[0]
	want, usage := 0, "quietpager token create --name NAME | list"
	if verb == "revoke" {
		want, usage = 1, "quietpager token revoke NAME"
	}
	pos, err := parse(fs, args[1:], want, usage)
	if err != nil {
		return err
	}
	if verb == "revoke" {
		*name = pos[0]
	}
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens := sqlstore.New(db)

	switch verb {
	case "create":
		secret, err := tokens.Create(ctx, *name, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created token %q. Store it now; quietpager keeps only its hash.\n%s\n", *name, secret)
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tCREATED")
		for _, t := range list {
			fmt.Fprintf(w, "%s\t%s\n", t.Name, t.Created.Format(time.RFC3339))
		}
		return w.Flush()
	case "revoke":
		if err := tokens.Revoke(ctx, *name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked token %q. Running servers refuse it within %s.\n", *name, tokenTTL)
	default:
		return fmt.Errorf("token needs create, list or revoke, not %q", verb)
	}
	return nil
}
