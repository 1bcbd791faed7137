package dedupe_test

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/quietpager/quietpager/dedupe"
)

var t0 = time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)

func TestFingerprintIsAlertmanagers(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
	}{
		{"typical", map[string]string{"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}},
		{"single label", map[string]string{"alertname": "Watchdog"}},
		{"empty", map[string]string{}},
		{"nil", nil},
		{"unicode and separators", map[string]string{"alertname": "Zażółć", "summary": "a\xffb", "path": `C:\tmp "x"`, "emoji": "🔥"}},
		{"name/value boundary", map[string]string{"ab": "c"}},
		{"name/value boundary shifted", map[string]string{"a": "bc"}},
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := model.LabelSet{}
			for k, v := range c.labels {
				ls[model.LabelName(k)] = model.LabelValue(v)
			}
			want := ls.Fingerprint().String()
			got := dedupe.Fingerprint(c.labels)
			if got != want {
				t.Errorf("Fingerprint(%v) = %q, Alertmanager says %q", c.labels, got, want)
			}
			if len(got) != 16 {
				t.Errorf("Fingerprint(%v) = %q: want 16 hex digits", c.labels, got)
			}
			if other, dup := seen[got]; dup && c.name != "nil" && other != "empty" {
				t.Errorf("cases %q and %q share fingerprint %s", other, c.name, got)
			}
			seen[got] = c.name
		})
	}
}

// The literal was computed once, from model.LabelSet.Fingerprint and by an
// independent FNV-1a 64 implementation over the sorted names and values
// each followed by 0xff; both agreed.
func TestFingerprintKnownValue(t *testing.T) {
	labels := map[string]string{"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}
	const want = "bafaf1f2a64a6f67"
	for i := 0; i < 20; i++ { // map iteration order must not matter
		if got := dedupe.Fingerprint(labels); got != want {
			t.Fatalf("Fingerprint(%v) = %q, want %q", labels, got, want)
		}
	}
	if got := dedupe.Fingerprint(map[string]string{}); got != "cbf29ce484222325" {
		t.Errorf("Fingerprint of no labels = %q, want the FNV-1a 64 offset basis cbf29ce484222325", got)
	}
}

// received builds one delivery of the alert with these labels.
func received(labels map[string]string, startsAt, receivedAt time.Time) dedupe.Received {
	return dedupe.Received{
		Fingerprint: dedupe.Fingerprint(labels),
		Labels:      labels,
		Annotations: map[string]string{"summary": "disk almost full"},
		Receiver:    "web.hook",
		GroupKey:    `{}:{alertname="DiskFull"}`,
		StartsAt:    startsAt,
		ReceivedAt:  receivedAt,
	}
}

func resolvedAt(r dedupe.Received, endsAt time.Time) dedupe.Received {
	r.Resolved, r.EndsAt = true, endsAt
	return r
}

func diskFull(instance string) map[string]string {
	return map[string]string{"alertname": "DiskFull", "instance": instance, "severity": "critical"}
}

func TestFoldEpisodes(t *testing.T) {
	a := diskFull("db-1")
	fpA := dedupe.Fingerprint(a)
	end := t0.Add(7 * time.Minute)
	cases := []struct {
		name string
		recs []dedupe.Received
		want []dedupe.EpisodeUpsert
	}{
		{
			name: "one delivery is one firing episode",
			recs: []dedupe.Received{received(a, t0, t0.Add(time.Second))},
			want: []dedupe.EpisodeUpsert{{Fingerprint: fpA, StartsAt: t0, Notifications: 1,
				FirstReceived: t0.Add(time.Second), LastReceived: t0.Add(time.Second)}},
		},
		{
			name: "repeats of one alert are one episode with every notification counted",
			recs: []dedupe.Received{
				received(a, t0, t0.Add(3*time.Second)),
				received(a, t0, t0.Add(1*time.Second)),
				received(a, t0, t0.Add(2*time.Second)),
				received(a, t0, t0.Add(2*time.Second)), // HA peer's copy
			},
			want: []dedupe.EpisodeUpsert{{Fingerprint: fpA, StartsAt: t0, Notifications: 4,
				FirstReceived: t0.Add(time.Second), LastReceived: t0.Add(3 * time.Second)}},
		},
		{
			name: "firing then resolved is one resolved episode",
			recs: []dedupe.Received{
				received(a, t0, t0.Add(time.Second)),
				resolvedAt(received(a, t0, t0.Add(8*time.Minute)), end),
			},
			want: []dedupe.EpisodeUpsert{{Fingerprint: fpA, StartsAt: t0, EndsAt: end, Resolved: true,
				Notifications: 2, FirstReceived: t0.Add(time.Second), LastReceived: t0.Add(8 * time.Minute)}},
		},
		{
			name: "resolved then firing (out of order) is still one resolved episode",
			recs: []dedupe.Received{
				resolvedAt(received(a, t0, t0.Add(8*time.Minute)), end),
				received(a, t0, t0.Add(time.Second)),
			},
			want: []dedupe.EpisodeUpsert{{Fingerprint: fpA, StartsAt: t0, EndsAt: end, Resolved: true,
				Notifications: 2, FirstReceived: t0.Add(time.Second), LastReceived: t0.Add(8 * time.Minute)}},
		},
		{
			name: "two startsAt are two episodes, oldest first",
			recs: []dedupe.Received{
				received(a, t0.Add(time.Hour), t0.Add(time.Hour)),
				received(a, t0, t0),
			},
			want: []dedupe.EpisodeUpsert{
				{Fingerprint: fpA, StartsAt: t0, Notifications: 1, FirstReceived: t0, LastReceived: t0},
				{Fingerprint: fpA, StartsAt: t0.Add(time.Hour), Notifications: 1,
					FirstReceived: t0.Add(time.Hour), LastReceived: t0.Add(time.Hour)},
			},
		},
		{
			name: "the same instant in another time zone is the same episode",
			recs: []dedupe.Received{
				received(a, t0, t0),
				received(a, t0.In(time.FixedZone("CET", 3600)), t0.Add(time.Second)),
			},
			want: []dedupe.EpisodeUpsert{{Fingerprint: fpA, StartsAt: t0, Notifications: 2,
				FirstReceived: t0, LastReceived: t0.Add(time.Second)}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := dedupe.Fold(c.recs)
			if b.Received != len(c.recs) {
				t.Errorf("Received = %d, want %d deliveries", b.Received, len(c.recs))
			}
			if len(b.Alerts) != 1 {
				t.Errorf("got %d alerts, want 1: %+v", len(b.Alerts), b.Alerts)
			}
			if len(b.Episodes) != len(c.want) {
				t.Fatalf("got %d episodes, want %d:\n got %+v\nwant %+v", len(b.Episodes), len(c.want), b.Episodes, c.want)
			}
			for i, got := range b.Episodes {
				want := c.want[i]
				if got.Fingerprint != want.Fingerprint || !got.StartsAt.Equal(want.StartsAt) ||
					!got.EndsAt.Equal(want.EndsAt) || got.Resolved != want.Resolved ||
					got.Notifications != want.Notifications || !got.FirstReceived.Equal(want.FirstReceived) ||
					!got.LastReceived.Equal(want.LastReceived) {
					t.Errorf("episode %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

func TestFoldNewestDeliveryDescribesTheAlert(t *testing.T) {
	a := diskFull("db-1")
	older := received(a, t0, t0.Add(time.Minute))
	older.Annotations = map[string]string{"summary": "old text"}
	older.GeneratorURL, older.Receiver, older.GroupKey = "http://old/graph", "old-receiver", "old-group"
	newest := received(a, t0, t0.Add(3*time.Minute))
	newest.Annotations = map[string]string{"summary": "new text", "runbook_url": "https://runbooks/disk"}
	newest.GeneratorURL, newest.Receiver, newest.GroupKey = "http://new/graph", "new-receiver", "new-group"
	middle := received(a, t0, t0.Add(2*time.Minute))
	middle.Annotations = map[string]string{"summary": "middle text"}

	// Whatever order the deliveries sit in the batch, the newest wins.
	orders := map[string][]dedupe.Received{
		"newest last":   {older, middle, newest},
		"newest first":  {newest, older, middle},
		"newest middle": {middle, newest, older},
	}
	for name, recs := range orders {
		t.Run(name, func(t *testing.T) {
			b := dedupe.Fold(recs)
			if len(b.Alerts) != 1 {
				t.Fatalf("got %d alerts, want 1", len(b.Alerts))
			}
			got := b.Alerts[0]
			if !reflect.DeepEqual(got.Annotations, newest.Annotations) {
				t.Errorf("annotations = %v, want the newest delivery's %v", got.Annotations, newest.Annotations)
			}
			if !reflect.DeepEqual(got.Labels, a) {
				t.Errorf("labels = %v, want %v", got.Labels, a)
			}
			if got.GeneratorURL != newest.GeneratorURL || got.Receiver != newest.Receiver || got.GroupKey != newest.GroupKey {
				t.Errorf("generator/receiver/group = %q %q %q, want the newest delivery's %q %q %q",
					got.GeneratorURL, got.Receiver, got.GroupKey, newest.GeneratorURL, newest.Receiver, newest.GroupKey)
			}
			if got.Alertname != "DiskFull" {
				t.Errorf("Alertname = %q, want DiskFull", got.Alertname)
			}
			if !got.FirstSeen.Equal(older.ReceivedAt) || !got.LastSeen.Equal(newest.ReceivedAt) {
				t.Errorf("first/last seen = %v / %v, want %v / %v", got.FirstSeen, got.LastSeen, older.ReceivedAt, newest.ReceivedAt)
			}
		})
	}
}

func TestFoldSortedByKey(t *testing.T) {
	var recs []dedupe.Received
	for i := 0; i < 50; i++ {
		labels := diskFull(fmt.Sprintf("host-%d", i))
		// Three episodes per alert, delivered newest first.
		for j := 2; j >= 0; j-- {
			recs = append(recs, received(labels, t0.Add(time.Duration(j)*time.Hour), t0.Add(time.Duration(i)*time.Second)))
		}
	}
	b := dedupe.Fold(recs)
	if len(b.Alerts) != 50 || len(b.Episodes) != 150 {
		t.Fatalf("got %d alerts and %d episodes, want 50 and 150", len(b.Alerts), len(b.Episodes))
	}
	if !sort.SliceIsSorted(b.Alerts, func(i, j int) bool { return b.Alerts[i].Fingerprint < b.Alerts[j].Fingerprint }) {
		t.Error("alerts are not sorted by fingerprint: concurrent writers could lock rows in different orders")
	}
	for i := 1; i < len(b.Episodes); i++ {
		x, y := b.Episodes[i-1], b.Episodes[i]
		if x.Fingerprint > y.Fingerprint || (x.Fingerprint == y.Fingerprint && !x.StartsAt.Before(y.StartsAt)) {
			t.Fatalf("episodes %d and %d out of (fingerprint, startsAt) order: %s %v, %s %v",
				i-1, i, x.Fingerprint, x.StartsAt, y.Fingerprint, y.StartsAt)
		}
	}
}

func TestFoldEmpty(t *testing.T) {
	b := dedupe.Fold(nil)
	if b.Received != 0 || len(b.Alerts) != 0 || len(b.Episodes) != 0 {
		t.Errorf("Fold(nil) = %+v, want an empty batch", b)
	}
}
