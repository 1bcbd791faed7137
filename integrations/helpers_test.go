package integrations

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValue returns the value of the metric name with the given label
// value pairs, or -1 when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			want := map[string]string{}
			for i := 0; i+1 < len(labels); i += 2 {
				want[labels[i]] = labels[i+1]
			}
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func testPage() Page {
	return Page{
		IncidentID: 42,
		Title:      "HighErrorRate on checkout <!channel>",
		Summary:    "5xx ratio 12% over 5m & rising",
		Labels:     map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "page"},
		URL:        "https://quietpager.example.com/incidents/42",
		State:      StateOpen,
	}
}
