package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// BenchmarkWrite measures one group-commit transaction in two shapes:
//   - groups: 500 deliveries in notification groups of ten (one incident
//     each); four in five are new alerts, one in five repeats an alert
//     already stored.
//   - storm: what the writer commits under qpbench's 1-alert payloads at
//     128 clients: 60 new alerts, each joining one of 168 open incidents
//     that keep growing.
func BenchmarkWrite(b *testing.B) {
	shapes := []struct {
		name             string
		perBatch, groups int
		repeats          bool
	}{
		{"groups", 500, 0, true},
		{"storm", 60, 168, false},
	}
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		for _, shape := range shapes {
			b.Run(string(d)+"/"+shape.name, func(b *testing.B) {
				store := sqlstore.New(migrationstest.Open(b, migrationstest.DSN(b, d)), sqlstore.Options{})
				start := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
				b.ReportAllocs()
				wrote := written(b)
				for i := 0; b.Loop(); i++ {
					recs := make([]dedupe.Received, shape.perBatch)
					for j := range recs {
						n := i*shape.perBatch + j
						if shape.repeats && j%5 == 0 && n > shape.perBatch {
							n -= shape.perBatch // a repeat of an alert from the previous batch
						}
						group := n / 10
						if shape.groups > 0 {
							group = n % shape.groups
						}
						labels := map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("host-%d", n),
							"severity": "critical", "team": "storage"}
						recs[j] = dedupe.Received{Fingerprint: dedupe.Fingerprint(labels), Labels: labels,
							Annotations: map[string]string{"summary": "disk almost full"}, Receiver: "web.hook",
							GroupKey: fmt.Sprintf(`{}:{instance_group="%d"}`, group), StartsAt: start, ReceivedAt: start.Add(time.Duration(n))}
					}
					if _, err := store.Write(context.Background(), dedupe.Fold(recs)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*shape.perBatch)/b.Elapsed().Seconds(), "alerts/s")
				if d == migrations.SQLite {
					// What SQLite writes (WAL frames, checkpoints) is what
					// each commit's fsync waits for.
					b.ReportMetric(float64(written(b)-wrote)/float64(b.N*shape.perBatch), "B-written/alert")
				}
			})
		}
	}
}

// written is how many bytes this process has passed to write system calls.
func written(b *testing.B) int64 {
	f, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no write accounting here: %v", err)
	}
	for line := range strings.Lines(string(f)) {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("/proc/self/io has no wchar")
	return 0
}
