package main

import (
	"log/slog"
	"time"

	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/integrations"
	"github.com/quietpager/quietpager/integrations/slackbot"
	"github.com/quietpager/quietpager/reports"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
)

type slackBotSettings struct {
	command, externalURL      string
	maxSilence                time.Duration
	amURL, amUser, amPassword string
}

// newSlackBot builds the slash command and button handler, with
// Alertmanager silences when an Alertmanager URL is configured.
func newSlackBot(s slackBotSettings, slack *integrations.Slack, store *dedupestore.Store, oncall *rotationstore.Store,
	reportService *reports.Service, metrics *integrations.Metrics, log *slog.Logger) *slackbot.Bot {
	o := slackbot.Options{Command: s.command, Incidents: store, OnCall: oncall, Slack: slack,
		Noise: reportService, ExternalURL: s.externalURL, MaxSilence: s.maxSilence,
		Now: time.Now, Logger: log.With("component", "slack")}
	if s.amURL != "" {
		o.Silencer = integrations.NewAlertmanager(integrations.AlertmanagerOptions{URL: s.amURL,
			Username: s.amUser, Password: s.amPassword, Metrics: metrics})
	}
	return slackbot.New(o)
}
