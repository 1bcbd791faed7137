package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// BenchmarkWrite measures one group-commit transaction of 500 deliveries in
// notification groups of ten (one incident each):
// four in five are new alerts, one in five repeats an alert already stored.
func BenchmarkWrite(b *testing.B) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			store := sqlstore.New(migrationstest.Open(b, migrationstest.DSN(b, d)), sqlstore.Options{})
			start := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
			const perBatch = 500
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				recs := make([]dedupe.Received, perBatch)
				for j := range recs {
					n := i*perBatch + j
					if j%5 == 0 && n > perBatch {
						n -= perBatch // a repeat of an alert from the previous batch
					}
					labels := map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("host-%d", n),
						"severity": "critical", "team": "storage"}
					recs[j] = dedupe.Received{Fingerprint: dedupe.Fingerprint(labels), Labels: labels,
						Annotations: map[string]string{"summary": "disk almost full"}, Receiver: "web.hook",
						GroupKey: fmt.Sprintf(`{}:{instance_group="%d"}`, n/10), StartsAt: start, ReceivedAt: start.Add(time.Duration(n))}
				}
				if _, err := store.Write(context.Background(), dedupe.Fold(recs)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
