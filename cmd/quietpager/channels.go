package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/integrations"
)

// channelFlags are the settings of the delivery channels (Slack, SMTP)
// and the external URL that links point at; serve and report --send share
// them.
type channelFlags struct {
	externalURL, slackToken, slackAPI, smtpAddr, smtpFrom, smtpUser *string
	smtpTLS                                                         *bool
}

func addChannelFlags(fs *flag.FlagSet, env environment) *channelFlags {
	return &channelFlags{
		externalURL: fs.String("external-url", env.str("QUIETPAGER_EXTERNAL_URL", "http://localhost:8080"),
			"the URL people reach quietpager at, for links in pages (env QUIETPAGER_EXTERNAL_URL)"),
		slackToken: fs.String("slack-bot-token", env.str("QUIETPAGER_SLACK_BOT_TOKEN", ""),
			"Slack bot token; empty: no Slack pages (env QUIETPAGER_SLACK_BOT_TOKEN)"),
		slackAPI: fs.String("slack-api-url", env.str("QUIETPAGER_SLACK_API_URL", ""),
			"Slack Web API base URL, for testing against a fake (env QUIETPAGER_SLACK_API_URL)"),
		smtpAddr: fs.String("smtp-addr", env.str("QUIETPAGER_SMTP_ADDR", ""),
			"SMTP server host:port; empty: no e-mail pages (env QUIETPAGER_SMTP_ADDR)"),
		smtpFrom: fs.String("smtp-from", env.str("QUIETPAGER_SMTP_FROM", "quietpager@localhost"),
			"From address of e-mail pages (env QUIETPAGER_SMTP_FROM)"),
		smtpUser: fs.String("smtp-username", env.str("QUIETPAGER_SMTP_USERNAME", ""), "SMTP user (env QUIETPAGER_SMTP_USERNAME)"),
		smtpTLS:  fs.Bool("smtp-tls", env.bool("QUIETPAGER_SMTP_TLS", true), "require STARTTLS (env QUIETPAGER_SMTP_TLS)"),
	}
}

// deliveryChannels are the configured channels; slack and mail are nil
// when not configured.
type deliveryChannels struct {
	externalURL string
	slack       *integrations.Slack
	mail        *integrations.Mailer
	webhook     *integrations.Webhook
	metrics     *integrations.Metrics
}

// build makes the channels that are configured, with their metrics in reg.
func (c *channelFlags) build(env environment, reg prometheus.Registerer) (deliveryChannels, error) {
	metrics := integrations.NewMetrics(reg)
	ch := deliveryChannels{externalURL: *c.externalURL, metrics: metrics,
		webhook: integrations.NewWebhook(integrations.WebhookOptions{Metrics: metrics})}
	if *c.slackToken != "" {
		ch.slack = integrations.NewSlack(integrations.SlackOptions{Token: *c.slackToken, APIURL: *c.slackAPI, Metrics: metrics})
	}
	if *c.smtpAddr != "" {
		host, portText, err := net.SplitHostPort(*c.smtpAddr)
		if err != nil {
			return ch, fmt.Errorf("--smtp-addr must be host:port: %w", err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return ch, fmt.Errorf("--smtp-addr must be host:port: %w", err)
		}
		ch.mail = integrations.NewMailer(integrations.MailOptions{Host: host, Port: port, From: *c.smtpFrom,
			Username: *c.smtpUser, Password: env.str("QUIETPAGER_SMTP_PASSWORD", ""), TLS: *c.smtpTLS, Metrics: metrics})
	}
	return ch, nil
}
