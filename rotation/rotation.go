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

// Config is the whole on-call configuration, as `quietpager apply` reads it.
type Config struct {
	People     []Person
	Teams      []Team
	Rotations  []Rotation
	Escalation []EscalationPolicy
	Routes     []Route
}
