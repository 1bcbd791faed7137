package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// receiver is a webhook endpoint that checks what it gets as a real one
// would.
type receiver struct {
	secret string
	status func(n int) int // answer to the n-th request, from 1

	mu         sync.Mutex
	n          int
	bodies     []webhookBody
	deliveries []string
	badSig     int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.n++
	if !Verify(rc.secret, body, r.Header.Get(HeaderSignature)) {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b webhookBody
	if err := json.Unmarshal(body, &b); err != nil || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, b)
	rc.deliveries = append(rc.deliveries, r.Header.Get(HeaderDelivery))
	status := http.StatusNoContent
	if rc.status != nil {
		status = rc.status(rc.n)
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

func newTestWebhook(reg *prometheus.Registry, br BreakerOptions) *Webhook {
	return NewWebhook(WebhookOptions{
		Retry:   RetryOptions{Max: 2, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond},
		Breaker: br,
		Metrics: NewMetrics(reg),
	})
}

func TestWebhookSend(t *testing.T) {
	rc := &receiver{secret: "s3cret"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	reg := prometheus.NewRegistry()
	w := newTestWebhook(reg, BreakerOptions{})

	p := testPage()
	r, err := w.Send(context.Background(), srv.URL+"/page?token=x", "s3cret", p, "page-42-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "page-42-1" || r.Channel != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("receipt %+v", r)
	}
	if rc.badSig != 0 || len(rc.bodies) != 1 {
		t.Fatalf("receiver: %d bad signatures, %d bodies", rc.badSig, len(rc.bodies))
	}
	got := rc.bodies[0]
	want := webhookBody{IncidentID: 42, Title: p.Title, Summary: p.Summary, Labels: p.Labels,
		URL: p.URL, State: "open", DeliveryID: "page-42-1"}
	if got.IncidentID != want.IncidentID || got.Title != want.Title || got.Summary != want.Summary ||
		got.URL != want.URL || got.State != want.State || got.DeliveryID != want.DeliveryID ||
		got.Labels["service"] != "checkout" || len(got.Labels) != 3 {
		t.Errorf("body %+v, want %+v", got, want)
	}
	if rc.deliveries[0] != "page-42-1" {
		t.Errorf("%s = %q", HeaderDelivery, rc.deliveries[0])
	}
	if v := metricValue(t, reg, "quietpager_deliveries_total", "channel", "webhook", "result", "ok"); v != 1 {
		t.Errorf("webhook ok deliveries %v, want 1", v)
	}
}

func TestWebhookErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		permanent bool
		attempts  int
	}{
		{"server error is retried, then retryable", http.StatusInternalServerError, false, 3},
		{"rate limited is retryable", http.StatusTooManyRequests, false, 3},
		{"bad request is permanent", http.StatusBadRequest, true, 1},
		{"gone is permanent", http.StatusGone, true, 1},
		{"redirect is permanent, not followed", http.StatusFound, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{secret: "s3cret", status: func(int) int { return tc.status }}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			w := newTestWebhook(prometheus.NewRegistry(), BreakerOptions{})

			_, err := w.Send(context.Background(), srv.URL, "s3cret", testPage(), "d-1")
			if err == nil || Permanent(err) != tc.permanent {
				t.Fatalf("err = %v, Permanent %v, want %v", err, Permanent(err), tc.permanent)
			}
			if got := rc.count(); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
			for _, d := range rc.deliveries {
				if d != "d-1" {
					t.Errorf("a retry changed the delivery id to %q", d)
				}
			}
		})
	}

	t.Run("wrong secret is refused by the receiver", func(t *testing.T) {
		rc := &receiver{secret: "s3cret"}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		_, err := newTestWebhook(prometheus.NewRegistry(), BreakerOptions{}).
			Send(context.Background(), srv.URL, "wrong", testPage(), "d-1")
		if !Permanent(err) || rc.badSig != 1 {
			t.Fatalf("err = %v, bad signatures %d", err, rc.badSig)
		}
	})

	t.Run("invalid URL is permanent", func(t *testing.T) {
		_, err := newTestWebhook(prometheus.NewRegistry(), BreakerOptions{}).
			Send(context.Background(), "ftp://example.com/x", "s", testPage(), "d-1")
		if !Permanent(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestWebhookBreakerPerHost(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	up := httptest.NewServer(&receiver{secret: "s"})
	defer up.Close()
	reg := prometheus.NewRegistry()
	w := newTestWebhook(reg, BreakerOptions{Failures: 2, OpenFor: time.Minute})
	ctx := context.Background()

	for range 2 {
		if _, err := w.Send(ctx, down.URL, "s", testPage(), "d"); err == nil || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("err = %v", err)
		}
	}
	if _, err := w.Send(ctx, down.URL, "s", testPage(), "d"); !errors.Is(err, ErrCircuitOpen) || Permanent(err) {
		t.Fatalf("err = %v, want retryable ErrCircuitOpen", err)
	}
	if _, err := w.Send(ctx, up.URL, "s", testPage(), "d"); err != nil {
		t.Fatalf("another host is not affected: %v", err)
	}
	downHost := strings.TrimPrefix(down.URL, "http://")
	if v := metricValue(t, reg, "quietpager_breaker_state", "destination", "webhook:"+downHost); v != 2 {
		t.Errorf("breaker state of %s: %v, want 2", downHost, v)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"incident_id":42}`)
	sig := Sign("s3cret", body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q", sig)
	}
	for _, tc := range []struct {
		name   string
		secret string
		body   []byte
		sig    string
		want   bool
	}{
		{"good", "s3cret", body, sig, true},
		{"other secret", "other", body, sig, false},
		{"changed body", "s3cret", []byte(`{"incident_id":43}`), sig, false},
		{"no prefix", "s3cret", body, strings.TrimPrefix(sig, "sha256="), false},
		{"not hex", "s3cret", body, "sha256=zz", false},
		{"empty", "s3cret", body, "", false},
		{"empty secret", "", body, Sign("", body), false},
	} {
		if got := Verify(tc.secret, tc.body, tc.sig); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}
