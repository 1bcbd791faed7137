package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quietpager/quietpager/migrations"
)

// TestShippedPrometheusRules: every rule in the shipped rules file is
// complete (expression, duration, severity, summary), and every quietpager
// metric it reads is one the running service exports and docs/metrics.md
// documents, so a renamed metric cannot silently disarm an alert.
func TestShippedPrometheusRules(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "prometheus", "quietpager-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("rules file: %v", err)
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}

	// Slack and SMTP configured (never reached) so that their breakers exist.
	// The example configuration declares a heartbeat, so its gauge exists.
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "qp.db")
	mustRun(t, "apply", "-f", filepath.Join("..", "..", "docs", "examples", "oncall.yaml"), "--db", dsn)
	// A report was sent once, so the report gauges have a team to show.
	db, err := migrations.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.Exec(`INSERT INTO report_sends (team, week, recipient, status, updated_at)
		VALUES ('payments', '2026-W47', 'mailto:alice@example.com', 'sent', 1)`).Error; err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := startServer(t, dsn,
		"--slack-bot-token", "xoxb-test", "--slack-api-url", "http://127.0.0.1:9/", "--smtp-addr", "127.0.0.1:9")
	token := createToken(t, "sqlite:"+filepath.Join(t.TempDir(), "unused.db"), "x") // any token: a 401 fills the code series
	mustPostWebhook(t, s.URL, token, webhookBody(t, firing(map[string]string{"alertname": "A"})), http.StatusUnauthorized)
	var exported map[string]bool
	waitFor(t, 10*time.Second, "the heartbeat gauge", func() (bool, string) {
		exported = scrape(t, s.URL)
		return exported["quietpager_heartbeat_last_seen_seconds"], "not exported yet"
	})

	metric := regexp.MustCompile(`quietpager_[a-z_]+`)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q in %s lacks alert, expr, severity or summary", r.Alert, g.Name)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("rule %q: for %q: %v", r.Alert, r.For, err)
			}
			for _, name := range metric.FindAllString(r.Expr, -1) {
				if !exported[name] {
					t.Errorf("rule %q reads %s, which quietpager does not export", r.Alert, name)
				}
				if !strings.Contains(string(docs), "`"+name+"`") && !strings.Contains(string(docs), "`"+name+"{") {
					t.Errorf("rule %q reads %s, which docs/metrics.md does not document", r.Alert, name)
				}
			}
		}
	}
	if rules == 0 {
		t.Fatal("the rules file has no rules")
	}
}

// scrape returns the metric names /metrics describes.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
		}
	}
	return names
}
