package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/reports"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

const reportUsage = `usage:
  quietpager report weekly --team T [--week 2026-W47] [--format text|html|json] [--send]
  quietpager report noise --team T [--since RFC3339] [--until RFC3339] [--format text|json]
  quietpager report whatif --team T --rule ALERTNAME [--for 5m] [--keep-firing-for 10m]
                           [--urgency business-hours|digest] [--since RFC3339] [--until RFC3339] [--format text|json]`

// report prints or sends reports.
func report(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, reportUsage)
		return errUsage
	}
	switch args[0] {
	case "weekly":
		return reportWeekly(ctx, args[1:], env, stdout, stderr)
	case "noise":
		return reportNoise(ctx, args[1:], env, stdout, stderr)
	case "whatif":
		return reportWhatIf(ctx, args[1:], env, stdout, stderr)
	default:
		fmt.Fprintln(stderr, reportUsage)
		return fmt.Errorf("unknown report %q", args[0])
	}
}

func newReports(db *migrations.DB) *reports.Service {
	return reports.New(reports.Options{History: reportstore.New(db), OnCall: rotationstore.New(db), Now: time.Now})
}

// newDelivery sends weekly reports over the configured channels.
func newDelivery(ch deliveryChannels, svc *reports.Service, db *migrations.DB, now func() time.Time) *reports.Delivery {
	o := reports.DeliveryOptions{Reports: svc, Sends: reportstore.New(db), ExternalURL: ch.externalURL, Now: now}
	if ch.mail != nil {
		o.Mail = ch.mail
	}
	if ch.slack != nil {
		o.Slack = ch.slack
	}
	return reports.NewDelivery(o)
}

func formatFlag(fs *flag.FlagSet, formats string) *string {
	return fs.String("format", "text", "output format: "+formats)
}

func reportWeekly(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("report weekly", stderr)
	dsn := dbFlag(fs, env)
	team := fs.String("team", "", "the team")
	weekText := fs.String("week", "", "ISO week such as 2026-W47 (default: last week in the team's zone)")
	format := formatFlag(fs, "text, html or json")
	send := fs.Bool("send", false, "send it by e-mail and Slack, once per recipient, instead of printing it")
	channels := addChannelFlags(fs, env)
	if _, err := parse(fs, args, 0, "quietpager report weekly --team T [--week 2026-W47] [--format text|html|json] [--send]"); err != nil {
		return err
	}
	if *team == "" {
		return fmt.Errorf("report weekly needs --team")
	}
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := newReports(db)
	week, err := pickWeek(ctx, db, *team, *weekText)
	if err != nil {
		return err
	}
	if *send {
		ch, err := channels.build(env, prometheus.NewRegistry())
		if err != nil {
			return err
		}
		if ch.mail == nil && ch.slack == nil {
			return fmt.Errorf("--send needs --smtp-addr or --slack-bot-token")
		}
		sent, err := newDelivery(ch, svc, db, time.Now).Send(ctx, *team, week)
		for _, r := range sent.Recipients {
			fmt.Fprintf(stdout, "sent %s %s to %s\n", *team, week, r)
		}
		for _, r := range sent.Skipped {
			fmt.Fprintf(stdout, "skipped %s: sent before\n", r)
		}
		return err
	}
	w, err := svc.Weekly(ctx, *team, week)
	if err != nil {
		return err
	}
	link := reports.Link(*channels.externalURL, *team, week)
	switch *format {
	case "text":
		return reports.WriteText(stdout, w, link)
	case "html":
		return reports.WriteHTML(stdout, w, link)
	case "json":
		return reports.WriteJSON(stdout, w)
	}
	return fmt.Errorf("--format must be text, html or json, not %q", *format)
}

// pickWeek parses text, or finds last week in the team's zone.
func pickWeek(ctx context.Context, db *migrations.DB, team, text string) (reports.Week, error) {
	if text != "" {
		return reports.ParseWeek(text)
	}
	cfg, err := rotationstore.New(db).Load(ctx)
	if err != nil {
		return reports.Week{}, err
	}
	for _, t := range cfg.Teams {
		if t.Name == team {
			return reports.WeekOf(time.Now(), t.TimeZone).Prev(), nil
		}
	}
	return reports.Week{}, fmt.Errorf("no team %q", team)
}

// windowFlags are --since and --until.
func windowFlags(since, until string) (time.Time, time.Time, error) {
	var s, u time.Time
	var err error
	if until != "" {
		if u, err = time.Parse(time.RFC3339, until); err != nil {
			return s, u, fmt.Errorf("--until must be an RFC 3339 time such as 2026-11-23T00:00:00Z: %w", err)
		}
	} else {
		u = time.Now()
	}
	if since != "" {
		if s, err = time.Parse(time.RFC3339, since); err != nil {
			return s, u, fmt.Errorf("--since must be an RFC 3339 time such as 2026-11-16T00:00:00Z: %w", err)
		}
	} else {
		s = u.AddDate(0, 0, -7)
	}
	return s, u, nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func reportNoise(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("report noise", stderr)
	dsn := dbFlag(fs, env)
	team := fs.String("team", "", "the team")
	since := fs.String("since", "", "start, RFC 3339 (default: a week before --until)")
	until := fs.String("until", "", "end, RFC 3339 (default: now)")
	format := formatFlag(fs, "text or json")
	if _, err := parse(fs, args, 0, "quietpager report noise --team T [--since T] [--until T] [--format text|json]"); err != nil {
		return err
	}
	if *team == "" {
		return fmt.Errorf("report noise needs --team")
	}
	s, u, err := windowFlags(*since, *until)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rules, err := newReports(db).Noise(ctx, *team, s, u)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		return writeJSON(stdout, rules)
	case "text":
		var b bytes.Buffer
		for i, r := range rules {
			fmt.Fprintf(&b, "%d. %s: toil %d, %d pages, %d interruptions (%d in sleep hours), %d episodes, median %s, %d marked not actionable\n",
				i+1, r.Rule, r.ToilCost, r.Pages, r.Interruptions.Total, r.Interruptions.Sleep, r.Episodes, r.MedianDuration, r.NotActionable)
			for _, f := range r.Fixes {
				fmt.Fprintf(&b, "   - %s\n", f.Text)
			}
		}
		if len(rules) == 0 {
			b.WriteString("no alert rules paged or fired in this window\n")
		}
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return fmt.Errorf("--format must be text or json, not %q", *format)
}

func reportWhatIf(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := newFlags("report whatif", stderr)
	dsn := dbFlag(fs, env)
	var p reports.Proposal
	fs.StringVar(&p.Team, "team", "", "the team")
	fs.StringVar(&p.Rule, "rule", "", "the alert rule (alertname)")
	fs.Var(&p.For, "for", "proposed for:, e.g. 5m")
	fs.Var(&p.KeepFiringFor, "keep-firing-for", "proposed keep_firing_for:, e.g. 10m")
	urgency := fs.String("urgency", "", "proposed urgency: business-hours or digest")
	since := fs.String("since", "", "start, RFC 3339 (default: a week before --until)")
	until := fs.String("until", "", "end, RFC 3339 (default: now)")
	format := formatFlag(fs, "text or json")
	if _, err := parse(fs, args, 0, "quietpager report whatif --team T --rule R [--for D] [--keep-firing-for D] [--urgency U]"); err != nil {
		return err
	}
	var err error
	if p.Since, p.Until, err = windowFlags(*since, *until); err != nil {
		return err
	}
	p.Urgency = rotation.Urgency(*urgency)
	db, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := newReports(db).WhatIf(ctx, p)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		return writeJSON(stdout, res)
	case "text":
		change := ""
		if p.For > 0 {
			change += " for: " + p.For.String()
		}
		if p.KeepFiringFor > 0 {
			change += " keep_firing_for: " + p.KeepFiringFor.String()
		}
		if p.Urgency != "" {
			change += " urgency: " + string(p.Urgency)
		}
		_, err := fmt.Fprintf(stdout, "%s of team %s with%s, %s to %s:\n  before: %s\n  after:  %s\n  saved:  %s\n",
			p.Rule, p.Team, change, p.Since.Format(time.RFC3339), p.Until.Format(time.RFC3339), res.Before, res.After, res.Saved)
		return err
	}
	return fmt.Errorf("--format must be text or json, not %q", *format)
}
