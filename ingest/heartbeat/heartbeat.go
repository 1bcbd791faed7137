// Package heartbeat watches the watcher: it raises an alert when an alert
// that must keep arriving (a dead man's switch such as Alertmanager's
// Watchdog) stops arriving, and resolves it when it comes back.
//
// Theory of operation. Each pass reads the configured heartbeats and, for
// each, the newest instant a matching alert was alive (LastAlive). A
// heartbeat is missing from one Interval after that instant, or after the
// heartbeat was configured if it was never heard. A missing heartbeat
// becomes a firing alert, QuietpagerHeartbeatMissing{heartbeat="NAME"}
// plus the configured labels, submitted through the webhook's own write
// path, so that routes, grouping, flap detection and paging treat it like
// any alert. Its episode starts at the instant the heartbeat went missing,
// which every replica computes alike from the database: two replicas
// submitting it fold into one alert, one episode, one incident. When the
// heartbeat is alive again (or no longer configured, or its labels
// changed), the firing alert is resolved the same way.
//
// A checker that has just started pages for no heartbeat until one
// Interval has passed since it started: while quietpager was down nothing
// could arrive, and the heartbeat deserves one chance to be heard.
package heartbeat

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/rotation"
)

// Receiver is the receiver name of the alerts the checker raises.
const Receiver = "quietpager"

// Config gives the configured heartbeats.
type Config interface {
	Heartbeats(ctx context.Context) ([]rotation.Heartbeat, error)
}

// Store reads what the checker needs to know about received alerts.
type Store interface {
	// LastAlive is the newest instant an alert named alertname matching
	// ms was alive; zero if none was ever received.
	LastAlive(ctx context.Context, alertname string, ms []*labels.Matcher) (time.Time, error)
	// FiringEpisodes are the firing episodes of the alerts named alertname.
	FiringEpisodes(ctx context.Context, alertname string) ([]dedupe.FiringEpisode, error)
}

// Submitter commits alerts as the webhook does (ingest.Batcher).
type Submitter interface {
	Submit(ctx context.Context, alerts []dedupe.Received) error
}

// Options configure a Checker.
type Options struct {
	Config Config
	Store  Store
	Submit Submitter
	// Interval is the longest time between two passes; a heartbeat with a
	// short interval is checked four times per interval.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	Metrics  *Metrics // optional
}

// Metrics are the checker's Prometheus metrics.
type Metrics struct {
	LastSeen *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{LastSeen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quietpager_heartbeat_last_seen_seconds",
		Help: "When each heartbeat's alert was last alive, in Unix seconds; 0 until first heard.",
	}, []string{"heartbeat"})}
	reg.MustRegister(m.LastSeen)
	return m
}

// Checker checks the heartbeats every Interval until stopped.
type Checker struct {
	o       Options
	started time.Time

	mu       sync.Mutex
	next     time.Duration   // wait before the next pass
	exported map[string]bool // heartbeats with a metric series

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns a Checker; its grace period counts from now.
func New(o Options) *Checker {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{o: o, started: o.Now(), next: o.Interval, exported: map[string]bool{}}
}

// Start runs the loop in the background.
func (c *Checker) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := c.Check(ctx); err != nil && ctx.Err() == nil {
				c.o.Logger.Warn("heartbeat check failed", "err", err)
			}
			c.mu.Lock()
			t.Reset(c.next)
			c.mu.Unlock()
		}
	}()
}

// Stop ends the loop and waits for it.
func (c *Checker) Stop() {
	if c.cancel != nil {
		c.cancel()
		c.done.Wait()
	}
}

// Check does one pass now: it raises the alert of every heartbeat that is
// missing and resolves those of heartbeats that are alive again.
func (c *Checker) Check(ctx context.Context) error {
	now := c.o.Now()
	hbs, err := c.o.Config.Heartbeats(ctx)
	if err != nil {
		return err
	}
	firing, err := c.o.Store.FiringEpisodes(ctx, rotation.HeartbeatAlertname)
	if err != nil {
		return err
	}
	current := map[string]time.Time{} // fingerprint → start of its firing episode
	for _, e := range firing {
		current[e.Fingerprint] = e.StartsAt
	}
	next := c.o.Interval
	missing := map[string]bool{} // fingerprints that stay firing
	watched := map[string]bool{} // fingerprints of the configured heartbeats' alerts
	heard := map[string]time.Time{}
	var recs []dedupe.Received
	for _, h := range hbs {
		next = min(next, h.Interval/4)
		last, err := c.o.Store.LastAlive(ctx, h.Alertname(), h.Matchers)
		if err != nil {
			return err
		}
		heard[h.Name] = last
		ls := alertLabels(h)
		fp := dedupe.Fingerprint(ls)
		watched[fp] = true
		// A heartbeat counts from when it was configured until it is heard.
		since, configured := last, !last.After(h.Since)
		if configured {
			since = h.Since
		}
		missingAt := since.Add(h.Interval)
		if now.Before(missingAt) {
			continue // alive
		}
		missing[fp] = true
		if now.Before(c.started.Add(h.Interval)) {
			continue // just started: give the heartbeat its chance first
		}
		if start, ok := current[fp]; ok && start.Equal(missingAt) {
			continue // raised already
		}
		recs = append(recs, dedupe.Received{
			Fingerprint: fp, Labels: ls, Annotations: annotations(h, since, configured),
			Receiver: Receiver, GroupKey: groupKey(h.Name), StartsAt: missingAt, ReceivedAt: now,
		})
		c.o.Logger.Warn("heartbeat missing", "heartbeat", h.Name, "since", since, "interval", h.Interval)
	}
	for _, e := range firing {
		if missing[e.Fingerprint] {
			continue
		}
		name := e.Labels[rotation.HeartbeatLabel]
		summary := fmt.Sprintf("Heartbeat %s is back.", name)
		if !watched[e.Fingerprint] {
			summary = fmt.Sprintf("Heartbeat %s was deleted or its labels changed; this alert no longer applies.", name)
		}
		recs = append(recs, dedupe.Received{
			Fingerprint: e.Fingerprint, Labels: e.Labels, Annotations: map[string]string{"summary": summary},
			Receiver: Receiver, GroupKey: groupKey(name),
			StartsAt: e.StartsAt, EndsAt: later(now, e.StartsAt), Resolved: true, ReceivedAt: now,
		})
		c.o.Logger.Info("heartbeat alert resolved", "heartbeat", name, "summary", summary)
	}
	c.export(heard)
	c.mu.Lock()
	c.next = max(next, time.Second)
	c.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	return c.o.Submit.Submit(ctx, recs)
}

// export sets each heartbeat's gauge and removes those of heartbeats no
// longer configured.
func (c *Checker) export(heard map[string]time.Time) {
	if c.o.Metrics == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.exported {
		if _, ok := heard[name]; !ok {
			c.o.Metrics.LastSeen.DeleteLabelValues(name)
			delete(c.exported, name)
		}
	}
	for name, at := range heard {
		v := 0.0
		if !at.IsZero() {
			v = float64(at.UnixMicro()) / 1e6
		}
		c.o.Metrics.LastSeen.WithLabelValues(name).Set(v)
		c.exported[name] = true
	}
}

// later returns the later of two instants: a replica whose clock is a
// little behind must not end an episode before it started.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// alertLabels are the labels of a heartbeat's alert.
func alertLabels(h rotation.Heartbeat) map[string]string {
	ls := maps.Clone(h.Labels)
	if ls == nil {
		ls = map[string]string{}
	}
	ls["alertname"] = rotation.HeartbeatAlertname
	ls[rotation.HeartbeatLabel] = h.Name
	return ls
}

// groupKey is the group key of a heartbeat's alert: each heartbeat is its
// own incident unless a route groups by labels.
func groupKey(name string) string {
	return fmt.Sprintf("quietpager:{%s=%q}", rotation.HeartbeatLabel, name)
}

// annotations say what stopped and since when; they stay the same for the
// whole episode, so that repeated passes describe it alike.
func annotations(h rotation.Heartbeat, since time.Time, configured bool) map[string]string {
	ms := make([]string, len(h.Matchers))
	for i, m := range h.Matchers {
		ms[i] = m.String()
	}
	match := "{" + strings.Join(ms, ", ") + "}"
	at := since.UTC().Format(time.RFC3339)
	summary := fmt.Sprintf("Heartbeat %s stopped: no alert matching %s since %s.", h.Name, match, at)
	if configured {
		summary = fmt.Sprintf("Heartbeat %s stopped: no alert matching %s since the heartbeat was configured at %s.", h.Name, match, at)
	}
	return map[string]string{
		"summary": summary,
		"description": fmt.Sprintf("quietpager expects an alert matching %s at least every %s. When it stops, "+
			"whatever sends alerts to quietpager (Prometheus, Alertmanager, the network between them) may be down, "+
			"and other alerts may be lost with it.", match, h.Interval),
	}
}
