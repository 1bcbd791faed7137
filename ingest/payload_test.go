package ingest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
)

var receivedAt = time.Date(2026, 11, 3, 3, 0, 0, 0, time.UTC)

// hex16 is what every stored fingerprint must look like: Alertmanager's
// own format, so that links and API queries by fingerprint match.
var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAlert is a valid firing alert as Alertmanager sends it; over replaces
// fields (nil deletes one).
func testAlert(over map[string]any) map[string]any {
	a := map[string]any{
		"status":       "firing",
		"labels":       map[string]any{"alertname": "X", "instance": "host-1:9100", "job": "node"},
		"annotations":  map[string]any{"summary": "X is broken"},
		"startsAt":     "2026-11-03T02:00:00Z",
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus:9090/graph?g0.expr=up",
		"fingerprint":  "",
	}
	for k, v := range over {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return a
}

// testPayload is a version 4 webhook body holding alerts; over replaces
// top-level fields (nil deletes one).
func testPayload(t testing.TB, over map[string]any, alerts ...map[string]any) []byte {
	t.Helper()
	list := make([]any, len(alerts))
	for i, a := range alerts {
		list[i] = a
	}
	p := map[string]any{
		"receiver":          "web\\.hook",
		"status":            "firing",
		"alerts":            list,
		"groupLabels":       map[string]any{"alertname": "X"},
		"commonLabels":      map[string]any{"alertname": "X"},
		"commonAnnotations": map[string]any{},
		"externalURL":       "http://alertmanager:9093",
		"version":           "4",
		"groupKey":          `{}:{alertname="X"}`,
		"truncatedAlerts":   0,
	}
	for k, v := range over {
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n') // Alertmanager's encoder ends the body with a newline
}

func TestDecodeRealAlertmanagerPayloads(t *testing.T) {
	latency1 := map[string]string{"alertname": "HighRequestLatency", "instance": "api-1:9090", "job": "api", "severity": "page", "team": "payments"}
	latency2 := map[string]string{"alertname": "HighRequestLatency", "instance": "api-2:9090", "job": "api", "severity": "page", "team": "payments"}
	disk := map[string]string{"alertname": "DiskWillFillIn4Hours", "device": "/dev/sda1", "instance": "db-3:9100", "job": "node", "severity": "warning", "team": "storage"}
	tests := []struct {
		file     string
		receiver string
		groupKey string
		want     []dedupe.Received
	}{
		{
			file:     "am-v4-firing.json",
			receiver: "web.hook", // arrives regexp-quoted as web\.hook
			groupKey: `{}/{team="payments"}:{alertname="HighRequestLatency"}`,
			want: []dedupe.Received{
				{Fingerprint: "3433522a8bc3a4f1", Labels: latency1, StartsAt: time.Date(2026, 11, 3, 2, 57, 12, 81e6, time.UTC)},
				{Fingerprint: "44e3fd51aca32ae8", Labels: latency2, StartsAt: time.Date(2026, 11, 3, 2, 57, 42, 81e6, time.UTC)},
			},
		},
		{
			file:     "am-v4-resolved.json",
			receiver: "storage-oncall",
			groupKey: `{}:{team="storage"}`,
			want: []dedupe.Received{
				{Fingerprint: "dd6ebdc8cd175955", Labels: disk, Resolved: true,
					StartsAt: time.Date(2026, 11, 2, 23, 41, 5, 512e6, time.UTC),
					EndsAt:   time.Date(2026, 11, 3, 0, 26, 5, 512e6, time.UTC)},
			},
		},
		{
			// notification_reason (Alertmanager 0.32+) and routeLabels
			// (0.34+) are unknown to us and must not make us refuse alerts.
			file:     "am-v4-newer-fields.json",
			receiver: "web.hook",
			groupKey: `{}/{team="payments"}:{alertname="HighRequestLatency"}`,
			want: []dedupe.Received{
				{Fingerprint: "3433522a8bc3a4f1", Labels: latency1, StartsAt: time.Date(2026, 11, 3, 2, 57, 12, 81e6, time.UTC)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, recs, err := ingest.Decode(readSample(t, tt.file), receivedAt)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if p.Version != "4" {
				t.Errorf("version = %q", p.Version)
			}
			if len(recs) != len(tt.want) {
				t.Fatalf("got %d alerts, want %d", len(recs), len(tt.want))
			}
			for i, want := range tt.want {
				got := recs[i]
				if got.Fingerprint != want.Fingerprint {
					t.Errorf("alert %d: fingerprint %q, want %q", i, got.Fingerprint, want.Fingerprint)
				}
				if !equalMaps(got.Labels, want.Labels) {
					t.Errorf("alert %d: labels %v, want %v", i, got.Labels, want.Labels)
				}
				if got.Receiver != tt.receiver {
					t.Errorf("alert %d: receiver %q, want %q", i, got.Receiver, tt.receiver)
				}
				if got.GroupKey != tt.groupKey {
					t.Errorf("alert %d: group key %q, want %q", i, got.GroupKey, tt.groupKey)
				}
				if !got.StartsAt.Equal(want.StartsAt) || got.StartsAt.Location() != time.UTC {
					t.Errorf("alert %d: startsAt %v, want %v in UTC", i, got.StartsAt, want.StartsAt)
				}
				if got.Resolved != want.Resolved {
					t.Errorf("alert %d: resolved %v, want %v", i, got.Resolved, want.Resolved)
				}
				// A firing alert's endsAt (0001-01-01) must not be taken
				// for an end.
				if !got.EndsAt.Equal(want.EndsAt) {
					t.Errorf("alert %d: endsAt %v, want %v", i, got.EndsAt, want.EndsAt)
				}
				if !got.ReceivedAt.Equal(receivedAt) {
					t.Errorf("alert %d: receivedAt %v, want %v", i, got.ReceivedAt, receivedAt)
				}
				if got.Annotations["summary"] == "" {
					t.Errorf("alert %d: summary annotation lost: %v", i, got.Annotations)
				}
				if !strings.HasPrefix(got.GeneratorURL, "http://prometheus:9090/graph?") || !strings.Contains(got.GeneratorURL, "&g0.tab=1") {
					t.Errorf("alert %d: generatorURL %q", i, got.GeneratorURL)
				}
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestDecodeFingerprint(t *testing.T) {
	labels := map[string]any{"alertname": "HighRequestLatency", "instance": "api-1:9090", "job": "api", "severity": "page", "team": "payments"}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v.(string))
	}
	tests := []struct {
		name        string
		fingerprint any // nil: field absent
		want        string
	}{
		{"absent is computed like Alertmanager", nil, ls.Fingerprint().String()},
		{"empty is computed like Alertmanager", "", ls.Fingerprint().String()},
		{"given is kept", "3433522a8bc3a4f1", "3433522a8bc3a4f1"},
		{"upper case is lowered", "3433522A8BC3A4F1", "3433522a8bc3a4f1"},
		{"short upper hex is padded", "ABC", "0000000000000abc"},
		{"zero", "0", "0000000000000000"},
	}
	if got := ls.Fingerprint().String(); got != "3433522a8bc3a4f1" {
		t.Fatalf("model.LabelSet fingerprint %q does not match the sample Alertmanager sent", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			over := map[string]any{"labels": labels, "fingerprint": tt.fingerprint}
			if tt.fingerprint == nil {
				over["fingerprint"] = nil
			}
			_, recs, err := ingest.Decode(testPayload(t, nil, testAlert(over)), receivedAt)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(recs) != 1 || recs[0].Fingerprint != tt.want {
				t.Fatalf("fingerprint = %q, want %q", recs[0].Fingerprint, tt.want)
			}
		})
	}
}

func TestDecodeTimeZonesBecomeUTC(t *testing.T) {
	body := testPayload(t, nil, testAlert(map[string]any{
		"status": "resolved", "startsAt": "2026-11-03T03:57:12.5+01:00", "endsAt": "2026-11-03T04:10:00+01:00",
	}))
	_, recs, err := ingest.Decode(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 3, 2, 57, 12, 5e8, time.UTC)
	if r := recs[0]; r.StartsAt != want || r.EndsAt != time.Date(2026, 11, 3, 3, 10, 0, 0, time.UTC) {
		t.Errorf("startsAt %v endsAt %v, want UTC %v and 03:10", r.StartsAt, r.EndsAt, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := testAlert(nil)
	tests := []struct {
		name string
		body []byte
		want []string // substrings the message must contain
	}{
		{"empty body", []byte(""), []string{"malformed JSON"}},
		{"truncated JSON", []byte(`{"version":"4","alerts":[`), []string{"malformed JSON"}},
		{"not JSON", []byte("version=4"), []string{"malformed JSON"}},
		{"version is a number", testPayload(t, map[string]any{"version": 4}, good), []string{"version", "string"}},
		{"alerts is an object", testPayload(t, map[string]any{"alerts": map[string]any{}}), []string{"alerts"}},
		{"labels is a list", testPayload(t, nil, testAlert(map[string]any{"labels": []any{"alertname"}})), []string{"labels"}},
		{"label value is a number", testPayload(t, nil, testAlert(map[string]any{"labels": map[string]any{"alertname": "X", "code": 500}})), []string{"labels"}},
		{"startsAt is not a time", testPayload(t, nil, testAlert(map[string]any{"startsAt": "yesterday"})), []string{"malformed"}},
		{"version 3", testPayload(t, map[string]any{"version": "3"}, good), []string{"version", `"3"`}},
		{"missing version", testPayload(t, map[string]any{"version": nil}, good), []string{"version", `""`}},
		{"status pending", testPayload(t, nil, testAlert(map[string]any{"status": "pending"})), []string{"pending", "1 of 1"}},
		{"status missing", testPayload(t, nil, testAlert(map[string]any{"status": nil})), []string{"neither firing nor resolved"}},
		{"no labels", testPayload(t, nil, testAlert(map[string]any{"labels": nil})), []string{"no labels"}},
		{"empty labels", testPayload(t, nil, testAlert(map[string]any{"labels": map[string]any{}})), []string{"no labels"}},
		{"empty label name", testPayload(t, nil, testAlert(map[string]any{"labels": map[string]any{"": "x"}})), []string{"label name"}},
		{"no startsAt", testPayload(t, nil, testAlert(map[string]any{"startsAt": nil})), []string{"no startsAt"}},
		{"zero startsAt", testPayload(t, nil, testAlert(map[string]any{"startsAt": "0001-01-01T00:00:00Z"})), []string{"no startsAt"}},
		{"resolved without endsAt", testPayload(t, nil, testAlert(map[string]any{"status": "resolved", "endsAt": nil})), []string{"resolved without endsAt"}},
		{"resolved with zero endsAt", testPayload(t, nil, testAlert(map[string]any{"status": "resolved"})), []string{"resolved without endsAt"}},
		{"endsAt before startsAt", testPayload(t, nil, testAlert(map[string]any{"status": "resolved", "endsAt": "2026-11-03T01:59:59Z"})), []string{"endsAt is before startsAt"}},
		{"fingerprint not hex", testPayload(t, nil, testAlert(map[string]any{"fingerprint": "xyz"})), []string{"fingerprint", `"xyz"`}},
		{"fingerprint with 0x", testPayload(t, nil, testAlert(map[string]any{"fingerprint": "0x3433522a8bc3a4"})), []string{"fingerprint"}},
		{"fingerprint negative", testPayload(t, nil, testAlert(map[string]any{"fingerprint": "-1"})), []string{"fingerprint"}},
		{"fingerprint 17 digits", testPayload(t, nil, testAlert(map[string]any{"fingerprint": "03433522a8bc3a4f1"})), []string{"fingerprint", "03433522a8bc3a4f1"}},
		// PostgreSQL cannot store NUL in text or JSON: refuse it with 400,
		// or the write would fail with 503 and Alertmanager retry forever.
		{"NUL in a label value", testPayload(t, nil, testAlert(map[string]any{"labels": map[string]any{"alertname": "X\u0000"}})), []string{"NUL"}},
		{"NUL in an annotation", testPayload(t, nil, testAlert(map[string]any{"annotations": map[string]any{"summary": "a\u0000b"}})), []string{"NUL"}},
		{"NUL in generatorURL", testPayload(t, nil, testAlert(map[string]any{"generatorURL": "http://x/\u0000"})), []string{"NUL"}},
		{"fingerprint overflows 64 bits", testPayload(t, nil, testAlert(map[string]any{"fingerprint": "13433522a8bc3a4f1"})), []string{"fingerprint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, recs, err := ingest.Decode(tt.body, receivedAt)
			if err == nil {
				t.Fatalf("Decode accepted %s: %d alerts", tt.body, len(recs))
			}
			if p != nil || recs != nil {
				t.Errorf("Decode returned a payload (%v) or alerts (%d) with its error", p != nil, len(recs))
			}
			if code := quietpager.ErrorCode(err); code != quietpager.Invalid {
				t.Errorf("code = %q, want %q (err %v)", code, quietpager.Invalid, err)
			}
			msg := quietpager.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// A 400 must mean nothing was stored: one bad alert refuses the payload.
func TestDecodeOneBadAlertRefusesAll(t *testing.T) {
	alerts := make([]map[string]any, 10)
	for i := range alerts {
		alerts[i] = testAlert(map[string]any{"labels": map[string]any{"alertname": "X", "n": string(rune('a' + i))}})
	}
	alerts[7]["status"] = "pending"
	_, recs, err := ingest.Decode(testPayload(t, nil, alerts...), receivedAt)
	if err == nil {
		t.Fatalf("Decode accepted a payload with a bad alert: %d alerts", len(recs))
	}
	if recs != nil {
		t.Errorf("Decode returned %d alerts with its error", len(recs))
	}
	if quietpager.ErrorCode(err) != quietpager.Invalid {
		t.Errorf("code = %q, want invalid", quietpager.ErrorCode(err))
	}
	msg := quietpager.ErrorMessage(err)
	for _, w := range []string{"1 of 10", "alert 7", "pending", "nothing was stored"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not say %q", msg, w)
		}
	}
}

// An error message lists a few problems, not all of a 1,000-alert storm.
func TestDecodeManyBadAlertsMessageIsBounded(t *testing.T) {
	alerts := make([]map[string]any, 1000)
	for i := range alerts {
		alerts[i] = testAlert(map[string]any{"status": "pending"})
	}
	_, _, err := ingest.Decode(testPayload(t, nil, alerts...), receivedAt)
	msg := quietpager.ErrorMessage(err)
	if !strings.Contains(msg, "1000 of 1000") {
		t.Errorf("message %q does not count the bad alerts", msg)
	}
	if len(msg) > 2000 {
		t.Errorf("message is %d bytes long", len(msg))
	}
}

func TestDecodeEmptyAlertListStoresNothing(t *testing.T) {
	_, recs, err := ingest.Decode(testPayload(t, nil), receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 {
		t.Errorf("got %d alerts from an empty list", len(recs))
	}
}
