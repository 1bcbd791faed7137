package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
)

// reportSends exports, per team, when its weekly report last reached
// someone and how many sends failed, read from the database at scrape
// time so that every replica tells the same story whichever one sent.
type reportSends struct {
	store          *reportstore.Store
	lastSent, fail *prometheus.Desc
}

func newReportSends(store *reportstore.Store) *reportSends {
	return &reportSends{store: store,
		lastSent: prometheus.NewDesc("quietpager_weekly_report_last_sent_seconds",
			"When the team's weekly report last reached a recipient, in Unix seconds (0: never).", []string{"team"}, nil),
		fail: prometheus.NewDesc("quietpager_weekly_report_failed_sends",
			"Recipients of the team's weekly reports whose delivery failed and waits for a retry.", []string{"team"}, nil),
	}
}

func (c *reportSends) Describe(ch chan<- *prometheus.Desc) { ch <- c.lastSent; ch <- c.fail }

func (c *reportSends) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := c.store.SendStates(ctx)
	if err != nil {
		return // the database is away: /readyz and the other metrics say so
	}
	for _, s := range states {
		var last float64
		if !s.LastSent.IsZero() {
			last = float64(s.LastSent.Unix())
		}
		ch <- prometheus.MustNewConstMetric(c.lastSent, prometheus.GaugeValue, last, s.Team)
		ch <- prometheus.MustNewConstMetric(c.fail, prometheus.GaugeValue, float64(s.Failed), s.Team)
	}
}
