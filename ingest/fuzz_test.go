package ingest_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
)

// FuzzDecode checks what the rest of the service relies on from Decode,
// whatever the body: it never panics; what it accepts can be stored (a
// 16-hex-digit fingerprint, a start, labels, an end no earlier than the
// start); what it refuses is refused as invalid input (400), never as a
// server failure that Alertmanager would retry forever.
func FuzzDecode(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	if len(samples) == 0 {
		f.Fatal("no sample payloads in testdata")
	}
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``,
		`{}`,
		`null`,
		`[]`,
		`{"version":"4"}`,
		`{"version":"4","alerts":null}`,
		`{"version":"4","receiver":"a\\","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z"}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"\u0000"},"startsAt":"0000-01-01T00:00:00+23:59","endsAt":"9999-12-31T23:59:59.999999999-23:59","fingerprint":"FFFFFFFFFFFFFFFF"}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"\ud800":"x"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"+1"}]}`,
	} {
		f.Add([]byte(s))
	}
	at := time.Date(2026, 11, 3, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, recs, err := ingest.Decode(body, at)
		if err != nil {
			if code := quietpager.ErrorCode(err); code != quietpager.Invalid {
				t.Fatalf("error code %q, want invalid: %v", code, err)
			}
			if quietpager.ErrorMessage(err) == "" {
				t.Fatal("error without a message")
			}
			if p != nil || recs != nil {
				t.Fatal("payload or alerts returned with an error")
			}
			return
		}
		if p == nil {
			t.Fatal("nil payload without an error")
		}
		if len(recs) != len(p.Alerts) {
			t.Fatalf("%d alerts in the payload, %d returned", len(p.Alerts), len(recs))
		}
		for i, r := range recs {
			if !hex16.MatchString(r.Fingerprint) {
				t.Errorf("alert %d: fingerprint %q is not 16 lowercase hex digits", i, r.Fingerprint)
			}
			if r.StartsAt.IsZero() {
				t.Errorf("alert %d: zero startsAt", i)
			}
			if len(r.Labels) == 0 {
				t.Errorf("alert %d: no labels", i)
			}
			if r.Resolved && r.EndsAt.Before(r.StartsAt) {
				t.Errorf("alert %d: resolved with endsAt %v before startsAt %v", i, r.EndsAt, r.StartsAt)
			}
			if r.Resolved && r.EndsAt.IsZero() {
				t.Errorf("alert %d: resolved with zero endsAt", i)
			}
			if !r.Resolved && !r.EndsAt.IsZero() {
				t.Errorf("alert %d: firing with endsAt %v", i, r.EndsAt)
			}
			if !r.ReceivedAt.Equal(at) {
				t.Errorf("alert %d: receivedAt %v, want %v", i, r.ReceivedAt, at)
			}
		}
	})
}
