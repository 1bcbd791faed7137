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
	command, externalURL string
	maxSilence           time.Duration
	silencer             integrations.Silencer // nil without --alertmanager-url
}

// newSlackBot builds the slash command and button handler, with
// Alertmanager silences when there is a silencer.
func newSlackBot(s slackBotSettings, slack *integrations.Slack, store *dedupestore.Store, oncall *rotationstore.Store,
	reportService *reports.Service, log *slog.Logger) *slackbot.Bot {
	o := slackbot.Options{Command: s.command, Incidents: store, OnCall: oncall, Slack: slack,
		Noise: reportService, ExternalURL: s.externalURL, MaxSilence: s.maxSilence, Silencer: s.silencer,
		Now: time.Now, Logger: log.With("component", "slack")}
	return slackbot.New(o)
}
