package replay_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/reports/replay"
)

const goodWebhook = `{"at":"2026-11-02T10:00:30Z","webhook":{"version":"4","groupKey":"{}:{alertname=\"A\"}","receiver":"q","status":"firing",` +
	`"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-02T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}}`

func TestReaderRejectsBadLines(t *testing.T) {
	ack := `{"at":"2026-11-02T10:05:00Z","action":"acknowledge","by":"alice","labels":{"alertname":"A"}}`
	for _, tc := range []struct {
		name, bad, want string
	}{
		{"malformed", `{"at":"2026-11-02T10:06:00Z",`, "line 4: not a replay line"},
		{"out of order", `{"at":"2026-11-02T09:00:00Z","action":"resolve","by":"bob","fingerprint":"0123456789abcdef"}`,
			"line 4: time 2026-11-02T09:00:00Z is before the previous line's 2026-11-02T10:05:00Z"},
		{"unknown action", `{"at":"2026-11-02T10:06:00Z","action":"snooze","by":"bob","fingerprint":"0123456789abcdef"}`,
			`line 4: unknown action "snooze"`},
		{"no actor", `{"at":"2026-11-02T10:06:00Z","action":"resolve","fingerprint":"0123456789abcdef"}`, `line 4: action resolve needs "by"`},
		{"bad webhook", `{"at":"2026-11-02T10:06:00Z","webhook":{"version":"3","alerts":[]}}`, `line 4: webhook: unsupported payload version "3"`},
		{"unknown field", `{"at":"2026-11-02T10:06:00Z","action":"resolve","by":"bob","fingerprint":"0123456789abcdef","who":"x"}`,
			`line 4: not a replay line (json: unknown field "who")`},
		{"no time", `{"action":"resolve","by":"bob","fingerprint":"0123456789abcdef"}`, `line 4: "at"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Line 2 is blank: blank lines count but are skipped.
			r := replay.NewReader(strings.NewReader(goodWebhook + "\n\n" + ack + "\n" + tc.bad + "\n"))
			for i := range 2 {
				ev, err := r.Next()
				if err != nil {
					t.Fatalf("good event %d: %v", i, err)
				}
				if i == 0 && (len(ev.Alerts) != 1 || ev.Number != 1) {
					t.Fatalf("webhook event %+v, want one alert on line 1", ev)
				}
				if i == 1 && (ev.Number != 3 || ev.Fingerprint == "") {
					t.Fatalf("action event %+v, want line 3 with the fingerprint of its labels", ev)
				}
			}
			_, err := r.Next()
			if quietpager.ErrorCode(err) != quietpager.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bad line: %v, want an invalid error containing %q", err, tc.want)
			}
		})
	}
	r := replay.NewReader(strings.NewReader(goodWebhook + "\n"))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}
}
