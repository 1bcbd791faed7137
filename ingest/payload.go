// Package ingest receives Alertmanager's webhook: it decodes and validates
// the payload with Alertmanager's own types, authenticates the sender by
// token, limits each token's rate, and hands the alerts to a group-commit
// writer that answers each request only once its alerts are committed.
package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
)

// PayloadVersion is the only webhook payload version Alertmanager has sent
// since 0.6, and the only one quietpager accepts.
const PayloadVersion = "4"

// Payload is Alertmanager's webhook message. It wraps template.Data (which
// costs five modules) instead of notify/webhook.Message (which costs 65).
type Payload struct {
	template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// maxReported caps how many invalid alerts one error message lists.
const maxReported = 5

// Decode parses and validates a webhook body. Every alert must be valid or
// the whole payload is refused, so a 400 always means nothing was stored.
func Decode(body []byte, receivedAt time.Time) (*Payload, []dedupe.Received, error) {
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, nil, quietpager.Errorf(quietpager.Invalid, "malformed JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return nil, nil, quietpager.Errorf(quietpager.Invalid, "malformed payload: field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
		default:
			return nil, nil, quietpager.Errorf(quietpager.Invalid, "malformed payload: %v", err)
		}
	}
	if p.Version != PayloadVersion {
		return nil, nil, quietpager.Errorf(quietpager.Invalid,
			"unsupported payload version %q: quietpager accepts Alertmanager webhook version %s", p.Version, PayloadVersion)
	}
	receiver := unquoteReceiver(p.Receiver)
	recs := make([]dedupe.Received, 0, len(p.Alerts))
	var problems []string
	for i, a := range p.Alerts {
		r, err := received(a, receiver, p.GroupKey, receivedAt)
		if err != nil {
			if len(problems) < maxReported {
				problems = append(problems, fmt.Sprintf("alert %d: %v", i, err))
			}
			continue
		}
		recs = append(recs, r)
	}
	if invalid := len(p.Alerts) - len(recs); invalid > 0 {
		msg := fmt.Sprintf("%d of %d alerts are invalid, nothing was stored: %s",
			invalid, len(p.Alerts), strings.Join(problems, "; "))
		return nil, nil, quietpager.Errorf(quietpager.Invalid, "%s", msg)
	}
	return &p, recs, nil
}

func received(a template.Alert, receiver, groupKey string, at time.Time) (dedupe.Received, error) {
	r := dedupe.Received{
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		GeneratorURL: a.GeneratorURL,
		Receiver:     receiver,
		GroupKey:     groupKey,
		StartsAt:     a.StartsAt.UTC(),
		ReceivedAt:   at,
	}
	switch a.Status {
	case string(model.AlertFiring):
	case string(model.AlertResolved):
		r.Resolved = true
		r.EndsAt = a.EndsAt.UTC()
	default:
		return r, fmt.Errorf("status %q is neither firing nor resolved", a.Status)
	}
	if len(a.Labels) == 0 {
		return r, errors.New("no labels")
	}
	for name, value := range a.Labels {
		if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			return r, fmt.Errorf("invalid label name %q", name)
		}
		if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
			return r, fmt.Errorf("label %s has an invalid value (bad UTF-8 or a NUL character)", name)
		}
	}
	for name, value := range a.Annotations {
		if strings.ContainsRune(name, 0) || strings.ContainsRune(value, 0) {
			return r, fmt.Errorf("annotation %q contains a NUL character", name)
		}
	}
	if strings.ContainsRune(a.GeneratorURL, 0) || strings.ContainsRune(receiver, 0) || strings.ContainsRune(groupKey, 0) {
		return r, errors.New("generatorURL, receiver or groupKey contains a NUL character")
	}
	if a.StartsAt.IsZero() {
		return r, errors.New("no startsAt")
	}
	if r.Resolved {
		if a.EndsAt.IsZero() {
			return r, errors.New("resolved without endsAt")
		}
		if a.EndsAt.Before(a.StartsAt) {
			return r, errors.New("endsAt is before startsAt")
		}
	}
	if a.Fingerprint == "" {
		r.Fingerprint = dedupe.Fingerprint(a.Labels)
	} else {
		fp, err := model.ParseFingerprint(a.Fingerprint)
		if err != nil || len(a.Fingerprint) > 16 {
			return r, fmt.Errorf("fingerprint %q is not 16 hex digits", a.Fingerprint)
		}
		r.Fingerprint = fp.String()
	}
	return r, nil
}

// unquoteReceiver undoes the regexp quoting Alertmanager applies to the
// receiver name ("web\.hook" arrives for "web.hook").
func unquoteReceiver(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
