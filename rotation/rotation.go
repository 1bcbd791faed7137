// Package rotation knows who is on call: teams, people, rotations,
// overrides, escalation policies, and the routes that send each alert to a
// team with an urgency. Everything here is about wall-clock time in some
// person's or rotation's time zone, so every function takes the instant it
// is asked about; nothing reads the clock.
package rotation

import (
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quietpager/quietpager/flap"
)

// Person is someone who can be paged.
type Person struct {
	Name     string
	Email    string
	SlackID  string
	TimeZone *time.Location
}

// Team owns rotations, an escalation policy and the incidents routed to it.
type Team struct {
	Name         string
	TimeZone     *time.Location // for the weekly report
	SlackChannel string         // channel id or name for pages; "" for none
	// Webhook, when set, receives every page as signed JSON so the team
	// can reach an SMS or phone gateway.
	WebhookURL    string
	WebhookSecret string
	Members       []string // people's names
}

// Shift is a rotation's shift length: whole calendar days in the
// rotation's time zone (so a 09:00 handoff stays at 09:00 local across
// daylight saving changes, making some shifts 23 or 25 hours long), or a
// fixed duration.
type Shift struct {
	Days     int           // calendar days; 0 when Duration is used
	Duration time.Duration // fixed length; 0 when Days is used
}

// Rotation hands the pager from member to member, one shift each, in order.
type Rotation struct {
	Name     string
	Team     string
	Members  []string // people's names, in handoff order
	Shift    Shift
	Start    time.Time // the first handoff, in TimeZone
	TimeZone *time.Location
}

// Override puts Person on call for Rotation from Start to End, whoever the
// rotation says.
type Override struct {
	ID       int64     `json:"id"`
	Rotation string    `json:"rotation"`
	Person   string    `json:"person"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// CreatedBy is who made it ("apply", a user, "slack:U123").
	CreatedBy string `json:"created_by"`
}

// OnCallShift is one stretch of one person on call.
type OnCallShift struct {
	Rotation string    `json:"rotation"`
	Person   string    `json:"person"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Override bool      `json:"override"`
}

// Target is whom an escalation step pages: a rotation's person on call, or
// a named person.
type Target struct {
	Rotation string
	Person   string
}

// Step is one escalation step: after Delay (from when the incident opened,
// or from the previous step), page Targets.
type Step struct {
	Delay   time.Duration
	Targets []Target
}

// EscalationPolicy is a team's ordered steps, run Repeat more times after
// the last one if nobody acknowledges.
type EscalationPolicy struct {
	Team   string
	Steps  []Step
	Repeat int
}

// Urgency says when an alert may interrupt a person.
type Urgency string

const (
	// UrgencyPage pages now, at any hour.
	UrgencyPage Urgency = "page"
	// UrgencyBusinessHours holds the page during the on-call person's
	// off and sleep hours until their next business hours, then pages only
	// if the incident is still open. An alert with severity="critical"
	// joining the incident turns a hold into a page now.
	UrgencyBusinessHours Urgency = "business-hours"
	// UrgencyDigest never pages; the alert shows in reports.
	UrgencyDigest Urgency = "digest"
)

// Route sends the alerts its matchers match to a team.
type Route struct {
	Name     string
	Matchers []*labels.Matcher // Alertmanager syntax; all must match
	Team     string
	Urgency  Urgency
	// GroupBy, when set, groups the route's alerts into incidents by these
	// labels instead of by Alertmanager's group key.
	GroupBy []string
	// ReopenWindow overrides the service's reopen window when non-zero.
	ReopenWindow time.Duration
	// Flap overrides the service's flap thresholds when non-zero.
	Flap flap.Options
	// Default marks the route that takes every alert no other route
	// matched; the configuration must have exactly one, and it comes last.
	Default bool
}

// Names of the alert quietpager raises when a heartbeat stops: its
// alertname, and the label that names the heartbeat.
const (
	HeartbeatAlertname = "QuietpagerHeartbeatMissing"
	HeartbeatLabel     = "heartbeat"
)

// MinHeartbeatInterval is the shortest interval a configuration file may
// give a heartbeat: shorter ones page for Alertmanager's own group and
// repeat delays.
const MinHeartbeatInterval = time.Minute

// Heartbeat is a dead man's switch: an alert that must keep arriving, such
// as Alertmanager's Watchdog. When no alert matching Matchers has arrived
// firing for Interval, quietpager raises an alert of its own
// (HeartbeatAlertname, with HeartbeatLabel and Labels), which routes and
// pages like any other.
type Heartbeat struct {
	Name string
	// Matchers all must match; one of them pins the alertname with =.
	Matchers []*labels.Matcher
	Interval time.Duration
	// Labels go on the alert raised when the heartbeat stops, so that a
	// route sends it to a team.
	Labels map[string]string
	// Since is when apply created the heartbeat or last changed what it
	// listens for (matchers, interval): a heartbeat never heard is missing
	// one Interval after it. Zero in a parsed file.
	Since time.Time
}

// Alertname is the alert name the heartbeat's matchers pin with =, or ""
// if none does (ParseConfig refuses that).
func (h Heartbeat) Alertname() string {
	for _, m := range h.Matchers {
		if m != nil && m.Name == "alertname" && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// Config is the whole on-call configuration, as `quietpager apply` reads it.
type Config struct {
	People     []Person
	Teams      []Team
	Rotations  []Rotation
	Escalation []EscalationPolicy
	Routes     []Route
	Heartbeats []Heartbeat
}
