package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/integrations/mailpittest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// The figures are tested in reports/sqlstore; here the command line.
func TestReportCommands(t *testing.T) {
	dsn := migrationstest.DSN(t, migrations.SQLite)
	mustRun(t, "apply", "-f", "../../docs/examples/oncall.yaml", "--db", dsn)

	var w struct {
		Team   string
		Week   string
		People []struct{ Person string }
	}
	out := mustRun(t, "report", "weekly", "--team", "payments", "--week", "2026-W47", "--format", "json", "--db", dsn)
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if w.Team != "payments" || w.Week != "2026-W47" || len(w.People) == 0 {
		t.Errorf("weekly JSON: %s", out)
	}
	out = mustRun(t, "report", "weekly", "--team", "payments", "--week", "2026-W47", "--db", dsn,
		"--external-url", "https://qp.example")
	for _, want := range []string{"quietpager weekly report: team payments, 2026-W47 (Europe/Berlin)",
		"Full report: https://qp.example/reports?team=payments&week=2026-W47"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, "report", "weekly", "--team", "payments", "--week", "2026-W47", "--format", "html", "--db", dsn); !strings.HasPrefix(out, "<!DOCTYPE html>") {
		t.Errorf("HTML report starts %.40q", out)
	}
	out = mustRun(t, "report", "whatif", "--team", "payments", "--rule", "DiskFull", "--for", "5m",
		"--since", "2026-11-16T00:00:00+01:00", "--until", "2026-11-23T00:00:00+01:00", "--db", dsn)
	if !strings.Contains(out, "DiskFull of team payments with for: 5m") || !strings.Contains(out, "saved:  0 pages") {
		t.Errorf("whatif:\n%s", out)
	}
	if out := mustRun(t, "report", "noise", "--team", "payments", "--db", dsn); !strings.Contains(out, "no alert rules") {
		t.Errorf("noise of a quiet team:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"report", "weekly", "--db", dsn}, "needs --team"},
		{[]string{"report", "weekly", "--team", "payments", "--format", "xml", "--db", dsn}, "--format must be"},
		{[]string{"report", "weekly", "--team", "payments", "--week", "47", "--db", dsn}, "2026-W47"},
		{[]string{"report", "weekly", "--team", "nobody", "--db", dsn}, `no team "nobody"`},
		{[]string{"report", "weekly", "--team", "payments", "--send", "--db", dsn}, "--send needs"},
		{[]string{"report", "whatif", "--team", "payments", "--rule", "DiskFull", "--db", dsn}, "must change"},
		{[]string{"report", "whatif", "--team", "payments", "--rule", "X", "--for", "soon", "--db", dsn}, "soon"},
		{[]string{"report", "noise", "--team", "payments", "--since", "monday", "--db", dsn}, "RFC 3339"},
		{[]string{"report", "monthly"}, "unknown report"},
	} {
		_, _, err := runCmd(t, noEnv, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.msg)
		}
	}
}

func TestReportWeeklySendOnce(t *testing.T) {
	mp, ok := mailpittest.Start(t)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	dsn := migrationstest.DSN(t, migrations.SQLite)
	mustRun(t, "apply", "-f", "../../docs/examples/oncall.yaml", "--db", dsn)
	args := []string{"report", "weekly", "--team", "payments", "--week", "2026-W47", "--send", "--db", dsn,
		"--smtp-addr", mp.SMTPAddr(), "--smtp-tls=false"}
	out := mustRun(t, args...)
	if !strings.Contains(out, "sent payments 2026-W47 to mailto:alice@example.com") {
		t.Errorf("first send:\n%s", out)
	}
	again := mustRun(t, args...)
	if strings.Contains(again, "sent payments") || !strings.Contains(again, "skipped mailto:alice@example.com: sent before") {
		t.Errorf("second send:\n%s", again)
	}
	resp, err := http.Get(mp.API + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Messages []struct{ Subject string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "sent payments"); len(list.Messages) != n || n != 3 {
		t.Errorf("%d e-mails for %d sends to payments' 3 members", len(list.Messages), n)
	}
}
