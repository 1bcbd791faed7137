package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/dedupe"
)

// Metrics are the webhook path's Prometheus metrics.
type Metrics struct {
	Requests       *prometheus.CounterVec // by HTTP status code
	Alerts         *prometheus.CounterVec // by alert status, committed only
	NewEpisodes    prometheus.Counter
	Folded         prometheus.Counter
	Resolves       prometheus.Counter
	BatchSize      prometheus.Histogram
	CommitSeconds  prometheus.Histogram
	DatabaseErrors prometheus.Counter

	IncidentsOpened prometheus.Counter // opened or reopened
	OpenIncidents   prometheus.Gauge
	FlappingAlerts  prometheus.Gauge
	FlapStarted     prometheus.Counter
	PagesHeld       prometheus.Counter
	PrunedRows      *prometheus.CounterVec // by table
}

// Pruned counts what a retention pass deleted.
func (m *Metrics) Pruned(p dedupe.Pruned) {
	m.PrunedRows.WithLabelValues("incidents").Add(float64(p.Incidents))
	m.PrunedRows.WithLabelValues("episodes").Add(float64(p.Episodes))
	m.PrunedRows.WithLabelValues("alerts").Add(float64(p.Alerts))
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quietpager_webhook_requests_total",
			Help: "Alertmanager webhook requests, by HTTP status code of the answer.",
		}, []string{"code"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quietpager_alerts_received_total",
			Help: "Alerts committed from webhook payloads, by status (firing, resolved).",
		}, []string{"status"}),
		NewEpisodes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_episodes_new_total",
			Help: "Episodes (firing periods of an alert) seen for the first time.",
		}),
		Folded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_duplicates_folded_total",
			Help: "Deliveries folded into an existing episode: repeats, retries and HA duplicates.",
		}),
		Resolves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_episodes_resolved_total",
			Help: "Episodes that became resolved.",
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quietpager_write_batch_alerts",
			Help:    "Alerts committed per group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quietpager_write_commit_seconds",
			Help:    "Time to commit one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		DatabaseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_database_errors_total",
			Help: "Group-commit transactions that failed.",
		}),
		IncidentsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_incidents_opened_total",
			Help: "Incidents opened or reopened.",
		}),
		OpenIncidents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quietpager_incidents_open",
			Help: "Incidents not yet resolved, as of the last maintenance pass.",
		}),
		FlappingAlerts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quietpager_alerts_flapping",
			Help: "Alerts flapping, as of the last maintenance pass.",
		}),
		FlapStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_flapping_started_total",
			Help: "Times an alert started flapping.",
		}),
		PagesHeld: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quietpager_pages_held_flapping_total",
			Help: "New episodes of flapping alerts whose page flap detection held back.",
		}),
		PrunedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quietpager_pruned_rows_total",
			Help: "Rows the retention policy deleted, by table (incidents with their timeline, pages and interruptions; episodes; alerts).",
		}, []string{"table"}),
	}
	reg.MustRegister(m.PrunedRows, m.IncidentsOpened, m.OpenIncidents, m.FlappingAlerts, m.FlapStarted, m.PagesHeld,
		m.Requests, m.Alerts, m.NewEpisodes, m.Folded, m.Resolves,
		m.BatchSize, m.CommitSeconds, m.DatabaseErrors)
	return m
}
