package dedupe

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/flap"
)

// IncidentState is where an incident is in its life cycle:
// open → acknowledged → resolved, and back to open when it reopens.
type IncidentState string

const (
	IncidentOpen         IncidentState = "open"
	IncidentAcknowledged IncidentState = "acknowledged"
	IncidentResolved     IncidentState = "resolved"
)

// Valid reports whether s is one of the three states.
func (s IncidentState) Valid() bool {
	return s == IncidentOpen || s == IncidentAcknowledged || s == IncidentResolved
}

// Policy says how one alert's episodes become incidents. Routes (in
// rotation/) choose a policy per alert; without routes every alert gets
// DefaultPolicy.
type Policy struct {
	// GroupBy lists the labels whose values make an alert's incident; an
	// empty list groups as Alertmanager did: its group key plus receiver,
	// so one notification group is one incident.
	GroupBy []string
	// ReopenWindow: an alert that fires again within this long after its
	// incident resolved reopens that incident instead of opening another.
	ReopenWindow time.Duration
	// Flap holds the flap-detection thresholds.
	Flap flap.Options
	// Team owns the incidents this policy opens ("" without routes).
	Team string
	// Urgency says when those incidents may page ("page",
	// "business-hours", "digest"; "" means "page").
	Urgency string
}

// DefaultPolicy is the policy of an alert no route claims.
var DefaultPolicy = Policy{ReopenWindow: 10 * time.Minute, Flap: flap.Defaults}

// Policies picks each alert's policy.
type Policies interface {
	PolicyFor(labels map[string]string) Policy
}

// StaticPolicy gives every alert the same policy.
type StaticPolicy Policy

// PolicyFor implements Policies.
func (p StaticPolicy) PolicyFor(map[string]string) Policy { return Policy(p) }

// GroupHash is the identity of the incident group an alert belongs to.
func (p Policy) GroupHash(a AlertUpsert) string {
	var b strings.Builder
	b.WriteString(p.Team)
	b.WriteByte(0xff)
	b.WriteString(a.Receiver)
	b.WriteByte(0xff)
	if len(p.GroupBy) == 0 {
		b.WriteString("am:")
		b.WriteString(a.GroupKey)
	} else {
		b.WriteString("labels:")
		names := slices.Clone(p.GroupBy)
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(&b, "%s=%q,", n, a.Labels[n])
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// Title names a new incident after its first alert.
func Title(a AlertUpsert) string {
	if a.Alertname != "" {
		return a.Alertname
	}
	return "alert " + a.Fingerprint
}

// CommonLabels returns the labels every given label set shares.
func CommonLabels(a, b map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range a {
		if bv, ok := b[k]; ok && bv == v {
			out[k] = v
		}
	}
	return out
}

// Event kinds on an incident's timeline.
const (
	EventOpened          = "opened"
	EventReopened        = "reopened"
	EventAlertAdded      = "alert_added"
	EventFlappingStarted = "flapping_started"
	EventFlappingStopped = "flapping_stopped"
	EventAcknowledged    = "acknowledged"
	EventResolved        = "resolved"
	EventPaged           = "paged"
	EventSilenced        = "silenced"
	EventNotActionable   = "not_actionable"
)

// Actors that are not people.
const (
	ActorAlertmanager = "alertmanager"
	ActorQuietpager   = "quietpager"
)

// Event is one entry of an incident's timeline.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
}

// Incident is what a human is paged about: a group of episodes.
type Incident struct {
	ID             int64             `json:"id"`
	State          IncidentState     `json:"state"`
	Title          string            `json:"title"`
	Summary        string            `json:"summary"`
	CommonLabels   map[string]string `json:"common_labels"`
	Receiver       string            `json:"receiver"`
	GroupKey       string            `json:"group_key"`
	Team           string            `json:"team"`
	Urgency        string            `json:"urgency"`
	Alerts         int               `json:"alerts"`
	Firing         int               `json:"firing"`
	Episodes       int               `json:"episodes"`
	Flapping       int               `json:"flapping"`
	Openings       int               `json:"openings"` // 1, plus one per reopen
	OpenedAt       time.Time         `json:"opened_at"`
	AcknowledgedAt *time.Time        `json:"acknowledged_at"`
	AcknowledgedBy string            `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	ResolvedBy     string            `json:"resolved_by,omitempty"`
}

// Summarize fills Summary from the counts and shared labels.
func (i *Incident) Summarize() {
	var shared []string
	for k, v := range i.CommonLabels {
		if k != model.AlertNameLabel {
			shared = append(shared, k+"="+v)
		}
	}
	slices.Sort(shared)
	s := fmt.Sprintf("%s: %d of %d alerts firing", i.Title, i.Firing, i.Alerts)
	if i.Flapping > 0 {
		s += fmt.Sprintf(", %d flapping", i.Flapping)
	}
	if len(shared) > 0 {
		s += " (" + strings.Join(shared, ", ") + ")"
	}
	i.Summary = s
}

// IncidentEpisode is an episode as an incident shows it.
type IncidentEpisode struct {
	Episode
	Alertname string            `json:"alertname"`
	Labels    map[string]string `json:"labels"`
	Flapping  bool              `json:"flapping"`
}

// IncidentDetail is an incident with its episodes and timeline.
type IncidentDetail struct {
	Incident
	EpisodeList []IncidentEpisode `json:"episode_list"`
	Timeline    []Event           `json:"timeline"`
	Pages       []PageRecord      `json:"pages"`
	Silences    []Silence         `json:"silences"`
	Feedback    []Feedback        `json:"feedback"`
}

// Silence is an Alertmanager silence made for an incident.
type Silence struct {
	ID        string    `json:"id"` // Alertmanager's silence id
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	EndsAt    time.Time `json:"ends_at"`
}

// FeedbackNotActionable marks an incident nobody needed to be paged for;
// the noise ranking counts these marks.
const FeedbackNotActionable = "not_actionable"

// Feedback is what a person said about an incident beyond acting on it.
type Feedback struct {
	Kind  string    `json:"kind"`
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

// IncidentQuery filters the incident list.
type IncidentQuery struct {
	State IncidentState // "" for any
	Since time.Time     // opened at or after; zero for any
	Team  string        // the owning team; "" for any
	Limit int
}

// IncidentChange is what a committed batch did to one incident; the paging
// code acts on it.
type IncidentChange struct {
	ID       int64
	Opened   bool // a new incident
	Reopened bool // a resolved incident opened again
	// Page is false when every new episode in the incident came from a
	// flapping alert: flap detection holds those pages.
	Page bool
	// Critical: an alert with severity="critical" joined an incident that
	// was already open; a page held for business hours goes out now.
	Critical bool
	Team     string
	Urgency  string
	// Opening counts the incident's openings: 1, and one more per reopen.
	Opening int
}

// Page channels.
const (
	ChannelSlackTeam = "slack_channel"
	ChannelSlackDM   = "slack_dm"
	ChannelEmail     = "email"
	ChannelWebhook   = "webhook"
)

// PageRecord is the outcome of one page on one channel.
type PageRecord struct {
	IncidentID     int64     `json:"incident_id"`
	Opening        int       `json:"opening"`
	Step           int       `json:"step"`
	Round          int       `json:"round"`
	Person         string    `json:"person"` // "" for the team channel and webhook
	Channel        string    `json:"channel"`
	Sent           bool      `json:"sent"`
	ReceiptChannel string    `json:"receipt_channel,omitempty"`
	ReceiptID      string    `json:"receipt_id,omitempty"`
	Error          string    `json:"error,omitempty"`
	At             time.Time `json:"at"`
}

// Interruption is a page that reached a person, classified in their own
// time zone as business, off or sleep hours.
type Interruption struct {
	IncidentID int64
	Opening    int
	Step       int
	Round      int
	Person     string
	Team       string
	At         time.Time
	Band       string
}
