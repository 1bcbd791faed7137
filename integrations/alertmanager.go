package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AlertmanagerOptions configure the Alertmanager API client.
type AlertmanagerOptions struct {
	URL string // base URL, e.g. http://alertmanager:9093
	// Username and Password, when Username is set, are sent as basic auth.
	Username, Password string
	HTTPClient         *http.Client
	Retry              RetryOptions
	Breaker            BreakerOptions
	Metrics            *Metrics
}

// Alertmanager creates silences through Alertmanager's API v2. It is safe
// for concurrent use.
type Alertmanager struct {
	o       AlertmanagerOptions
	client  *http.Client
	breaker *breaker
}

// NewAlertmanager builds an Alertmanager client.
func NewAlertmanager(o AlertmanagerOptions) *Alertmanager {
	o.URL = strings.TrimSuffix(o.URL, "/")
	return &Alertmanager{o: o, client: newRetryingClient(o.HTTPClient, o.Retry),
		breaker: newBreaker("alertmanager", o.Breaker, o.Metrics)}
}

// SilenceRequest is one silence: every matcher an equality on one label.
type SilenceRequest struct {
	Matchers  map[string]string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
}

type amMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

type amSilence struct {
	Matchers  []amMatcher `json:"matchers"`
	StartsAt  time.Time   `json:"startsAt"`
	EndsAt    time.Time   `json:"endsAt"`
	CreatedBy string      `json:"createdBy"`
	Comment   string      `json:"comment"`
}

// CreateSilence POSTs the silence to /api/v2/silences and returns its id.
// A request without matchers is refused before it is sent: it would
// silence everything.
//
// The request is not resent after an error that leaves its outcome
// unknown (that could make two silences); such errors wrap ErrAmbiguous.
func (a *Alertmanager) CreateSilence(ctx context.Context, s SilenceRequest) (string, error) {
	if len(s.Matchers) == 0 {
		return "", permanent(errors.New("alertmanager: a silence needs at least one matcher"))
	}
	body := amSilence{StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(), CreatedBy: s.CreatedBy, Comment: s.Comment}
	for _, name := range slices.Sorted(maps.Keys(s.Matchers)) {
		body.Matchers = append(body.Matchers, amMatcher{Name: name, Value: s.Matchers[name], IsEqual: true})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return "", permanent(err)
	}
	var id string
	err = a.breaker.do(ctx, func() error {
		req, err := http.NewRequestWithContext(nonIdempotent(ctx), http.MethodPost, a.o.URL+"/api/v2/silences", bytes.NewReader(raw))
		if err != nil {
			return permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if a.o.Username != "" {
			req.SetBasicAuth(a.o.Username, a.o.Password)
		}
		resp, err := a.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			err := fmt.Errorf("POST /api/v2/silences: %s: %s", resp.Status, strings.TrimSpace(string(b)))
			if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return permanent(err)
			}
			return err
		}
		var out struct {
			SilenceID string `json:"silenceID"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.SilenceID == "" {
			return fmt.Errorf("POST /api/v2/silences: answer without a silenceID: %s", b)
		}
		id = out.SilenceID
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("alertmanager silence: %w", err)
	}
	return id, nil
}
