package integrations

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Webhook headers.
const (
	HeaderSignature = "X-Quietpager-Signature" // "sha256=" + hex HMAC-SHA256 of the body
	HeaderDelivery  = "X-Quietpager-Delivery"  // the delivery id, the same on every retry
)

// WebhookOptions configure the webhook sender.
type WebhookOptions struct {
	// HTTPClient makes each attempt; retries are layered on top of it.
	HTTPClient *http.Client
	Retry      RetryOptions
	// Breaker is applied per destination host.
	Breaker BreakerOptions
	Metrics *Metrics
	// UserAgent defaults to "quietpager".
	UserAgent string
}

// Webhook posts pages as signed JSON, for a team's SMS or phone gateway.
// It is safe for concurrent use.
type Webhook struct {
	o      WebhookOptions
	client *http.Client

	mu       sync.Mutex
	breakers map[string]*breaker // by host
}

// NewWebhook builds a Webhook sender.
func NewWebhook(o WebhookOptions) *Webhook {
	if o.UserAgent == "" {
		o.UserAgent = "quietpager"
	}
	base := o.HTTPClient
	if base == nil {
		// Redirects are not followed: a signed page must not wander to
		// another host, and a POST turned into a GET would not be a page.
		// A 3xx answer is Permanent: the URL needs fixing.
		base = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   o.Retry.withDefaults().AttemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return &Webhook{o: o, client: newRetryingClient(base, o.Retry), breakers: map[string]*breaker{}}
}

// webhookBody is what a receiver gets.
type webhookBody struct {
	IncidentID int64             `json:"incident_id"`
	Title      string            `json:"title"`
	Summary    string            `json:"summary"`
	Labels     map[string]string `json:"labels"`
	URL        string            `json:"url"`
	State      string            `json:"state"`
	Actor      string            `json:"actor,omitempty"`
	DeliveryID string            `json:"delivery_id"`
}

// Send POSTs the page as JSON to url, signed with secret (no signature
// header when secret is empty). deliveryID must be the same on every retry
// of one delivery: receivers use it to drop duplicates, which is why,
// unlike Slack posts, webhook requests are resent after ambiguous failures.
//
// 2xx is success; 429, 5xx and network errors are retryable; any other
// answer is Permanent.
func (w *Webhook) Send(ctx context.Context, rawURL, secret string, p Page, deliveryID string) (Receipt, error) {
	r, err := w.send(ctx, rawURL, secret, p, deliveryID)
	w.o.Metrics.delivered(channelWebhook, err)
	return r, err
}

func (w *Webhook) send(ctx context.Context, rawURL, secret string, p Page, deliveryID string) (Receipt, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Receipt{}, permanent(fmt.Errorf("webhook: invalid URL %q", redact(rawURL)))
	}
	if deliveryID == "" {
		return Receipt{}, permanent(errors.New("webhook: no delivery id"))
	}
	labels := p.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	body, err := json.Marshal(webhookBody{
		IncidentID: p.IncidentID, Title: p.Title, Summary: p.Summary, Labels: labels,
		URL: p.URL, State: p.State, Actor: p.Actor, DeliveryID: deliveryID,
	})
	if err != nil {
		return Receipt{}, permanent(fmt.Errorf("webhook: %w", err))
	}

	err = w.breaker(u.Host).do(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", w.o.UserAgent)
		req.Header.Set(HeaderDelivery, deliveryID)
		if secret != "" {
			req.Header.Set(HeaderSignature, Sign(secret, body))
		}
		resp, err := w.client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				ue.URL = redact(ue.URL) // the query may hold a token
			}
			return err
		}
		defer resp.Body.Close()
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return fmt.Errorf("answered %s: %s", resp.Status, oneLine(string(snippet)))
		default:
			return permanent(fmt.Errorf("answered %s: %s", resp.Status, oneLine(string(snippet))))
		}
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("webhook %s: %w", u.Host, err)
	}
	return Receipt{Channel: u.Host, ID: deliveryID}, nil
}

func (w *Webhook) breaker(host string) *breaker {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.breakers[host]
	if !ok {
		b = newBreaker("webhook:"+host, w.o.Breaker, w.o.Metrics)
		w.breakers[host] = b
	}
	return b
}

// redact drops the user info and query of a URL, which may hold tokens.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		u.RawQuery = ""
		return u.String()
	}
	return "(unparsable)"
}

// Sign returns the X-Quietpager-Signature value for body: "sha256=" and the
// hex HMAC-SHA256 of the body with secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature (an X-Quietpager-Signature value) is
// the signature of body with secret. An empty secret verifies nothing.
func Verify(secret string, body []byte, signature string) bool {
	if secret == "" {
		return false
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
