package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer (run) and readers (the
// test) in different goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envFrom returns a getenv that sees only vars, so that the environment of
// whoever runs the tests (a QUIETPAGER_DB, say) cannot change them.
func envFrom(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// noEnv is a getenv with nothing set.
var noEnv = envFrom(nil)

// runCmd runs one CLI command to completion and returns its output.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdWithin(t, 60*time.Second, getenv, args...)
}

// runCmdWithin is runCmd with the command's context cancelled after
// timeout, so that a serve that should have failed but started anyway ends.
func runCmdWithin(t *testing.T, timeout time.Duration, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs a CLI command and fails the test if it returns an error.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCmd(t, noEnv, args...)
	if err != nil {
		t.Fatalf("quietpager %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// createToken creates a token through the CLI and returns its secret, which
// the CLI prints alone on its last line.
func createToken(t *testing.T, dsn, name string) string {
	t.Helper()
	out := mustRun(t, "token", "create", "--name", name, "--db", dsn)
	secret := lastLine(out)
	if secret == "" || strings.ContainsAny(secret, " \t") {
		t.Fatalf("token create: last stdout line is %q, want the secret alone; stdout:\n%s", secret, out)
	}
	return secret
}

// server is a quietpager serve running in this process.
type server struct {
	t      *testing.T
	URL    string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error

	stopOnce sync.Once
	stopErr  error
}

type serveOptions struct {
	args      []string // extra serve flags
	getenv    func(string) string
	skipReady bool // do not wait for /readyz to answer 200
}

// startServer runs `quietpager serve --db dsn --listen 127.0.0.1:0` in a
// goroutine, reads its address from the "listening on" line and waits until
// /readyz answers 200. When the test ends it stops the server and fails the
// test unless run returned nil.
func startServer(t *testing.T, dsn string, extra ...string) *server {
	t.Helper()
	return startServerWith(t, dsn, serveOptions{args: extra})
}

func startServerWith(t *testing.T, dsn string, o serveOptions) *server {
	t.Helper()
	if o.getenv == nil {
		o.getenv = noEnv
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	// The weekly reports go out by the real clock: off unless a test asks.
	args := append([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--weekly-reports=false"}, o.args...)
	go func() {
		err := run(ctx, args, o.getenv, pw, s.stderr)
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		s.done <- err
	}()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("serve returned %v after its context was cancelled, want nil", err)
		}
		if t.Failed() {
			t.Logf("serve stderr:\n%s", s.stderr.String())
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "listening on") {
				lines <- sc.Text()
				found = true
			}
		}
		if !found {
			close(lines)
		}
		io.Copy(io.Discard, pr) // never block run on stdout
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("serve ended without printing its address; stderr:\n%s", s.stderr.String())
		}
		const prefix = "quietpager listening on "
		if !strings.HasPrefix(line, prefix+"http://") {
			t.Fatalf("serve printed %q, want %q followed by the URL", line, prefix)
		}
		s.URL = strings.TrimPrefix(line, prefix)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no address within 30s; stderr:\n%s", s.stderr.String())
	}
	if !o.skipReady {
		waitFor(t, 15*time.Second, "/readyz to answer 200", func() (bool, string) {
			resp, err := http.Get(s.URL + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, body)
		})
	}
	return s
}

// Stop cancels serve's context, as SIGTERM does, and returns what run
// returned. It may be called more than once.
func (s *server) Stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.stopErr = <-s.done:
		case <-time.After(45 * time.Second):
			s.stopErr = errors.New("run did not return within 45s of its context being cancelled")
		}
	})
	return s.stopErr
}

// waitFor polls cond until it holds or timeout passes; cond says why it
// does not hold yet, for the failure message.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// amAlert is one alert of an Alertmanager v4 webhook payload.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// firing returns a firing alert with labels, started a minute ago.
func firing(labels map[string]string) amAlert {
	return amAlert{Status: "firing", Labels: labels, Annotations: map[string]string{},
		StartsAt: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
}

// webhookBody is an Alertmanager v4 webhook payload carrying alerts.
func webhookBody(t testing.TB, alerts ...amAlert) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"version":           "4",
		"groupKey":          `{}:{alertname="test"}`,
		"truncatedAlerts":   0,
		"status":            "firing",
		"receiver":          "r",
		"groupLabels":       map[string]string{},
		"commonLabels":      map[string]string{},
		"commonAnnotations": map[string]string{},
		"externalURL":       "http://am",
		"alerts":            alerts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// postWebhook sends body to the webhook with token as bearer ("" for
// none) and returns the status code and the response body.
func postWebhook(client *http.Client, baseURL, token string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/hooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustPostWebhook posts body and fails the test unless the answer is want.
func mustPostWebhook(t *testing.T, baseURL, token string, body []byte, want int) {
	t.Helper()
	code, resp, err := postWebhook(http.DefaultClient, baseURL, token, body)
	if err != nil {
		t.Fatalf("POST /hooks/alertmanager: %v", err)
	}
	if code != want {
		t.Fatalf("POST /hooks/alertmanager answered %d %s, want %d", code, resp, want)
	}
}

// apiAlert and apiEpisode are what quietpager's JSON API returns.
type apiAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	GeneratorURL string            `json:"generator_url"`
	Receiver     string            `json:"receiver"`
	GroupKey     string            `json:"group_key"`
	State        string            `json:"state"`
	Episodes     int               `json:"episodes"`
}

type apiEpisode struct {
	Fingerprint   string     `json:"fingerprint"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at"`
	State         string     `json:"state"`
	Notifications int        `json:"notifications"`
}

// getJSON GETs baseURL+path with the bearer token and decodes a 200 answer
// into out.
func getJSON(baseURL, path, token string, out any) error {
	req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

func listAlerts(baseURL, token string) ([]apiAlert, error) {
	var out struct {
		Alerts []apiAlert `json:"alerts"`
	}
	err := getJSON(baseURL, "/api/v1/alerts", token, &out)
	return out.Alerts, err
}

func listEpisodes(baseURL, token, fingerprint string) ([]apiEpisode, error) {
	var out struct {
		Episodes []apiEpisode `json:"episodes"`
	}
	err := getJSON(baseURL, "/api/v1/episodes?fingerprint="+fingerprint, token, &out)
	return out.Episodes, err
}
