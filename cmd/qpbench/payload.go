package main

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"
)

// traffic builds Alertmanager v4 webhook bodies for one database and one
// payload size. It imitates what Alertmanager sends during a storm: most
// deliveries are new groups (new label sets), some re-send a group that was
// already delivered (repeat_interval, retries, HA pairs: the same alerts with
// the same startsAt) and a few resolve a group that was already delivered.
type traffic struct {
	k      int    // alerts per webhook
	run    string // distinguishes label sets between payload sizes
	next   int    // next new group number
	sent   []int  // groups known to have been delivered, newest last
	base   time.Time
	rng    *rand.Rand
	groups []int // group of each body of the current pool
	kinds  []byte
}

// Shares of deliveries, in percent; the rest are new groups.
const (
	repeatPercent  = 15
	resolvePercent = 5
)

const (
	kindNew byte = iota
	kindRepeat
	kindResolve
)

func newTraffic(k int, run string) *traffic {
	return &traffic{k: k, run: run, base: time.Now().UTC().Add(-time.Hour).Truncate(time.Second),
		rng: rand.New(rand.NewPCG(uint64(k), 42))}
}

// pool pre-encodes n bodies, so that encoding costs nothing while the
// clock runs. Bodies are sent in order; a repeat refers to a group sent
// earlier in the same pool (far enough back to have been answered) or in
// an earlier step.
func (t *traffic) pool(n int) [][]byte {
	const lag = 1000 // bodies between a group's first delivery and its re-send
	bodies := make([][]byte, n)
	t.groups = make([]int, n)
	t.kinds = make([]byte, n)
	buf := make([]byte, 0, 64<<10)
	for i := range bodies {
		kind, g := kindNew, t.next
		switch r := t.rng.IntN(100); {
		case r < repeatPercent+resolvePercent && (i >= lag || len(t.sent) > 0):
			kind = kindRepeat
			if r < resolvePercent {
				kind = kindResolve
			}
			if i >= lag {
				g = t.groups[i-lag]
			} else {
				g = t.sent[t.rng.IntN(len(t.sent))]
			}
		default:
			t.next++
		}
		t.groups[i], t.kinds[i] = g, kind
		if len(buf)+t.k*700+800 > cap(buf) {
			buf = make([]byte, 0, 64<<10)
		}
		start := len(buf)
		buf = t.appendBody(buf, g, kind == kindResolve)
		bodies[i] = buf[start:len(buf):len(buf)]
	}
	return bodies
}

// consumed records that the first n bodies of the last pool were sent.
func (t *traffic) consumed(n int) {
	for i := 0; i < n && i < len(t.groups); i++ {
		if t.kinds[i] == kindNew {
			t.sent = append(t.sent, t.groups[i])
		}
	}
	if len(t.sent) > 20000 {
		t.sent = append(t.sent[:0], t.sent[len(t.sent)-20000:]...)
	}
}

var alertnames = []string{"DiskFull", "HighLatency", "InstanceDown", "CPUThrottling",
	"MemoryPressure", "PodCrashLooping", "CertificateExpiry", "ErrorBudgetBurn"}

var (
	receiverJSON = mustJSON(`web\.hook`) // Alertmanager regexp-quotes the receiver
	runbookJSON  = mustJSON("https://runbooks.example.com/storage/disk-full")
)

func mustJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// appendBody appends one webhook body for group g. Every string written
// without escaping is plain ASCII with no quote or backslash.
func (t *traffic) appendBody(b []byte, g int, resolved bool) []byte {
	name := alertnames[g%len(alertnames)]
	team := "team-" + strconv.Itoa(g%7)
	cluster := "eu-" + strconv.Itoa(g%3)
	startsAt := t.base.Add(time.Duration(g) * time.Millisecond)
	status := "firing"
	endsAt := "0001-01-01T00:00:00Z"
	if resolved {
		status = "resolved"
		endsAt = startsAt.Add(5 * time.Minute).Format(time.RFC3339Nano)
	}
	starts := startsAt.Format(time.RFC3339Nano)
	groupKey := mustJSON(`{}/{team="` + team + `"}:{alertname="` + name + `", cluster="` + cluster + `"}`)

	b = append(b, `{"receiver":`...)
	b = append(b, receiverJSON...)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","alerts":[`...)
	for j := range t.k {
		if j > 0 {
			b = append(b, ',')
		}
		instance := "host-" + t.run + "-" + strconv.Itoa(g) + "-" + strconv.Itoa(j)
		b = append(b, `{"status":"`...)
		b = append(b, status...)
		b = append(b, `","labels":{"alertname":"`...)
		b = append(b, name...)
		b = append(b, `","cluster":"`...)
		b = append(b, cluster...)
		b = append(b, `","container":"node-exporter","endpoint":"https","instance":"`...)
		b = append(b, instance...)
		b = append(b, `:9100","job":"node-exporter","namespace":"monitoring","pod":"node-exporter-`...)
		b = append(b, instance...)
		b = append(b, `","prometheus":"monitoring/k8s","service":"node-exporter","severity":"critical","team":"`...)
		b = append(b, team...)
		b = append(b, `"},"annotations":{"description":"`...)
		b = append(b, instance...)
		b = append(b, ` has less than 5% of its disk left on /var/lib/data.","runbook_url":`...)
		b = append(b, runbookJSON...)
		b = append(b, `,"summary":"Disk almost full"},"startsAt":"`...)
		b = append(b, starts...)
		b = append(b, `","endsAt":"`...)
		b = append(b, endsAt...)
		b = append(b, `","generatorURL":"http://prometheus.example.com:9090/graph?g0.expr=node_filesystem_avail_bytes%7Bjob%3D%22node%22%7D+%3C+0.05&g0.tab=1","fingerprint":""}`...)
	}
	b = append(b, `],"groupLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","cluster":"`...)
	b = append(b, cluster...)
	b = append(b, `"},"commonLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","cluster":"`...)
	b = append(b, cluster...)
	b = append(b, `","job":"node","severity":"critical","team":"`...)
	b = append(b, team...)
	b = append(b, `"},"commonAnnotations":{"runbook_url":`...)
	b = append(b, runbookJSON...)
	b = append(b, `,"summary":"Disk almost full"},"externalURL":"http://alertmanager.example.com:9093","version":"4","groupKey":`...)
	b = append(b, groupKey...)
	b = append(b, `,"truncatedAlerts":0}`...)
	b = append(b, '\n') // Alertmanager's encoder ends the body with a newline
	return b
}
