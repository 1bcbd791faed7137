package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/quietpager/quietpager/ingest"
)

// The generated bodies must be valid webhooks: every alert accepted, the
// mix of new, re-sent and resolved groups as intended.
func TestPoolDecodes(t *testing.T) {
	tr := newTraffic(10, "t")
	bodies := tr.pool(3000)
	tr.consumed(len(bodies))
	bodies = append(bodies, tr.pool(100)...)
	fingerprints := map[string]bool{}
	var resolved, repeats int
	for i, b := range bodies {
		p, recs, err := ingest.Decode(b, time.Now())
		if err != nil {
			t.Fatalf("body %d: %v\n%s", i, err, b)
		}
		if len(recs) != 10 || p.Version != "4" || recs[0].Receiver != "web.hook" {
			t.Fatalf("body %d: %d alerts, version %q, receiver %q", i, len(recs), p.Version, recs[0].Receiver)
		}
		if recs[0].Resolved {
			resolved++
		}
		if fingerprints[recs[0].Fingerprint] {
			repeats++
		}
		for _, r := range recs {
			fingerprints[r.Fingerprint] = true
		}
	}
	if n := len(bodies); repeats < n/10 || repeats > n/3 || resolved < n/50 || resolved > n/10 {
		t.Errorf("%d bodies: %d repeats, %d resolved", n, repeats, resolved)
	}
	var v map[string]any
	if err := json.Unmarshal(bodies[0], &v); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes: %s", len(bodies[0]), bodies[0])
}

func BenchmarkDecode(b *testing.B) {
	body := newTraffic(10, "b").pool(1)[0]
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var p ingest.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			b.Fatal(err)
		}
	}
}
