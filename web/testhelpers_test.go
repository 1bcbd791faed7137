package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager/dedupe"
	dedupestore "github.com/quietpager/quietpager/dedupe/sqlstore"
	"github.com/quietpager/quietpager/ingest"
	tokenstore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/web"
)

// server is the whole webhook and API stack on a fresh SQLite database,
// wired as cmd/quietpager/serve.go wires it.
type server struct {
	t      testing.TB
	URL    string
	DB     *migrations.DB
	Tokens *tokenstore.Tokens
	Token  string // secret of the token named "alertmanager"
	Reg    *prometheus.Registry
}

// newServer starts a server; opts may change the options before it starts.
func newServer(t testing.TB, opts ...func(*web.Options)) *server {
	t.Helper()
	return newServerOn(t, migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite)), opts...)
}

// newServerOn starts a server on db.
func newServerOn(t testing.TB, db *migrations.DB, opts ...func(*web.Options)) *server {
	t.Helper()
	tokens := tokenstore.New(db)
	secret, err := tokens.Create(context.Background(), "alertmanager", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg)
	log := slog.New(slog.DiscardHandler)
	store := dedupestore.New(db, dedupestore.Options{})
	batcher := ingest.NewBatcher(ingest.BatcherOptions{Writer: store, Writers: 1, Metrics: metrics, Logger: log})
	batcher.Start()
	t.Cleanup(batcher.Stop) // before the database closes: cleanups run last first

	o := web.Options{
		Logger:    log,
		Gatherer:  reg,
		Metrics:   metrics,
		Auth:      &ingest.Authenticator{Store: tokens, TTL: 5 * time.Second, Now: time.Now},
		Limiter:   &ingest.RateLimiter{PerSecond: 10000, Burst: 20000},
		Submit:    batcher,
		Alerts:    store,
		Incidents: store,
		Ready: func(ctx context.Context) error {
			if err := db.SQL.PingContext(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			return nil
		},
		MaxBody: 4 << 20,
		Now:     time.Now,
	}
	for _, f := range opts {
		f(&o)
	}
	ts := httptest.NewServer(newHandler(t, o))
	t.Cleanup(ts.Close)
	return &server{t: t, URL: ts.URL, DB: db, Tokens: tokens, Token: secret, Reg: reg}
}

// newHandler is web.New, failing the test on a template error.
func newHandler(t testing.TB, o web.Options) http.Handler {
	t.Helper()
	h, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// response is an answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct == "" || !bytes.HasPrefix([]byte(ct), []byte("application/json")) {
		t.Errorf("Content-Type %q, want application/json (body %s)", ct, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.Body)
	}
}

// ErrorMessage is the "error" field of a JSON error answer; it fails the
// test if there is none.
func (r response) ErrorMessage(t testing.TB) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.JSON(t, &e)
	if e.Error == "" {
		t.Errorf("error answer without an error message: %s", r.Body)
	}
	return e.Error
}

func (s *server) do(req *http.Request) response {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func (s *server) request(method, path string, body io.Reader, header map[string]string) *http.Request {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// post sends a webhook as Alertmanager does, with a bearer token.
func (s *server) post(token string, body []byte) response {
	s.t.Helper()
	h := map[string]string{"Content-Type": "application/json", "User-Agent": "Alertmanager/0.31.1"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return s.do(s.request(http.MethodPost, "/hooks/alertmanager", bytes.NewReader(body), h))
}

// get sends an API request with the server's token.
func (s *server) get(path string) response {
	s.t.Helper()
	return s.do(s.request(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + s.Token}))
}

// alerts lists stored alerts through the API; query is already encoded.
func (s *server) alerts(query string) []dedupe.Alert {
	s.t.Helper()
	r := s.get("/api/v1/alerts?" + query)
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/alerts?%s: %d %s", query, r.Status, r.Body)
	}
	var out struct {
		Alerts []dedupe.Alert `json:"alerts"`
	}
	r.JSON(s.t, &out)
	return out.Alerts
}

func (s *server) episodes(fingerprint string) []dedupe.Episode {
	s.t.Helper()
	r := s.get("/api/v1/episodes?fingerprint=" + url.QueryEscape(fingerprint))
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/episodes: %d %s", r.Status, r.Body)
	}
	var out struct {
		Episodes []dedupe.Episode `json:"episodes"`
	}
	r.JSON(s.t, &out)
	return out.Episodes
}

// storedCount counts alerts straight from the database, so that it works
// whatever the API answers.
func (s *server) storedCount() int {
	s.t.Helper()
	var n int
	if err := s.DB.SQL.QueryRow("SELECT COUNT(*) FROM alerts").Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ingest", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payload is a version 4 webhook body with n firing alerts named
// alertname; pad adds an annotation of that many bytes to the first.
func payload(t testing.TB, alertname string, n, pad int) []byte {
	t.Helper()
	alerts := make([]map[string]any, n)
	for i := range alerts {
		alerts[i] = map[string]any{
			"status":       "firing",
			"labels":       map[string]string{"alertname": alertname, "instance": fmt.Sprintf("host-%d:9100", i), "severity": "page"},
			"annotations":  map[string]string{"summary": alertname + " fires"},
			"startsAt":     "2026-11-03T02:00:00Z",
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090/graph",
		}
	}
	if pad > 0 && n > 0 {
		alerts[0]["annotations"].(map[string]string)["padding"] = string(bytes.Repeat([]byte("x"), pad))
	}
	b, err := json.Marshal(map[string]any{
		"receiver": "web\\.hook", "status": "firing", "alerts": alerts,
		"groupLabels": map[string]string{"alertname": alertname}, "commonLabels": map[string]string{"alertname": alertname},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093",
		"version": "4", "groupKey": `{}:{alertname="` + alertname + `"}`, "truncatedAlerts": 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
