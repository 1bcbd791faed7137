package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager/integrations/slackbot/slackbottest"
	"github.com/quietpager/quietpager/web"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// recordingBot is the SlackBot the web layer talks to, recording what
// reached it: the tests here are about what the web layer lets through.
type recordingBot struct {
	mu       sync.Mutex
	commands []slack.SlashCommand
	clicks   []slack.InteractionCallback
}

func (b *recordingBot) Command(_ context.Context, c slack.SlashCommand) slack.Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.commands = append(b.commands, c)
	return slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: "you said " + c.Text}
}

func (b *recordingBot) Interact(_ context.Context, cb slack.InteractionCallback) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clicks = append(b.clicks, cb)
}

func (b *recordingBot) count() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.commands), len(b.clicks)
}

func slackServer(t *testing.T) (*server, *recordingBot) {
	bot := &recordingBot{}
	s := newServer(t, func(o *web.Options) {
		o.SlackBot, o.SlackSigningSecret = bot, signingSecret
	})
	return s, bot
}

func commandBody(text string) []byte {
	return []byte(url.Values{"command": {"/oncall"}, "text": {text}, "user_id": {"U0ALICE"},
		"response_url": {"https://hooks.slack.com/commands/T0/1/x"}}.Encode())
}

func (s *server) slack(path string, body []byte, header http.Header) response {
	s.t.Helper()
	req := s.request(http.MethodPost, path, bytes.NewReader(body), nil)
	req.Header = header
	return s.do(req)
}

func TestSlackCommandSigned(t *testing.T) {
	s, bot := slackServer(t)
	body := commandBody("ack 42")
	r := s.slack("/slack/commands", body, slackbottest.Headers(signingSecret, time.Now(), body))
	if r.Status != http.StatusOK {
		t.Fatalf("signed command: %d %s", r.Status, r.Body)
	}
	var msg slack.Msg
	r.JSON(t, &msg)
	if msg.Text != "you said ack 42" || msg.ResponseType != "ephemeral" {
		t.Errorf("answer %+v, want the bot's reply", msg)
	}
	if len(bot.commands) != 1 || bot.commands[0].UserID != "U0ALICE" || bot.commands[0].Command != "/oncall" ||
		bot.commands[0].ResponseURL != "https://hooks.slack.com/commands/T0/1/x" {
		t.Errorf("the bot got %+v", bot.commands)
	}
}

func TestSlackInteractionSigned(t *testing.T) {
	s, bot := slackServer(t)
	payload, err := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": "U0BOB"},
		"response_url": "https://hooks.slack.com/actions/T0/1/y",
		"actions": []map[string]string{{"action_id": "ack", "block_id": "quietpager_actions", "value": "42", "type": "button",
			"action_ts": "1795600000.000100"}}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	r := s.slack("/slack/interactions", body, slackbottest.Headers(signingSecret, time.Now(), body))
	if r.Status != http.StatusOK {
		t.Fatalf("signed click: %d %s", r.Status, r.Body)
	}
	if len(bot.clicks) != 1 {
		t.Fatalf("the bot got %d clicks", len(bot.clicks))
	}
	cb := bot.clicks[0]
	if cb.User.ID != "U0BOB" || len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].ActionID != "ack" ||
		cb.ActionCallback.BlockActions[0].Value != "42" || cb.ResponseURL != "https://hooks.slack.com/actions/T0/1/y" {
		t.Errorf("the bot got %+v", cb)
	}
	// A signed body that is not an interaction is a 400.
	body = []byte("payload=%7Bnot-json")
	if r := s.slack("/slack/interactions", body, slackbottest.Headers(signingSecret, time.Now(), body)); r.Status != http.StatusBadRequest {
		t.Errorf("signed garbage: %d, want 400", r.Status)
	}
}

// Requests Slack did not sign, or signed long ago, are refused and never
// reach the bot.
func TestSlackSignatureRefused(t *testing.T) {
	s, bot := slackServer(t)
	body := commandBody("resolve 42")
	valid := slackbottest.Headers(signingSecret, time.Now(), body)
	for _, c := range []struct {
		name   string
		path   string
		body   []byte
		header http.Header
	}{
		{"forged (wrong secret)", "/slack/commands", body, slackbottest.Headers("not-the-secret", time.Now(), body)},
		{"stale (six minutes old)", "/slack/commands", body, slackbottest.Headers(signingSecret, time.Now().Add(-6*time.Minute), body)},
		{"from the future", "/slack/commands", body, slackbottest.Headers(signingSecret, time.Now().Add(6*time.Minute), body)},
		{"replayed with a changed body", "/slack/commands", commandBody("resolve 43"), valid},
		{"replayed to the other endpoint with a changed body", "/slack/interactions", []byte("payload=%7B%7D"), valid},
		{"no signature", "/slack/commands", body, without(valid, "X-Slack-Signature")},
		{"no timestamp", "/slack/commands", body, without(valid, "X-Slack-Request-Timestamp")},
		{"signature not hex", "/slack/commands", body, with(valid, "X-Slack-Signature", "v0=zz")},
		{"no headers at all", "/slack/interactions", body, http.Header{}},
	} {
		r := s.slack(c.path, c.body, c.header)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", c.name, r.Status, r.Body)
			continue
		}
		if msg := r.ErrorMessage(t); msg != "the request is not signed by Slack" {
			t.Errorf("%s: message %q", c.name, msg)
		}
	}
	if n, m := bot.count(); n != 0 || m != 0 {
		t.Errorf("refused requests reached the bot: %d commands, %d clicks", n, m)
	}
	// The valid request still passes after all that.
	if r := s.slack("/slack/commands", body, valid); r.Status != http.StatusOK {
		t.Errorf("valid request: %d %s", r.Status, r.Body)
	}
}

func TestSlackBodyLimit(t *testing.T) {
	s, bot := slackServer(t)
	body := commandBody(strings.Repeat("x", 2<<20))
	if r := s.slack("/slack/commands", body, slackbottest.Headers(signingSecret, time.Now(), body)); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB command: %d, want 413", r.Status)
	}
	if n, _ := bot.count(); n != 0 {
		t.Errorf("an oversized request reached the bot")
	}
}

// Without a bot (no signing secret configured) the routes do not exist.
func TestSlackRoutesOff(t *testing.T) {
	s := newServer(t)
	body := commandBody("who")
	if r := s.slack("/slack/commands", body, slackbottest.Headers(signingSecret, time.Now(), body)); r.Status != http.StatusNotFound {
		t.Errorf("without a bot: %d, want 404", r.Status)
	}
}

func without(h http.Header, name string) http.Header {
	h = h.Clone()
	h.Del(name)
	return h
}

func with(h http.Header, name, value string) http.Header {
	h = h.Clone()
	h.Set(name, value)
	return h
}
