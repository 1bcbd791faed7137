package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/quietpager/quietpager"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web/account"
	"github.com/quietpager/quietpager/web/account/sqlstore"
)

// user manages the web UI's local accounts. Passwords come from stdin: a
// prompt without echo on a terminal, otherwise the first line, so that a
// script can pipe one in and no password ever sits in argv or the shell's
// history. Changes are written to the audit log, as the admin page's are.
func user(ctx context.Context, args []string, env environment, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user add|passwd|list|delete", stderr)
	dsn := dbFlag(fs, env)
	roleFlag := fs.String("role", "", "with add: admin, member or viewer")
	person := fs.String("person", "", "with add: the user's name in oncall.yaml (a member may change that person's teams)")
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("user needs add, passwd, list or delete")
	}
	verb := args[0]
	want, usage := 1, "quietpager user add NAME --role admin|member|viewer [--person PERSON]"
	switch verb {
	case "passwd":
		usage = "quietpager user passwd NAME"
	case "delete":
		usage = "quietpager user delete NAME"
	case "list":
		want, usage = 0, "quietpager user list"
	case "add":
	default:
		return fmt.Errorf("user needs add, passwd, list or delete, not %q", verb)
	}
	pos, err := parse(fs, args[1:], want, usage)
	if err != nil {
		return err
	}
	var role account.Role
	if verb == "add" {
		if role, err = account.ParseRole(*roleFlag); err != nil {
			return fmt.Errorf("%s (usage: %s)", quietpager.ErrorMessage(err), usage)
		}
	} else if flagGiven(fs, "role") || flagGiven(fs, "person") {
		return fmt.Errorf("--role and --person go with user add; to change a role use the admin page (usage: %s)", usage)
	}

	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts := sqlstore.New(db)
	users, err := accounts.Users(ctx)
	if err != nil {
		return err
	}
	if verb == "list" {
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tROLE\tPERSON\tCREATED")
		for _, u := range users {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Person, u.Created.Format(time.RFC3339))
		}
		return w.Flush()
	}

	name := pos[0]
	exists := slices.ContainsFunc(users, func(u account.User) bool { return u.Name == name })
	switch {
	case verb == "add" && exists:
		return quietpager.Errorf(quietpager.Conflict, "a user named %q already exists; change the password with: quietpager user passwd %s", name, name)
	case verb != "add" && !exists:
		return quietpager.Errorf(quietpager.NotFound, "no user named %q (see quietpager user list)", name)
	}
	audit := func(action, detail string) error {
		by := "cli"
		if u := env("USER"); u != "" {
			by += " (" + u + ")"
		}
		return accounts.Record(ctx, account.AuditEntry{At: time.Now().UTC(), Actor: by, Kind: "user", Object: name,
			Action: action, Detail: detail})
	}

	switch verb {
	case "add":
		if err := checkPerson(ctx, rotationstore.New(db), *person, stderr); err != nil {
			return err
		}
		password, err := readPassword(stdin, stderr, name)
		if err != nil {
			return err
		}
		u, err := accounts.AddUser(ctx, name, role, *person, password, time.Now())
		if err != nil {
			return err
		}
		if err := audit("added user "+u.Name, u.Access()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added user %q (%s).\n", u.Name, u.Access())
	case "passwd":
		password, err := readPassword(stdin, stderr, name)
		if err != nil {
			return err
		}
		if err := accounts.SetPassword(ctx, name, password); err != nil {
			return err
		}
		if err := audit("changed the password of "+name, "their sessions ended"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Changed the password of %q; their sessions have ended.\n", name)
	case "delete":
		if err := accounts.DeleteUser(ctx, name); err != nil {
			return err
		}
		if err := audit("deleted user "+name, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted user %q and ended their sessions.\n", name)
	}
	return nil
}

// checkPerson checks --person against the applied on-call configuration,
// and warns when there is none yet to check against.
func checkPerson(ctx context.Context, oncall *rotationstore.Store, person string, stderr io.Writer) error {
	cfg, err := oncall.Load(ctx)
	if err != nil {
		return err
	}
	if person != "" && len(cfg.People) == 0 {
		fmt.Fprintf(stderr, "warning: no on-call configuration is applied yet, so --person %q is not checked\n", person)
	}
	if err := account.CheckPerson(cfg, person); err != nil {
		return fmt.Errorf("--person: %s", quietpager.ErrorMessage(err))
	}
	return nil
}

// readPassword reads a new password from stdin. On a terminal it prompts
// twice without echo; otherwise it takes the first line as it is, spaces
// included, without its line ending.
func readPassword(stdin io.Reader, stderr io.Writer, name string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			return string(b), err
		}
		first, err := ask(fmt.Sprintf("New password for %s: ", name))
		if err != nil {
			return "", err
		}
		if len(first) < account.MinPassword {
			return "", quietpager.Errorf(quietpager.Invalid, "a password needs at least %d characters", account.MinPassword)
		}
		again, err := ask("The same again: ")
		if err != nil {
			return "", err
		}
		if again != first {
			return "", quietpager.Errorf(quietpager.Invalid, "the two passwords differ; nothing was changed")
		}
		return first, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", quietpager.Errorf(quietpager.Invalid, "no password on stdin: type it when asked, or pipe it in as one line")
	}
	return line, nil
}
