package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// fakeSlack is slacktest's server behind a front that records every call
// and can inject failures. slacktest lacks chat.update and
// conversations.open, and answers users.lookupByEmail with one fixed user,
// so those are added as custom handlers.
type fakeSlack struct {
	st    *slacktest.Server
	front *httptest.Server

	mu    sync.Mutex
	calls []slackCall
	hits  map[string]int
	// intercept, when set, may answer a call itself (returning true)
	// instead of passing it to slacktest. n counts calls to the method,
	// from 1.
	intercept func(w http.ResponseWriter, r *http.Request, method string, n int) bool
}

type slackCall struct {
	Method string
	Form   url.Values
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{hits: map[string]int{}}
	f.st = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			if r.Form.Get("ts") == "404.000" {
				writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
				return
			}
			writeJSON(w, map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
		})
		c.Handle("/conversations.open", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + r.Form.Get("users")}})
		})
		c.Handle("/users.lookupByEmail", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			if r.Form.Get("email") != "alice@example.com" {
				writeJSON(w, map[string]any{"ok": false, "error": "users_not_found"})
				return
			}
			writeJSON(w, map[string]any{"ok": true, "user": map[string]any{"id": "U0ALICE", "name": "alice"}})
		})
	})
	f.st.Start()
	t.Cleanup(f.st.Stop)

	backend, err := url.Parse(f.st.GetAPIURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		method := strings.TrimPrefix(r.URL.Path, "/")
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{Method: method, Form: form})
		f.hits[method]++
		n := f.hits[method]
		intercept := f.intercept
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if intercept != nil && intercept(w, r, method, n) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.front.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) setIntercept(fn func(w http.ResponseWriter, r *http.Request, method string, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

func (f *fakeSlack) hitCount(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method]
}

func (f *fakeSlack) callsTo(method string) []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSlack) client(reg *prometheus.Registry, retry RetryOptions, br BreakerOptions) *Slack {
	if retry.WaitMin == 0 {
		retry.WaitMin, retry.WaitMax = time.Millisecond, 5*time.Millisecond
	}
	return NewSlack(SlackOptions{
		Token:   "xoxb-test",
		APIURL:  f.front.URL + "/",
		Retry:   retry,
		Breaker: br,
		Metrics: NewMetrics(reg),
	})
}

// decodeBlocks returns the blocks of a recorded message.
func decodeBlocks(t *testing.T, c slackCall) slack.Blocks {
	t.Helper()
	var b slack.Blocks
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &b); err != nil {
		t.Fatalf("blocks: %v\n%s", err, c.Form.Get("blocks"))
	}
	return b
}

// buttons returns action id → button of the actions block, nil if none.
func buttons(t *testing.T, blocks slack.Blocks) map[string]*slack.ButtonBlockElement {
	t.Helper()
	for _, b := range blocks.BlockSet {
		ab, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		out := map[string]*slack.ButtonBlockElement{}
		for _, e := range ab.Elements.ElementSet {
			if btn, ok := e.(*slack.ButtonBlockElement); ok {
				out[btn.ActionID] = btn
			}
		}
		return out
	}
	return nil
}

// blockText joins every text of the section and context blocks.
func blockText(blocks slack.Blocks) string {
	var parts []string
	for _, b := range blocks.BlockSet {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				parts = append(parts, b.Text.Text)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if tb, ok := e.(*slack.TextBlockObject); ok {
					parts = append(parts, tb.Text)
				}
			}
		}
	}
	return strings.Join(parts, "\n")
}

func TestSlackPost(t *testing.T) {
	f := newFakeSlack(t)
	reg := prometheus.NewRegistry()
	s := f.client(reg, RetryOptions{}, BreakerOptions{})

	r, err := s.Post(context.Background(), "C0PAYMENTS", "U0ALICE", testPage())
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel != "C0PAYMENTS" || r.ID == "" {
		t.Fatalf("receipt %+v", r)
	}
	calls := f.callsTo("chat.postMessage")
	if len(calls) != 1 {
		t.Fatalf("%d posts, want 1", len(calls))
	}
	c := calls[0]
	if got := c.Form.Get("channel"); got != "C0PAYMENTS" {
		t.Errorf("channel %q", got)
	}
	if got := c.Form.Get("text"); !strings.HasPrefix(got, "<@U0ALICE> ") {
		t.Errorf("fallback text %q lacks the mention", got)
	}
	blocks := decodeBlocks(t, c)
	text := blockText(blocks)
	for _, want := range []string{
		"<@U0ALICE>",
		"<https://quietpager.example.com/incidents/42|HighErrorRate on checkout &lt;!channel&gt;>",
		"5xx ratio 12% over 5m &amp; rising",
		"`alertname=HighErrorRate` `service=checkout` `severity=page`",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!channel>") {
		t.Error("an alert's title could @channel")
	}
	btns := buttons(t, blocks)
	for _, id := range []string{ActionAck, ActionResolve, ActionSilence1h, ActionSilence4h, ActionSilence24h, ActionNotActionable, ActionOpen} {
		b, ok := btns[id]
		if !ok {
			t.Errorf("no %q button", id)
			continue
		}
		if b.Value != "42" {
			t.Errorf("button %q value %q, want the incident id", id, b.Value)
		}
	}
	if got := btns[ActionOpen]; got != nil && got.URL != "https://quietpager.example.com/incidents/42" {
		t.Errorf("link button URL %q", got.URL)
	}
	if got := metricValue(t, reg, "quietpager_deliveries_total", "channel", "slack", "result", "ok"); got != 1 {
		t.Errorf("deliveries ok = %v, want 1", got)
	}
}

func TestSlackDirectMessage(t *testing.T) {
	f := newFakeSlack(t)
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})

	r, err := s.DirectMessage(context.Background(), "U0BOB", testPage())
	if err != nil {
		t.Fatal(err)
	}
	open := f.callsTo("conversations.open")
	if len(open) != 1 || open[0].Form.Get("users") != "U0BOB" {
		t.Fatalf("conversations.open calls: %+v", open)
	}
	posts := f.callsTo("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("channel") != "DU0BOB" {
		t.Fatalf("posts: %+v", posts)
	}
	if r.Channel != "DU0BOB" || r.ID == "" {
		t.Errorf("receipt %+v", r)
	}
}

func TestSlackUpdate(t *testing.T) {
	f := newFakeSlack(t)
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})
	ctx := context.Background()

	r, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage())
	if err != nil {
		t.Fatal(err)
	}

	p := testPage()
	p.State, p.Actor = StateAcknowledged, "alice"
	if err := s.Update(ctx, r, p); err != nil {
		t.Fatal(err)
	}
	p.State = StateResolved
	if err := s.Update(ctx, r, p); err != nil {
		t.Fatal(err)
	}

	updates := f.callsTo("chat.update")
	if len(updates) != 2 {
		t.Fatalf("%d updates, want 2", len(updates))
	}
	for _, u := range updates {
		if u.Form.Get("channel") != r.Channel || u.Form.Get("ts") != r.ID {
			t.Errorf("update of %s/%s, want %s/%s", u.Form.Get("channel"), u.Form.Get("ts"), r.Channel, r.ID)
		}
	}
	acked := decodeBlocks(t, updates[0])
	if txt := blockText(acked); !strings.Contains(txt, "Acknowledged by alice") {
		t.Errorf("acknowledged message:\n%s", txt)
	}
	btns := buttons(t, acked)
	if _, ok := btns[ActionAck]; ok {
		t.Error("acknowledged message still offers Acknowledge")
	}
	if _, ok := btns[ActionResolve]; !ok {
		t.Error("acknowledged message lost Resolve")
	}
	resolved := decodeBlocks(t, updates[1])
	if txt := blockText(resolved); !strings.Contains(txt, "Resolved by alice") {
		t.Errorf("resolved message:\n%s", txt)
	}
	if btns := buttons(t, resolved); btns != nil {
		t.Errorf("resolved message keeps buttons: %v", btns)
	}

	err = s.Update(ctx, Receipt{Channel: r.Channel, ID: "404.000"}, p)
	if !Permanent(err) {
		t.Errorf("update of a missing message: %v, want Permanent", err)
	}
}

func TestSlackLookupByEmail(t *testing.T) {
	f := newFakeSlack(t)
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})

	id, err := s.LookupByEmail(context.Background(), "alice@example.com")
	if err != nil || id != "U0ALICE" {
		t.Fatalf("LookupByEmail = %q, %v", id, err)
	}
	_, err = s.LookupByEmail(context.Background(), "nobody@example.com")
	if !Permanent(err) {
		t.Fatalf("unknown address: %v, want Permanent", err)
	}
	if got := f.hitCount("users.lookupByEmail"); got != 2 {
		t.Errorf("%d calls, want 2 (users_not_found is not retried)", got)
	}
}

func TestSlackRetriesServerError(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		if method == "chat.postMessage" && n == 1 {
			http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
			return true
		}
		return false
	})
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})

	if _, err := s.Post(context.Background(), "C0PAYMENTS", "U0ALICE", testPage()); err != nil {
		t.Fatal(err)
	}
	if got := f.hitCount("chat.postMessage"); got != 2 {
		t.Errorf("%d attempts, want 2", got)
	}
}

func TestSlackHonoursRetryAfter(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		if method == "chat.postMessage" && n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})

	start := time.Now()
	if _, err := s.Post(context.Background(), "C0PAYMENTS", "U0ALICE", testPage()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, before Retry-After", waited)
	}
	if got := f.hitCount("chat.postMessage"); got != 2 {
		t.Errorf("%d attempts, want 2", got)
	}
}

func TestSlackRetryAfterBeyondCapIsLeftToTheCaller(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	s := f.client(prometheus.NewRegistry(), RetryOptions{MaxRetryAfter: 5 * time.Second}, BreakerOptions{})

	start := time.Now()
	_, err := s.Post(context.Background(), "C0PAYMENTS", "U0ALICE", testPage())
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 120*time.Second {
		t.Fatalf("err = %v, want a RateLimitedError of 120s", err)
	}
	if Permanent(err) {
		t.Error("rate limiting is not permanent")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("held the call for %v", d)
	}
	if got := f.hitCount("chat.postMessage"); got != 1 {
		t.Errorf("%d attempts, want 1", got)
	}
}

func TestSlackPermanentErrorsDoNotTripTheBreaker(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return true
	})
	reg := prometheus.NewRegistry()
	s := f.client(reg, RetryOptions{}, BreakerOptions{Failures: 2})

	for i := range 5 {
		_, err := s.Post(context.Background(), "C0GONE", "", testPage())
		if !Permanent(err) || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d: %v, want Permanent", i+1, err)
		}
	}
	if got := f.hitCount("chat.postMessage"); got != 5 {
		t.Errorf("%d attempts, want 5 (no retries, no breaker)", got)
	}
	if got := metricValue(t, reg, "quietpager_breaker_state", "destination", "slack"); got != 0 {
		t.Errorf("breaker state %v, want 0 (closed)", got)
	}
	if got := metricValue(t, reg, "quietpager_deliveries_total", "channel", "slack", "result", "permanent"); got != 5 {
		t.Errorf("permanent deliveries %v, want 5", got)
	}
}

func TestSlackBreaker(t *testing.T) {
	f := newFakeSlack(t)
	var healthy sync.Mutex // held while Slack is down
	down := true
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		healthy.Lock()
		defer healthy.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	reg := prometheus.NewRegistry()
	const openFor = 300 * time.Millisecond
	s := f.client(reg, RetryOptions{Max: 2}, BreakerOptions{Failures: 5, OpenFor: openFor})
	ctx := context.Background()
	state := func() float64 { return metricValue(t, reg, "quietpager_breaker_state", "destination", "slack") }

	for i := range 5 {
		_, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage())
		if err == nil || Permanent(err) || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d: %v, want a retryable server error", i+1, err)
		}
	}
	if got := f.hitCount("chat.postMessage"); got != 15 {
		t.Fatalf("%d attempts, want 15 (5 calls × 3 attempts)", got)
	}
	if got := state(); got != 2 {
		t.Fatalf("breaker state %v, want 2 (open)", got)
	}

	start := time.Now()
	_, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage())
	if !errors.Is(err, ErrCircuitOpen) || Permanent(err) {
		t.Fatalf("call while open: %v, want retryable ErrCircuitOpen", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("open breaker took %v to refuse", d)
	}
	if got := f.hitCount("chat.postMessage"); got != 15 {
		t.Errorf("open breaker let a call through: %d attempts", got)
	}
	if got := metricValue(t, reg, "quietpager_deliveries_total", "channel", "slack", "result", "circuit_open"); got != 1 {
		t.Errorf("circuit_open deliveries %v, want 1", got)
	}

	time.Sleep(openFor + 50*time.Millisecond)
	if got := state(); got != 1 {
		t.Fatalf("breaker state after %v: %v, want 1 (half-open)", openFor, got)
	}
	healthy.Lock()
	down = false
	healthy.Unlock()
	if _, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if got := state(); got != 0 {
		t.Errorf("breaker state after a good probe: %v, want 0 (closed)", got)
	}
}

// A post whose answer never comes may have been posted: it is not resent
// (that could page twice) and the error says so. An update is idempotent,
// so the same failure is retried.
func TestSlackAmbiguousPostIsNotResent(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close() // the request arrived; the answer never leaves
		return true
	})
	s := f.client(prometheus.NewRegistry(), RetryOptions{Max: 2}, BreakerOptions{})
	ctx := context.Background()

	_, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage())
	if !errors.Is(err, ErrAmbiguous) || Permanent(err) {
		t.Fatalf("err = %v, want retryable ErrAmbiguous", err)
	}
	if got := f.hitCount("chat.postMessage"); got != 1 {
		t.Errorf("post sent %d times, want 1", got)
	}

	err = s.Update(ctx, Receipt{Channel: "C0PAYMENTS", ID: "1.000"}, testPage())
	if err == nil || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("update err = %v", err)
	}
	if got := f.hitCount("chat.update"); got != 3 {
		t.Errorf("update sent %d times, want 3", got)
	}
}

func TestSlackRespectsContext(t *testing.T) {
	f := newFakeSlack(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	s := f.client(prometheus.NewRegistry(), RetryOptions{}, BreakerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := s.Post(ctx, "C0PAYMENTS", "U0ALICE", testPage())
	if err == nil || Permanent(err) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v past the context's deadline", d)
	}
}
