// Package replay feeds recorded Alertmanager traffic and people's actions
// through the real pipeline (ingest decoding, dedupe, flap detection,
// routing, paging and escalation) under a simulated clock, so that
// incidents, pages, escalations and interruptions land at the recorded
// times, as fast as the machine allows. It also records such a stream from
// live traffic. The file format is in docs/replay.md.
package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
)

// Actions a line may carry.
const (
	ActionAcknowledge   = "acknowledge"
	ActionResolve       = "resolve"
	ActionNotActionable = "not_actionable"
)

// Line is one line of a replay file: a webhook Alertmanager delivered at At,
// or a person's action at At. Exactly one of Webhook and Action is set.
type Line struct {
	At      time.Time       `json:"at"`
	Webhook json.RawMessage `json:"webhook,omitempty"`

	Action string `json:"action,omitempty"`
	By     string `json:"by,omitempty"`
	// The incident acted on is the one that holds the newest episode,
	// started at or before At, of the alert with this fingerprint (or of
	// the alert with these labels).
	Fingerprint string            `json:"fingerprint,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Event is a checked line: its number in the file, and for a webhook the
// alerts it carries, decoded as the live webhook decodes them.
type Event struct {
	Line
	Number int
	Alerts []dedupe.Received
}

// Reader reads a replay file line by line and checks each line: valid
// JSON, a time no earlier than the line before, a valid webhook body or a
// known action.
type Reader struct {
	r    *bufio.Reader
	n    int
	last time.Time
}

// NewReader reads from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// lineError is bad input on one line.
func lineError(n int, format string, args ...any) error {
	return quietpager.Errorf(quietpager.Invalid, "line %d: %s", n, fmt.Sprintf(format, args...))
}

// Next returns the next event, io.EOF after the last, or an Invalid error
// naming the line.
func (r *Reader) Next() (Event, error) {
	for {
		raw, err := r.r.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return Event{}, io.EOF
			}
			return Event{}, quietpager.Wrap(quietpager.Unavailable, err, "could not read the replay file")
		}
		r.n++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		return r.check(raw)
	}
}

func (r *Reader) check(raw []byte) (Event, error) {
	ev := Event{Number: r.n}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev.Line); err != nil {
		return ev, lineError(r.n, "not a replay line (%v)", err)
	}
	switch {
	case ev.At.IsZero():
		return ev, lineError(r.n, `"at" (an RFC 3339 time) is required`)
	case ev.At.Before(r.last):
		return ev, lineError(r.n, "time %s is before the previous line's %s: lines must be in time order",
			ev.At.Format(time.RFC3339Nano), r.last.Format(time.RFC3339Nano))
	case len(ev.Webhook) > 0 && ev.Action != "":
		return ev, lineError(r.n, `a line has either "webhook" or "action", not both`)
	case len(ev.Webhook) > 0:
		_, alerts, err := ingest.Decode(ev.Webhook, ev.At.UTC())
		if err != nil {
			return ev, lineError(r.n, "webhook: %s", quietpager.ErrorMessage(err))
		}
		ev.Alerts = alerts
	case ev.Action == "":
		return ev, lineError(r.n, `a line needs "webhook" or "action"`)
	case ev.Action != ActionAcknowledge && ev.Action != ActionResolve && ev.Action != ActionNotActionable:
		return ev, lineError(r.n, "unknown action %q: use %s, %s or %s", ev.Action,
			ActionAcknowledge, ActionResolve, ActionNotActionable)
	case ev.By == "":
		return ev, lineError(r.n, `action %s needs "by": who did it`, ev.Action)
	case ev.Fingerprint == "" && len(ev.Labels) == 0:
		return ev, lineError(r.n, `action %s needs "fingerprint" or "labels" of an alert in the incident`, ev.Action)
	}
	if ev.Fingerprint == "" && len(ev.Labels) > 0 {
		ev.Fingerprint = dedupe.Fingerprint(ev.Labels)
	}
	r.last = ev.At
	return ev, nil
}
