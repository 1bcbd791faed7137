//go:build faults

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager/integrations"
)

const alertmanagerInstall = "go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.31.1"

// startAlertmanagers runs n real Alertmanagers clustered on loopback (an
// HA pair for n = 2), each sending its webhooks to url with token. Every
// group is flushed each second, so a flush that failed is sent again a
// second later (its notification log entry is written only on success),
// and an unchanged group is not re-sent within the test (repeat 1h).
// peer-timeout is 1 s instead of 15 s, so the second peer also sends: an
// HA pair delivering the same notification twice is part of the fault.
func startAlertmanagers(t *testing.T, n int, url, token string) []string {
	t.Helper()
	bin := need(t, "alertmanager", alertmanagerInstall)
	config := fmt.Sprintf(`route:
  receiver: quietpager
  group_by: ['alertname', 'cluster']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: quietpager
    webhook_configs:
      - url: %s/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, url, token)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	webPorts, clusterPorts := make([]int, n), make([]int, n)
	for i := range n {
		webPorts[i], clusterPorts[i] = freePort(t), freePort(t)
	}
	var urls []string
	for i := range n {
		args := []string{
			"--config.file=" + configFile,
			"--storage.path=" + filepath.Join(dir, fmt.Sprintf("data%d", i)),
			fmt.Sprintf("--web.listen-address=127.0.0.1:%d", webPorts[i]),
			fmt.Sprintf("--web.external-url=http://127.0.0.1:%d", webPorts[i]),
			"--cluster.peer-timeout=1s",
			"--cluster.gossip-interval=50ms",
			"--cluster.settle-timeout=10s",
		}
		if n == 1 {
			args = append(args, "--cluster.listen-address=")
		} else {
			args = append(args, fmt.Sprintf("--cluster.listen-address=127.0.0.1:%d", clusterPorts[i]))
			for j := range n {
				if j != i {
					args = append(args, fmt.Sprintf("--cluster.peer=127.0.0.1:%d", clusterPorts[j]))
				}
			}
		}
		p := startProc(t, fmt.Sprintf("alertmanager %d", i), bin, args...)
		u := fmt.Sprintf("http://127.0.0.1:%d", webPorts[i])
		waitFor(t, 30*time.Second, p.name+" to be ready", func() (bool, string) {
			if !p.running() {
				t.Fatalf("%s exited:\n%s", p.name, p.logs.String())
			}
			resp, err := http.Get(u + "/-/ready")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
		urls = append(urls, u)
	}
	if n > 1 {
		waitFor(t, 30*time.Second, "the Alertmanager cluster to form", func() (bool, string) {
			var status struct {
				Cluster struct {
					Peers []any `json:"peers"`
				} `json:"cluster"`
			}
			resp, err := http.Get(urls[0] + "/api/v2/status")
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
				return false, err.Error()
			}
			return len(status.Cluster.Peers) == n, fmt.Sprintf("%d peers", len(status.Cluster.Peers))
		})
	}
	return urls
}

// amAlert is an alert as Alertmanager's API v2 takes it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
}

// storm is a few thousand alerts in a modest number of groups: alertname
// FaultStorm, one group per cluster label, instances numbered across the
// whole storm.
type storm struct {
	groups, perGroup int
	alerts           []amAlert
}

func newStorm(groups, perGroup int) storm {
	s := storm{groups: groups, perGroup: perGroup}
	startsAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	// Interleaved, so that every push touches every group: the first
	// groups alerts open every incident.
	for i := range perGroup {
		for g := range groups {
			s.alerts = append(s.alerts, amAlert{
				Labels: map[string]string{"alertname": "FaultStorm", "cluster": fmt.Sprintf("c%02d", g),
					"instance": fmt.Sprintf("host%05d", i*groups+g), "severity": "page"},
				Annotations: map[string]string{"summary": "storm"},
				StartsAt:    startsAt,
			})
		}
	}
	return s
}

func (s storm) String() string {
	return fmt.Sprintf("%d alerts in %d groups of %d", len(s.alerts), s.groups, s.perGroup)
}

// push sends alerts to every Alertmanager, as Prometheus does with an HA
// pair.
func push(t *testing.T, ams []string, alerts []amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, am := range ams {
		resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s/api/v2/alerts: %v", am, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s/api/v2/alerts: %s %s", am, resp.Status, b)
		}
	}
}

// pushInChunks pushes the storm in chunks of size, calling between(i)
// after chunk i, with a short pause so that Alertmanager flushes the
// storm over several group intervals.
func pushInChunks(t *testing.T, ams []string, alerts []amAlert, size int, between func(i int)) {
	t.Helper()
	for i := 0; i*size < len(alerts); i++ {
		push(t, ams, alerts[i*size:min((i+1)*size, len(alerts))])
		between(i)
		time.Sleep(150 * time.Millisecond)
	}
}

// balancer is the load balancer between Alertmanager and the replicas:
// round robin, and a request that could not be delivered to one replica
// (connection refused, or cut off by a replica killed mid-request) is
// tried on the next one, as HAProxy's `retry-on conn-failure
// empty-response` or nginx's proxy_next_upstream do. Retrying a webhook
// on another replica is safe because storing an alert again only updates
// its episode. Without that retry Alertmanager would retry anyway (a 502
// is a 5xx); with it, the balancer counts what a replica answered, which
// is what the cases look at.
type balancer struct {
	backends []string
	srv      *httptest.Server

	mu       sync.Mutex
	next     int
	statuses map[int]int // answers by status code
	retried  int         // requests tried again on another replica
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	b := &balancer{backends: backends, statuses: map[int]int{}}
	client := &http.Client{Timeout: 30 * time.Second}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		start := b.next
		b.next++
		b.mu.Unlock()
		for i := range b.backends {
			req, err := http.NewRequestWithContext(r.Context(), r.Method,
				b.backends[(start+i)%len(b.backends)]+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			req.Header = r.Header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				b.mu.Lock()
				b.retried++
				b.mu.Unlock()
				continue
			}
			respBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b.count(resp.StatusCode)
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			w.Write(respBody)
			return
		}
		b.count(http.StatusBadGateway)
		http.Error(w, "no replica answered", http.StatusBadGateway)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *balancer) count(code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.statuses[code]++
}

func (b *balancer) answers(code int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statuses[code]
}

func (b *balancer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	codes := make([]int, 0, len(b.statuses))
	for c := range b.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", b.statuses[c], c))
	}
	return fmt.Sprintf("webhooks answered %s; %d tried again on another replica", strings.Join(parts, ", "), b.retried)
}

// pageReceiver is the team's signed webhook (an SMS gateway, say): it
// checks each page's signature and counts the pages per incident and
// delivery id.
type pageReceiver struct {
	secret string
	URL    string

	mu         sync.Mutex
	deliveries map[int64][]string // incident id → delivery ids, one per page received
	forged     int
}

func startPageReceiver(t *testing.T) *pageReceiver {
	t.Helper()
	p := &pageReceiver{secret: "faults-webhook-secret", deliveries: map[int64][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var page struct {
			IncidentID int64  `json:"incident_id"`
			DeliveryID string `json:"delivery_id"`
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.Header.Get(integrations.HeaderSignature) != integrations.Sign(p.secret, body) ||
			json.Unmarshal(body, &page) != nil {
			p.forged++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		p.deliveries[page.IncidentID] = append(p.deliveries[page.IncidentID], page.DeliveryID)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// pages returns how many pages each incident got.
func (p *pageReceiver) pages() map[int64]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int64]int{}
	for id, ds := range p.deliveries {
		out[id] = len(ds)
	}
	return out
}

func (p *pageReceiver) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ds := range p.deliveries {
		n += len(ds)
	}
	return fmt.Sprintf("%d pages for %d incidents, %d forged", n, len(p.deliveries), p.forged)
}
