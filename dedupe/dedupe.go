// Package dedupe owns alert identity and episodes: which deliveries from
// Alertmanager are the same alert (its fingerprint), and which are the same
// firing period of that alert (an episode, keyed by fingerprint and
// startsAt). Repeat notifications, retries and the second copy from an HA
// peer all fold into the episode they belong to; none of them makes a new
// one.
package dedupe

import (
	"sort"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/flap"
)

// Received is one alert as it arrived in one webhook delivery.
type Received struct {
	Fingerprint  string
	Labels       map[string]string
	Annotations  map[string]string
	GeneratorURL string
	Receiver     string
	GroupKey     string
	StartsAt     time.Time
	EndsAt       time.Time // zero unless Resolved
	Resolved     bool
	ReceivedAt   time.Time
}

// Fingerprint computes an alert's identity from its labels exactly as
// Alertmanager does (FNV-1a 64 over the sorted label names and values),
// printed as 16 hex digits.
func Fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// AlertUpsert is the newest known description of one alert in a batch.
type AlertUpsert struct {
	Fingerprint  string
	Alertname    string
	Labels       map[string]string
	Annotations  map[string]string
	GeneratorURL string
	Receiver     string
	GroupKey     string
	FirstSeen    time.Time
	LastSeen     time.Time
}

// EpisodeUpsert is what a batch says about one episode. Merging it into a
// stored episode is monotonic: notifications add up, resolved stays
// resolved, so the order deliveries arrive in does not matter.
type EpisodeUpsert struct {
	Fingerprint   string
	StartsAt      time.Time
	EndsAt        time.Time // zero while firing
	Resolved      bool
	Notifications int
	FirstReceived time.Time
	LastReceived  time.Time
}

// Batch is the set of writes one transaction makes, folded so that every
// alert and every episode appears once, sorted by key so that concurrent
// transactions take row locks in the same order.
type Batch struct {
	Alerts   []AlertUpsert
	Episodes []EpisodeUpsert
	Received int // deliveries folded into this batch
}

type episodeKey struct {
	fingerprint string
	startsAt    int64
}

// Fold merges received alerts into a Batch.
func Fold(recs []Received) Batch {
	alerts := make(map[string]*AlertUpsert, len(recs))
	episodes := make(map[episodeKey]*EpisodeUpsert, len(recs))
	for i := range recs {
		r := &recs[i]
		a, ok := alerts[r.Fingerprint]
		if !ok {
			a = &AlertUpsert{Fingerprint: r.Fingerprint, FirstSeen: r.ReceivedAt}
			alerts[r.Fingerprint] = a
		}
		if !ok || !r.ReceivedAt.Before(a.LastSeen) { // the newest delivery describes the alert
			a.Alertname = r.Labels[model.AlertNameLabel]
			a.Labels, a.Annotations = r.Labels, r.Annotations
			a.GeneratorURL, a.Receiver, a.GroupKey = r.GeneratorURL, r.Receiver, r.GroupKey
			a.LastSeen = r.ReceivedAt
		}
		if r.ReceivedAt.Before(a.FirstSeen) {
			a.FirstSeen = r.ReceivedAt
		}

		k := episodeKey{r.Fingerprint, r.StartsAt.UnixMicro()}
		e, ok := episodes[k]
		if !ok {
			e = &EpisodeUpsert{Fingerprint: r.Fingerprint, StartsAt: r.StartsAt,
				FirstReceived: r.ReceivedAt, LastReceived: r.ReceivedAt}
			episodes[k] = e
		}
		e.Notifications++
		if r.Resolved && !e.Resolved {
			e.Resolved, e.EndsAt = true, r.EndsAt
		}
		if r.ReceivedAt.Before(e.FirstReceived) {
			e.FirstReceived = r.ReceivedAt
		}
		if r.ReceivedAt.After(e.LastReceived) {
			e.LastReceived = r.ReceivedAt
		}
	}

	b := Batch{Received: len(recs),
		Alerts:   make([]AlertUpsert, 0, len(alerts)),
		Episodes: make([]EpisodeUpsert, 0, len(episodes))}
	for _, a := range alerts {
		b.Alerts = append(b.Alerts, *a)
	}
	for _, e := range episodes {
		b.Episodes = append(b.Episodes, *e)
	}
	sort.Slice(b.Alerts, func(i, j int) bool { return b.Alerts[i].Fingerprint < b.Alerts[j].Fingerprint })
	sort.Slice(b.Episodes, func(i, j int) bool {
		x, y := b.Episodes[i], b.Episodes[j]
		if x.Fingerprint != y.Fingerprint {
			return x.Fingerprint < y.Fingerprint
		}
		return x.StartsAt.Before(y.StartsAt)
	})
	return b
}

// WriteResult says what a committed batch changed.
type WriteResult struct {
	NewEpisodes int // episodes that did not exist before
	Folded      int // deliveries folded into an episode that already existed
	Resolved    int // episodes that went from firing (or unknown) to resolved
	// Held counts new episodes of flapping alerts: pages flap detection
	// held back.
	Held int
	// FlapStarted counts alerts that started flapping.
	FlapStarted int
	// Incidents lists the incidents that opened or reopened.
	Incidents []IncidentChange
}

// State is an alert's or an episode's state.
type State string

const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Alert is an alert as the API shows it.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	GeneratorURL string            `json:"generator_url"`
	Receiver     string            `json:"receiver"`
	GroupKey     string            `json:"group_key"`
	State        State             `json:"state"`
	Episodes     int               `json:"episodes"`
	FirstSeen    time.Time         `json:"first_seen"`
	LastSeen     time.Time         `json:"last_seen"`
	Flapping     bool              `json:"flapping"`
	FlapScore    float64           `json:"flap_score"`
	// Hints are the rule-fix hints of the alert's rule (its alertname).
	Hints *flap.RuleHint `json:"hints,omitempty"`
}

// Episode is one firing period of one alert.
type Episode struct {
	Fingerprint   string     `json:"fingerprint"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at"`
	State         State      `json:"state"`
	Notifications int        `json:"notifications"`
	// Transient: resolved by itself, unacknowledged, within a few minutes.
	Transient  bool   `json:"transient"`
	IncidentID *int64 `json:"incident_id"`
}

// FiringEpisode is the firing episode of one alert, with the alert's
// labels: enough to resolve it with a Received.
type FiringEpisode struct {
	Fingerprint string
	Labels      map[string]string
	StartsAt    time.Time
}

// AlertQuery filters the alert list.
type AlertQuery struct {
	State    State // "" for any
	Matchers []*labels.Matcher
	Flapping *bool // nil for any
	Limit    int
}

// Matches reports whether an alert's labels satisfy every matcher.
func (q AlertQuery) Matches(ls map[string]string) bool {
	for _, m := range q.Matchers {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}
