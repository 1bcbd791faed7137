package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/integrations/mailpittest"
)

// mailpit is a real SMTP server with an API to read the mail back.
type mailpit struct {
	api      string // http://127.0.0.1:PORT
	smtpPort int
}

func startMailpit(t *testing.T, extraArgs ...string) *mailpit {
	t.Helper()
	s, ok := mailpittest.Start(t, extraArgs...)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	return &mailpit{api: s.API, smtpPort: s.SMTPPort}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (m *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type mailpitAddress struct{ Name, Address string }

type mailpitSummary struct {
	ID        string
	MessageID string
	To        []mailpitAddress
	Subject   string
}

type mailpitMessage struct {
	mailpitSummary
	From mailpitAddress
	Text string
	HTML string
}

func (m *mailpit) messages(t *testing.T) []mailpitSummary {
	t.Helper()
	var list struct{ Messages []mailpitSummary }
	m.get(t, "/api/v1/messages", &list)
	return list.Messages
}

func TestMailSend(t *testing.T) {
	mp := startMailpit(t)
	reg := prometheus.NewRegistry()
	m := NewMailer(MailOptions{
		Host: "127.0.0.1", Port: mp.smtpPort, From: "quietpager <pager@quietpager.example.com>",
		Metrics: NewMetrics(reg),
	})
	p := testPage()
	ctx := context.Background()

	r, err := m.Send(ctx, "oncall@example.com", p, "<page-42@quietpager>")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "<page-42@quietpager>" || r.Channel != "oncall@example.com" {
		t.Errorf("receipt %+v", r)
	}

	list := mp.messages(t)
	if len(list) != 1 {
		t.Fatalf("mailpit holds %d messages, want 1", len(list))
	}
	var msg mailpitMessage
	mp.get(t, "/api/v1/message/"+list[0].ID, &msg)
	if len(msg.To) != 1 || msg.To[0].Address != "oncall@example.com" {
		t.Errorf("To = %+v", msg.To)
	}
	if msg.From.Address != "pager@quietpager.example.com" {
		t.Errorf("From = %+v", msg.From)
	}
	if !strings.Contains(msg.Subject, p.Title) {
		t.Errorf("subject %q lacks the title", msg.Subject)
	}
	if msg.MessageID != "page-42@quietpager" {
		t.Errorf("Message-ID %q, want page-42@quietpager", msg.MessageID)
	}
	for _, want := range []string{p.Title, p.Summary, "service=checkout", p.URL} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, msg.Text)
		}
	}
	for _, want := range []string{
		"HighErrorRate on checkout &lt;!channel&gt;", // escaped, not markup
		`href="https://quietpager.example.com/incidents/42"`,
		"5xx ratio 12% over 5m &amp; rising",
	} {
		if !strings.Contains(msg.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, msg.HTML)
		}
	}
	var headers map[string][]string
	mp.get(t, "/api/v1/message/"+list[0].ID+"/headers", &headers)
	if got := headers["Auto-Submitted"]; len(got) != 1 || got[0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if got := headers["X-Quietpager-Incident"]; len(got) != 1 || got[0] != "42" {
		t.Errorf("X-Quietpager-Incident = %q", got)
	}

	// A retry (say after a timeout at the end of DATA) carries the same
	// Message-ID, so mail clients can fold the two into one.
	p.State, p.Actor = StateAcknowledged, "alice"
	if _, err := m.Send(ctx, "oncall@example.com", p, "page-42@quietpager"); err != nil {
		t.Fatal(err)
	}
	list = mp.messages(t)
	if len(list) != 2 || list[0].MessageID != list[1].MessageID {
		t.Errorf("second send: %+v", list)
	}
	if got := metricValue(t, reg, "quietpager_deliveries_total", "channel", "email", "result", "ok"); got != 2 {
		t.Errorf("email ok deliveries %v, want 2", got)
	}
}

func TestMailPermanentErrors(t *testing.T) {
	mp := startMailpit(t, "--smtp-allowed-recipients", `@example\.com$`)
	reg := prometheus.NewRegistry()
	m := NewMailer(MailOptions{
		Host: "127.0.0.1", Port: mp.smtpPort, From: "pager@quietpager.example.com",
		Breaker: BreakerOptions{Failures: 1}, Metrics: NewMetrics(reg),
	})
	ctx := context.Background()

	for _, tc := range []struct{ name, to, id string }{
		{"not an address", "not an address", "<page-1@quietpager>"},
		{"no Message-ID", "oncall@example.com", ""},
		{"refused by the server", "someone@elsewhere.example.org", "<page-1@quietpager>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Send(ctx, tc.to, testPage(), tc.id)
			if !Permanent(err) {
				t.Fatalf("err = %v, want Permanent", err)
			}
		})
	}
	// A breaker that opens on one failure is still closed: the server
	// answered, so it is up.
	if got := metricValue(t, reg, "quietpager_breaker_state", "destination", "smtp"); got != 0 {
		t.Errorf("breaker state %v, want 0", got)
	}
	if _, err := m.Send(ctx, "oncall@example.com", testPage(), "<page-1@quietpager>"); err != nil {
		t.Errorf("good send after refusals: %v", err)
	}
}

func TestMailRefusedConnectionOpensBreaker(t *testing.T) {
	port := freePort(t) // closed again: nothing listens there
	reg := prometheus.NewRegistry()
	m := NewMailer(MailOptions{
		Host: "127.0.0.1", Port: port, From: "pager@quietpager.example.com",
		Timeout: 2 * time.Second, Metrics: NewMetrics(reg),
	})
	ctx := context.Background()

	for i := range 5 {
		_, err := m.Send(ctx, "oncall@example.com", testPage(), "<page-"+strconv.Itoa(i)+"@quietpager>")
		if err == nil || Permanent(err) || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("send %d: %v, want a retryable error", i+1, err)
		}
	}
	if got := metricValue(t, reg, "quietpager_breaker_state", "destination", "smtp"); got != 2 {
		t.Errorf("breaker state %v, want 2 (open)", got)
	}
	_, err := m.Send(ctx, "oncall@example.com", testPage(), "<page-5@quietpager>")
	if !errors.Is(err, ErrCircuitOpen) || Permanent(err) {
		t.Fatalf("send while open: %v, want retryable ErrCircuitOpen", err)
	}
	if got := metricValue(t, reg, "quietpager_deliveries_total", "channel", "email", "result", "retryable"); got != 5 {
		t.Errorf("retryable deliveries %v, want 5", got)
	}
}
