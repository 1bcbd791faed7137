package web_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/web"
)

func TestWebhookStoresAlertsAndAPIReadsThem(t *testing.T) {
	s := newServer(t)

	r := s.post(s.Token, sample(t, "am-v4-firing.json"))
	if r.Status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	var ok struct {
		Status string `json:"status"`
		Alerts int    `json:"alerts"`
	}
	r.JSON(t, &ok)
	if ok.Status != "ok" || ok.Alerts != 2 {
		t.Errorf("answer %s, want status ok and 2 alerts", r.Body)
	}
	if r := s.post(s.Token, sample(t, "am-v4-resolved.json")); r.Status != http.StatusOK {
		t.Fatalf("webhook (resolved): %d %s", r.Status, r.Body)
	}

	all := s.alerts("")
	if len(all) != 3 {
		t.Fatalf("%d alerts listed, want 3: %+v", len(all), all)
	}
	byFP := map[string]dedupe.Alert{}
	for _, a := range all {
		byFP[a.Fingerprint] = a
	}
	a1, found := byFP["3433522a8bc3a4f1"]
	if !found {
		t.Fatalf("alert 3433522a8bc3a4f1 (the fingerprint Alertmanager sent) not listed: %+v", all)
	}
	if a1.Labels["instance"] != "api-1:9090" || a1.Receiver != "web.hook" || a1.State != dedupe.Firing ||
		a1.Annotations["summary"] == "" || a1.Episodes != 1 || a1.GroupKey == "" {
		t.Errorf("alert read back wrong: %+v", a1)
	}
	if d := byFP["dd6ebdc8cd175955"]; d.State != dedupe.Resolved || d.Receiver != "storage-oncall" {
		t.Errorf("resolved alert read back wrong: %+v", d)
	}

	match := func(m string) string { return "match=" + url.QueryEscape(m) }
	tests := []struct {
		query string
		want  []string
	}{
		{match(`alertname="HighRequestLatency"`), []string{"3433522a8bc3a4f1", "44e3fd51aca32ae8"}},
		{match(`alertname="DiskWillFillIn4Hours"`), []string{"dd6ebdc8cd175955"}},
		{match(`{alertname="HighRequestLatency", instance="api-2:9090"}`), []string{"44e3fd51aca32ae8"}},
		{match(`alertname="HighRequestLatency"`) + "&" + match(`instance=~"api-1.*"`), []string{"3433522a8bc3a4f1"}},
		{match(`team!="payments"`), []string{"dd6ebdc8cd175955"}},
		{match(`alertname="Nothing"`), nil},
		{"state=firing", []string{"3433522a8bc3a4f1", "44e3fd51aca32ae8"}},
		{"state=resolved", []string{"dd6ebdc8cd175955"}},
		{"state=resolved&" + match(`team="payments"`), nil},
	}
	for _, tt := range tests {
		got := s.alerts(tt.query)
		var fps []string
		for _, a := range got {
			fps = append(fps, a.Fingerprint)
		}
		if !sameSet(fps, tt.want) {
			t.Errorf("GET /api/v1/alerts?%s = %v, want %v", tt.query, fps, tt.want)
		}
	}
	if got := s.alerts("limit=1"); len(got) != 1 {
		t.Errorf("limit=1 listed %d alerts", len(got))
	}

	eps := s.episodes("3433522a8bc3a4f1")
	if len(eps) != 1 {
		t.Fatalf("%d episodes, want 1: %+v", len(eps), eps)
	}
	if e := eps[0]; e.State != dedupe.Firing || e.EndsAt != nil || e.Notifications != 1 ||
		e.StartsAt.Format("2006-01-02T15:04:05.000Z") != "2026-11-03T02:57:12.081Z" {
		t.Errorf("episode read back wrong: %+v", e)
	}
	eps = s.episodes("dd6ebdc8cd175955")
	if len(eps) != 1 || eps[0].State != dedupe.Resolved || eps[0].EndsAt == nil ||
		eps[0].EndsAt.Format("15:04:05.000") != "00:26:05.512" {
		t.Errorf("resolved episode read back wrong: %+v", eps)
	}
	if eps := s.episodes("0000000000000000"); len(eps) != 0 {
		t.Errorf("episodes of an unknown alert: %+v", eps)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// A repeat notification, a retry or the copy from the other Alertmanager of
// an HA pair folds into the episode; it never makes a new one (or a new page).
func TestWebhookSameNotificationTwiceIsOneEpisode(t *testing.T) {
	s := newServer(t)
	body := sample(t, "am-v4-firing.json")
	for i := range 2 {
		if r := s.post(s.Token, body); r.Status != http.StatusOK {
			t.Fatalf("post %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if n := len(s.alerts("")); n != 2 {
		t.Errorf("%d alerts after a duplicate, want 2", n)
	}
	for _, fp := range []string{"3433522a8bc3a4f1", "44e3fd51aca32ae8"} {
		eps := s.episodes(fp)
		if len(eps) != 1 {
			t.Fatalf("alert %s: %d episodes after the same notification twice, want 1", fp, len(eps))
		}
		if eps[0].Notifications != 2 {
			t.Errorf("alert %s: episode counts %d notifications, want 2", fp, eps[0].Notifications)
		}
	}
}

// Every refusal says why, in JSON, and stores nothing: a 4xx is final for
// Alertmanager, so it must never hide a partial write.
func TestWebhookRefusalsStoreNothing(t *testing.T) {
	s := newServer(t)
	good := sample(t, "am-v4-firing.json")
	v3 := bytes.Replace(good, []byte(`"version":"4"`), []byte(`"version":"3"`), 1)
	oneBad := bytes.Replace(good, []byte(`"status":"firing","labels":{"alertname":"HighRequestLatency","instance":"api-2:9090"`),
		[]byte(`"status":"pending","labels":{"alertname":"HighRequestLatency","instance":"api-2:9090"`), 1)
	if bytes.Equal(oneBad, good) || bytes.Equal(v3, good) {
		t.Fatal("test payloads were not changed")
	}
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	tests := []struct {
		name    string
		auth    string // Authorization header; "" for none
		body    []byte
		status  int
		message string // substring of the "error" field
		header  string // header the answer must carry
	}{
		{"malformed JSON", "Bearer " + s.Token, []byte(`{"version":"4","alerts":[`), 400, "malformed JSON", ""},
		{"empty body", "Bearer " + s.Token, nil, 400, "malformed JSON", ""},
		{"wrong JSON type", "Bearer " + s.Token, []byte(`{"version":4,"alerts":[]}`), 400, "version", ""},
		{"unknown version", "Bearer " + s.Token, v3, 400, "version", ""},
		{"one invalid alert", "Bearer " + s.Token, oneBad, 400, "1 of 2", ""},
		{"missing token", "", good, 401, "token", "WWW-Authenticate"},
		{"empty bearer", "Bearer ", good, 401, "token", "WWW-Authenticate"},
		{"wrong token", "Bearer qp_not-a-token", good, 401, "token", "WWW-Authenticate"},
		{"token with a typo", "Bearer " + s.Token[:len(s.Token)-1], good, 401, "token", "WWW-Authenticate"},
		{"basic auth, wrong password", basic("alertmanager", "qp_wrong"), good, 401, "token", "WWW-Authenticate"},
		{"token as basic auth user", basic(s.Token, ""), good, 401, "token", "WWW-Authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/json"}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			r := s.do(s.request(http.MethodPost, "/hooks/alertmanager", bytes.NewReader(tt.body), h))
			if r.Status != tt.status {
				t.Errorf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if msg := r.ErrorMessage(t); !strings.Contains(msg, tt.message) {
				t.Errorf("error %q does not mention %q", msg, tt.message)
			}
			if tt.header != "" && r.Header.Get(tt.header) == "" {
				t.Errorf("answer lacks %s", tt.header)
			}
			if r.Status == 401 && !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q does not ask for a bearer token", r.Header.Get("WWW-Authenticate"))
			}
			if n := len(s.alerts("")); n != 0 {
				t.Errorf("%d alerts stored after a refused webhook", n)
			}
		})
	}
}

// Alertmanager's http_config.basic_auth can carry the token as password.
func TestWebhookBasicAuthTokenAsPassword(t *testing.T) {
	s := newServer(t)
	req := s.request(http.MethodPost, "/hooks/alertmanager", bytes.NewReader(sample(t, "am-v4-firing.json")),
		map[string]string{"Content-Type": "application/json"})
	req.SetBasicAuth("alertmanager", s.Token)
	if r := s.do(req); r.Status != http.StatusOK {
		t.Fatalf("basic auth with the token as password: %d %s", r.Status, r.Body)
	}
	if n := len(s.alerts("")); n != 2 {
		t.Errorf("%d alerts stored, want 2", n)
	}
	// The scheme name is case-insensitive (RFC 9110).
	r := s.do(s.request(http.MethodPost, "/hooks/alertmanager", bytes.NewReader(sample(t, "am-v4-resolved.json")),
		map[string]string{"Authorization": "bearer " + s.Token}))
	if r.Status != http.StatusOK {
		t.Errorf(`"bearer" in lower case: %d %s`, r.Status, r.Body)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	const maxBody = 8192
	s := newServer(t, func(o *web.Options) { o.MaxBody = maxBody })
	// A valid payload of exactly n bytes.
	sized := func(name string, n int) []byte {
		base := len(payload(t, name, 1, 1)) - 1
		b := payload(t, name, 1, n-base)
		if len(b) != n {
			t.Fatalf("payload is %d bytes, want %d", len(b), n)
		}
		return b
	}
	// An io.Reader without Len: the client sends it chunked, without
	// Content-Length.
	chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }

	t.Run("over the limit with Content-Length", func(t *testing.T) {
		r := s.post(s.Token, sized("TooBigCL", maxBody+1))
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413: %s", r.Status, r.Body)
		}
		if msg := r.ErrorMessage(t); !strings.Contains(msg, strconv.Itoa(maxBody)) {
			t.Errorf("error %q does not say the limit", msg)
		}
	})
	t.Run("far over the limit with Content-Length", func(t *testing.T) {
		// The handler answers without reading the body; the client must
		// still get the 413, not a broken connection it would retry.
		r := s.post(s.Token, sized("HugeCL", 2<<20))
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413: %s", r.Status, r.Body)
		}
	})
	t.Run("over the limit chunked", func(t *testing.T) {
		req := s.request(http.MethodPost, "/hooks/alertmanager", chunked(sized("TooBigChunked", 3*maxBody)),
			map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json"})
		req.ContentLength = -1
		r := s.do(req)
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413: %s", r.Status, r.Body)
		}
		r.ErrorMessage(t)
	})
	if n := s.storedCount(); n != 0 {
		t.Fatalf("%d alerts stored from bodies over the limit", n)
	}

	t.Run("exactly the limit with Content-Length", func(t *testing.T) {
		if r := s.post(s.Token, sized("AtLimitCL", maxBody)); r.Status != http.StatusOK {
			t.Errorf("status %d, want 200: %s", r.Status, r.Body)
		}
	})
	t.Run("exactly the limit chunked", func(t *testing.T) {
		req := s.request(http.MethodPost, "/hooks/alertmanager", chunked(sized("AtLimitChunked", maxBody)),
			map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json"})
		req.ContentLength = -1
		if r := s.do(req); r.Status != http.StatusOK {
			t.Errorf("status %d, want 200: %s", r.Status, r.Body)
		}
	})
	if n := s.storedCount(); n != 2 {
		t.Errorf("%d alerts stored, want the 2 at the limit", n)
	}
}

// Past its rate a token gets 503 with Retry-After, not 429: Alertmanager
// retries a 5xx within the flush but drops the alerts on a 429.
func TestWebhookRateLimit(t *testing.T) {
	s := newServer(t, func(o *web.Options) { o.Limiter = &ingest.RateLimiter{PerSecond: 0.001, Burst: 2} })
	other, err := s.Tokens.Create(t.Context(), "other", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"First", "Second"} {
		if r := s.post(s.Token, payload(t, name, 1, 0)); r.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := s.post(s.Token, payload(t, "Third", 1, 0))
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("over the rate: status %d, want 503: %s", r.Status, r.Body)
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	if msg := r.ErrorMessage(t); !strings.Contains(msg, "rate") {
		t.Errorf("error %q does not mention the rate limit", msg)
	}
	if got := s.alerts(""); len(got) != 2 {
		t.Errorf("%d alerts stored, want 2 (the refused one must not be)", len(got))
	}
	// Another sender is not held back by this one.
	if r := s.post(other, payload(t, "OtherToken", 1, 0)); r.Status != http.StatusOK {
		t.Errorf("another token was limited too: %d %s", r.Status, r.Body)
	}
	// The read API is not behind the webhook's rate limit.
	for range 5 {
		s.alerts("")
	}
}

func TestDatabaseDown(t *testing.T) {
	t.Run("after tokens were loaded", func(t *testing.T) {
		s := newServer(t)
		if r := s.post(s.Token, payload(t, "Before", 3, 0)); r.Status != http.StatusOK {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		if n := s.storedCount(); n != 3 {
			t.Fatalf("%d alerts stored, want 3", n)
		}
		if r := s.get("/readyz"); r.Status != http.StatusOK {
			t.Errorf("/readyz with the database up: %d %s", r.Status, r.Body)
		}
		s.DB.Close()

		r := s.post(s.Token, payload(t, "During", 3, 0))
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("webhook with the database down: %d, want 503 so Alertmanager retries: %s", r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if msg := r.ErrorMessage(t); strings.Contains(msg, "sql:") {
			t.Errorf("error %q shows the database error to the client", msg)
		}
		if r := s.get("/readyz"); r.Status != http.StatusServiceUnavailable {
			t.Errorf("/readyz with the database down: %d, want 503", r.Status)
		}
		if r := s.get("/healthz"); r.Status != http.StatusOK {
			t.Errorf("/healthz with the database down: %d, want 200 (do not restart the process for it)", r.Status)
		}
		if r := s.get("/api/v1/alerts"); r.Status != http.StatusServiceUnavailable {
			t.Errorf("API with the database down: %d, want 503: %s", r.Status, r.Body)
		}
	})
	t.Run("before any token was loaded", func(t *testing.T) {
		s := newServer(t)
		s.DB.Close()
		r := s.post(s.Token, payload(t, "During", 1, 0))
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("webhook with the database down: %d, want 503 (a 401 is final for Alertmanager): %s", r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
}

func TestMetricsCountWebhookAnswersByCode(t *testing.T) {
	s := newServer(t)
	s.post(s.Token, sample(t, "am-v4-firing.json"))
	s.post(s.Token, sample(t, "am-v4-resolved.json"))
	s.post(s.Token, []byte("{"))
	s.post("", sample(t, "am-v4-firing.json"))

	r := s.do(s.request(http.MethodGet, "/metrics", nil, nil))
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Status)
	}
	text := string(r.Body)
	for _, want := range []string{
		`quietpager_webhook_requests_total{code="200"} 2`,
		`quietpager_webhook_requests_total{code="400"} 1`,
		`quietpager_webhook_requests_total{code="401"} 1`,
		`quietpager_alerts_received_total{status="firing"} 2`,
		`quietpager_alerts_received_total{status="resolved"} 1`,
		`quietpager_episodes_new_total 3`,
		`quietpager_write_batch_alerts_count 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestAPIRequiresToken(t *testing.T) {
	s := newServer(t)
	for _, path := range []string{"/api/v1/alerts", "/api/v1/episodes?fingerprint=3433522a8bc3a4f1"} {
		r := s.do(s.request(http.MethodGet, path, nil, nil))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, r.Status)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", path)
		}
		r.ErrorMessage(t)
		r = s.do(s.request(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer qp_wrong"}))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, r.Status)
		}
	}
}

func TestAPIRejectsBadQueries(t *testing.T) {
	s := newServer(t)
	if r := s.post(s.Token, sample(t, "am-v4-firing.json")); r.Status != http.StatusOK {
		t.Fatal(r.Status)
	}
	tests := []struct {
		path    string
		message string
	}{
		{"/api/v1/alerts?match=" + url.QueryEscape(`alertname="X`), "matcher"},
		{"/api/v1/alerts?match=" + url.QueryEscape(`{alertname=~"("}`), "matcher"},
		{"/api/v1/alerts?state=pending", "state"},
		{"/api/v1/alerts?state=FIRING", "state"},
		{"/api/v1/alerts?limit=0", "limit"},
		{"/api/v1/alerts?limit=-1", "limit"},
		{"/api/v1/alerts?limit=ten", "limit"},
		{"/api/v1/alerts?limit=10001", "limit"},
		{"/api/v1/episodes", "fingerprint"},
		{"/api/v1/episodes?fingerprint=", "fingerprint"},
		{"/api/v1/episodes?fingerprint=3433522a8bc3a4f1&limit=0", "limit"},
	}
	for _, tt := range tests {
		r := s.get(tt.path)
		if r.Status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400: %s", tt.path, r.Status, r.Body)
			continue
		}
		if msg := r.ErrorMessage(t); !strings.Contains(msg, tt.message) {
			t.Errorf("GET %s: error %q does not mention %q", tt.path, msg, tt.message)
		}
	}
}

// An alert storm arrives as one large group: every alert of it is stored,
// across the store's statement chunks.
func TestWebhookStormOfOneGroup(t *testing.T) {
	s := newServer(t)
	const n = 1203
	if r := s.post(s.Token, payload(t, "Storm", n, 0)); r.Status != http.StatusOK {
		t.Fatalf("storm: %d %s", r.Status, r.Body)
	}
	if got := s.storedCount(); got != n {
		t.Errorf("%d alerts stored, want %d", got, n)
	}
	if got := len(s.alerts("match=" + url.QueryEscape(`alertname="Storm"`) + "&state=firing&limit=2000")); got != n {
		t.Errorf("%d firing Storm alerts listed, want %d", got, n)
	}
}

// Concurrent webhooks (several Alertmanager groups flushing at once) are
// all answered 200 and all stored.
func TestWebhookConcurrentSenders(t *testing.T) {
	s := newServer(t)
	const senders, perSender = 24, 5
	bodies := make([][]byte, senders)
	for i := range bodies {
		bodies[i] = payload(t, "Concurrent"+strconv.Itoa(i), perSender, 0)
	}
	status := make([]int, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, s.URL+"/hooks/alertmanager", bytes.NewReader(bodies[i]))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, st := range status {
		if st != http.StatusOK {
			t.Errorf("sender %d: %d", i, st)
		}
	}
	if got := s.storedCount(); got != senders*perSender {
		t.Errorf("%d alerts stored, want %d", got, senders*perSender)
	}
}
