package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
	tokenstore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
)

// onCallYAML is a small on-call configuration: a daily and a weekly
// rotation handing over at 09:00 Berlin time, and a follow-the-sun rotation
// of fixed 12-hour shifts in New York.
const onCallYAML = `
people:
  - name: alice
    email: alice@example.com
    slack_id: U0ALICE
    time_zone: Europe/Berlin
  - name: bob
    email: bob@example.com
    time_zone: Europe/Berlin
  - name: carol
    email: carol@example.com
    time_zone: America/New_York
  - name: dave
    email: dave@example.com
    time_zone: America/New_York
teams:
  - name: payments
    time_zone: Europe/Berlin
    members: [alice, bob, carol, dave]
rotations:
  - name: primary
    team: payments
    members: [alice, bob, carol]
    shift: 1d
    start: "2026-10-19T09:00"
  - name: weekly
    team: payments
    members: [carol, alice]
    shift: 1w
    start: "2026-10-26T09:00"
  - name: sun
    team: payments
    members: [carol, dave]
    shift: 12h
    start: "2026-10-26T08:00"
    time_zone: America/New_York
escalation:
  - team: payments
    steps:
      - delay: 0m
        rotation: primary
routes:
  - name: everything
    default: true
    team: payments
    urgency: page
`

var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// ocNow is the injected clock: Tuesday 27 October 2026, 03:12 in Berlin
// (02:12 UTC, two days after the clocks went back).
var ocNow = time.Date(2026, 10, 27, 3, 12, 0, 0, berlin)

// brokenIncidents is an incident store whose reads always fail, so that a
// page job retries until it becomes a dead letter.
type brokenIncidents struct{}

func (brokenIncidents) Incident(context.Context, int64) (dedupe.IncidentDetail, error) {
	return dedupe.IncidentDetail{}, errors.New("incident store is down")
}

func (brokenIncidents) ClaimPage(context.Context, dedupe.PageRecord, time.Duration) (bool, bool, error) {
	return true, false, nil
}

func (brokenIncidents) RecordPage(context.Context, dedupe.PageRecord) error { return nil }

func (brokenIncidents) RecordInterruption(context.Context, dedupe.Interruption, string) error {
	return nil
}

// onCallServer is the API with the real on-call store, and a real pager on
// a River client for the dead-letter routes, on a fresh SQLite database.
type onCallServer struct {
	*server
	store *rotationstore.Store
	jobs  *river.Client[*sql.Tx]
}

func newOnCallServer(t *testing.T, now time.Time) *onCallServer {
	t.Helper()
	ctx := context.Background()
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	tokens := tokenstore.New(db)
	secret, err := tokens.Create(ctx, "oncall-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store := rotationstore.New(db)
	cfg, err := rotation.ParseConfig([]byte(onCallYAML), "oncall.yaml")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if _, err := store.Apply(ctx, cfg, false); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	log := slog.New(slog.DiscardHandler)
	pager := paging.New(paging.Options{Incidents: brokenIncidents{}, OnCall: store, Now: time.Now, Logger: log})
	workers := river.NewWorkers()
	pager.Register(workers)
	jobs, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       paging.Backoff{Base: time.Millisecond},
		Logger:            log,
	})
	if err != nil {
		t.Fatal(err)
	}
	pager.SetClient(jobs)
	t.Cleanup(func() { // before the database closes: cleanups run last first
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jobs.Stop(stopCtx)
	})

	reg := prometheus.NewRegistry()
	o := web.Options{
		Logger:      log,
		Gatherer:    reg,
		Metrics:     ingest.NewMetrics(reg),
		Auth:        &ingest.Authenticator{Store: tokens, TTL: 5 * time.Second, Now: time.Now},
		Limiter:     &ingest.RateLimiter{PerSecond: 10000, Burst: 20000},
		OnCall:      store,
		DeadLetters: pager,
		Ready:       func(ctx context.Context) error { return db.SQL.PingContext(ctx) },
		MaxBody:     4 << 20,
		Now:         func() time.Time { return now },
	}
	ts := httptest.NewServer(newHandler(t, o))
	t.Cleanup(ts.Close)
	return &onCallServer{
		server: &server{t: t, URL: ts.URL, DB: db, Tokens: tokens, Token: secret, Reg: reg},
		store:  store,
		jobs:   jobs,
	}
}

// send makes an API request with the server's token ("" body for none).
func (s *onCallServer) send(method, path, body string) response {
	s.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + s.Token}
	var r *http.Request
	if body != "" {
		h["Content-Type"] = "application/json"
		r = s.request(method, path, strings.NewReader(body), h)
	} else {
		r = s.request(method, path, nil, h)
	}
	return s.do(r)
}

type ocEntry struct {
	Team     string    `json:"team"`
	Rotation string    `json:"rotation"`
	Person   string    `json:"person"`
	Until    time.Time `json:"until"`
	Override bool      `json:"override"`
	Next     struct {
		Person string    `json:"person"`
		From   time.Time `json:"from"`
		Until  time.Time `json:"until"`
	} `json:"next"`
}

// onCall returns GET /api/v1/oncall by rotation name.
func (s *onCallServer) onCall() map[string]ocEntry {
	s.t.Helper()
	r := s.get("/api/v1/oncall")
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/oncall: %d %s", r.Status, r.Body)
	}
	var out struct {
		OnCall []ocEntry `json:"oncall"`
	}
	r.JSON(s.t, &out)
	m := map[string]ocEntry{}
	for _, e := range out.OnCall {
		if _, dup := m[e.Rotation]; dup {
			s.t.Errorf("rotation %s listed twice: %s", e.Rotation, r.Body)
		}
		m[e.Rotation] = e
	}
	return m
}

type ocShift struct {
	Rotation string    `json:"rotation"`
	Person   string    `json:"person"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Override bool      `json:"override"`
}

func (sh ocShift) String() string {
	return fmt.Sprintf("%s %s→%s override=%v", sh.Person, sh.Start.Format(time.RFC3339), sh.End.Format(time.RFC3339), sh.Override)
}

func shiftsPath(name string, from, to time.Time) string {
	q := url.Values{}
	q.Set("from", from.Format(time.RFC3339))
	q.Set("to", to.Format(time.RFC3339))
	return "/api/v1/rotations/" + name + "/shifts?" + q.Encode()
}

// shifts returns GET /api/v1/rotations/{name}/shifts over [from, to).
func (s *onCallServer) shifts(name string, from, to time.Time) []ocShift {
	s.t.Helper()
	r := s.get(shiftsPath(name, from, to))
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET shifts of %s: %d %s", name, r.Status, r.Body)
	}
	var out struct {
		Rotation string    `json:"rotation"`
		Shifts   []ocShift `json:"shifts"`
	}
	r.JSON(s.t, &out)
	if out.Rotation != name {
		s.t.Errorf("shifts answer names rotation %q, want %q", out.Rotation, name)
	}
	for _, sh := range out.Shifts {
		if sh.Rotation != name {
			s.t.Errorf("shift %v of rotation %q in the listing of %q", sh, sh.Rotation, name)
		}
	}
	return out.Shifts
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantShifts compares shifts by person, instants and override flag.
func wantShifts(t *testing.T, what string, got []ocShift, want []ocShift) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Person == w.Person && g.Start.Equal(w.Start) && g.End.Equal(w.End) && g.Override == w.Override
	}
	if !ok {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func (s *onCallServer) overrideCount() int {
	s.t.Helper()
	var n int
	if err := s.DB.SQL.QueryRow("SELECT COUNT(*) FROM overrides").Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestOnCallNow(t *testing.T) {
	s := newOnCallServer(t, ocNow)
	got := s.onCall()
	if len(got) != 3 {
		t.Fatalf("GET /api/v1/oncall lists %d rotations, want 3: %v", len(got), got)
	}
	type want struct {
		person, next             string
		until, nextFrom, nextEnd time.Time
	}
	cases := map[string]want{
		// Daily from Monday 19 October 09:00: alice, bob, carol, ... so
		// Monday 26 October 09:00 CET to Tuesday 09:00 is bob's (shift 7).
		"primary": {"bob", "carol",
			time.Date(2026, 10, 27, 9, 0, 0, 0, berlin), time.Date(2026, 10, 27, 9, 0, 0, 0, berlin),
			time.Date(2026, 10, 28, 9, 0, 0, 0, berlin)},
		"weekly": {"carol", "alice",
			time.Date(2026, 11, 2, 9, 0, 0, 0, berlin), time.Date(2026, 11, 2, 9, 0, 0, 0, berlin),
			time.Date(2026, 11, 9, 9, 0, 0, 0, berlin)},
		// 12 hours each from 26 October 08:00 EDT (12:00 UTC).
		"sun": {"dave", "carol", utc("2026-10-27T12:00:00Z"), utc("2026-10-27T12:00:00Z"), utc("2026-10-28T00:00:00Z")},
	}
	for name, w := range cases {
		e, ok := got[name]
		if !ok {
			t.Errorf("rotation %s missing from /oncall", name)
			continue
		}
		if e.Team != "payments" || e.Person != w.person || !e.Until.Equal(w.until) || e.Override {
			t.Errorf("%s: on call %+v, want %s until %s (payments, no override)", name, e, w.person, w.until)
		}
		if e.Next.Person != w.next || !e.Next.From.Equal(w.nextFrom) || !e.Next.Until.Equal(w.nextEnd) {
			t.Errorf("%s: next %+v, want %s from %s until %s", name, e.Next, w.next, w.nextFrom, w.nextEnd)
		}
	}

	// The default range is the next seven days from now.
	r := s.get("/api/v1/rotations/primary/shifts")
	if r.Status != http.StatusOK {
		t.Fatalf("GET shifts without a range: %d %s", r.Status, r.Body)
	}
	var def struct {
		Shifts []ocShift `json:"shifts"`
	}
	r.JSON(t, &def)
	if n := len(def.Shifts); n != 8 || !def.Shifts[0].Start.Equal(ocNow) || !def.Shifts[n-1].End.Equal(ocNow.Add(7*24*time.Hour)) {
		t.Errorf("default shifts: %v, want 8 shifts covering %s + 7 days", def.Shifts, ocNow)
	}
}

func TestShiftsKeepLocalHandoffAcrossDST(t *testing.T) {
	s := newOnCallServer(t, ocNow)
	// Berlin leaves summer time on Sunday 25 October 2026 at 03:00 CEST:
	// 09:00 is 07:00 UTC before and 08:00 UTC after.
	from, to := utc("2026-10-23T00:00:00Z"), utc("2026-10-28T00:00:00Z")
	got := s.shifts("primary", from, to)
	wantShifts(t, "daily rotation across the DST change", got, []ocShift{
		{Person: "alice", Start: from, End: utc("2026-10-23T07:00:00Z")},
		{Person: "bob", Start: utc("2026-10-23T07:00:00Z"), End: utc("2026-10-24T07:00:00Z")},
		{Person: "carol", Start: utc("2026-10-24T07:00:00Z"), End: utc("2026-10-25T08:00:00Z")}, // 25 hours
		{Person: "alice", Start: utc("2026-10-25T08:00:00Z"), End: utc("2026-10-26T08:00:00Z")},
		{Person: "bob", Start: utc("2026-10-26T08:00:00Z"), End: utc("2026-10-27T08:00:00Z")},
		{Person: "carol", Start: utc("2026-10-27T08:00:00Z"), End: to},
	})
	for i, sh := range got {
		if i == 0 {
			continue // clipped to from
		}
		if l := sh.Start.In(berlin); l.Hour() != 9 || l.Minute() != 0 {
			t.Errorf("handoff to %s at %s, want 09:00 Berlin time", sh.Person, l)
		}
	}

	// Fixed 12-hour shifts stay 12 hours long across New York's change
	// (1 November 2026), so their wall time moves instead.
	got = s.shifts("sun", utc("2026-10-31T12:00:00Z"), utc("2026-11-02T00:00:00Z"))
	wantShifts(t, "fixed 12h rotation across the DST change", got, []ocShift{
		{Person: "carol", Start: utc("2026-10-31T12:00:00Z"), End: utc("2026-11-01T00:00:00Z")},
		{Person: "dave", Start: utc("2026-11-01T00:00:00Z"), End: utc("2026-11-01T12:00:00Z")},
		{Person: "carol", Start: utc("2026-11-01T12:00:00Z"), End: utc("2026-11-02T00:00:00Z")},
	})
}

func TestShiftsRejectBadRanges(t *testing.T) {
	s := newOnCallServer(t, ocNow)
	base := "/api/v1/rotations/primary/shifts?"
	for _, tc := range []struct{ name, query string }{
		{"from not RFC 3339", "from=2026-10-23&to=2026-10-24T00:00:00Z"},
		{"to not RFC 3339", "from=2026-10-23T00:00:00Z&to=tomorrow"},
		{"from a duration", "from=24h"},
		{"to before from", "from=2026-10-24T00:00:00Z&to=2026-10-23T00:00:00Z"},
		{"to equal to from", "from=2026-10-24T00:00:00Z&to=2026-10-24T00:00:00Z"},
		{"more than 93 days", "from=2026-10-01T00:00:00Z&to=2027-01-02T00:00:01Z"},
		{"to before the default from", "to=2026-10-01T00:00:00Z"},
	} {
		r := s.get(base + tc.query)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s (%s): %d %s, want 400", tc.name, tc.query, r.Status, r.Body)
			continue
		}
		if msg := r.ErrorMessage(t); !strings.Contains(msg, "from") && !strings.Contains(msg, "to") {
			t.Errorf("%s: error %q does not say which parameter", tc.name, msg)
		}
	}
	// Exactly 93 days is allowed.
	if r := s.get(base + "from=2026-10-01T00:00:00Z&to=2027-01-02T00:00:00Z"); r.Status != http.StatusOK {
		t.Errorf("a 93-day range: %d %s, want 200", r.Status, r.Body)
	}
	// An offset other than Z, encoded as clients must (+ is a space in a
	// query), is accepted.
	if got := s.shifts("primary", time.Date(2026, 10, 27, 0, 0, 0, 0, berlin), time.Date(2026, 10, 28, 0, 0, 0, 0, berlin)); len(got) != 2 {
		t.Errorf("a range in +01:00: %v, want two shifts", got)
	}

	r := s.get("/api/v1/rotations/nosuch/shifts")
	if r.Status != http.StatusNotFound {
		t.Errorf("unknown rotation: %d %s, want 404", r.Status, r.Body)
	} else if msg := r.ErrorMessage(t); !strings.Contains(msg, "nosuch") {
		t.Errorf("unknown rotation: error %q does not name it", msg)
	}

	for _, path := range []string{"/api/v1/oncall", "/api/v1/rotations/primary/shifts", "/api/v1/deadletters"} {
		r := s.do(s.request(http.MethodGet, path, nil, nil))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, r.Status)
		}
		r = s.do(s.request(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer not-a-token"}))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, r.Status)
		}
	}
}

func TestOverrides(t *testing.T) {
	s := newOnCallServer(t, ocNow)
	from, to := utc("2026-10-26T08:00:00Z"), utc("2026-10-28T08:00:00Z")
	before := s.shifts("primary", from, to)
	wantShifts(t, "shifts before the override", before, []ocShift{
		{Person: "bob", Start: from, End: utc("2026-10-27T08:00:00Z")},
		{Person: "carol", Start: utc("2026-10-27T08:00:00Z"), End: to},
	})

	// alice covers bob's night: 03:00 to 07:00 Berlin time.
	r := s.send(http.MethodPost, "/api/v1/overrides",
		`{"rotation":"primary","person":"alice","start":"2026-10-27T03:00:00+01:00","end":"2026-10-27T06:00:00Z"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/v1/overrides: %d %s, want 201", r.Status, r.Body)
	}
	var created map[string]any
	r.JSON(t, &created)
	// The answer uses the API's own field names, as the request does.
	var missing []string
	for _, k := range []string{"id", "rotation", "person", "start", "end"} {
		if _, ok := created[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("created override %s lacks the fields %q (the request's names, snake_case as in the rest of the API)", r.Body, missing)
	}
	var o struct {
		ID       int64     `json:"id"`
		Rotation string    `json:"rotation"`
		Person   string    `json:"person"`
		Start    time.Time `json:"start"`
		End      time.Time `json:"end"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil {
		t.Fatal(err)
	}
	if o.ID <= 0 || o.Rotation != "primary" || o.Person != "alice" ||
		!o.Start.Equal(utc("2026-10-27T02:00:00Z")) || !o.End.Equal(utc("2026-10-27T06:00:00Z")) {
		t.Errorf("created override %+v (%s)", o, r.Body)
	}
	if s.overrideCount() != 1 {
		t.Fatalf("%d overrides stored, want 1", s.overrideCount())
	}

	now := s.onCall()["primary"]
	if now.Person != "alice" || !now.Override || !now.Until.Equal(utc("2026-10-27T06:00:00Z")) {
		t.Errorf("on call during the override: %+v, want alice (override) until 06:00Z", now)
	}
	if now.Next.Person != "bob" || !now.Next.From.Equal(utc("2026-10-27T06:00:00Z")) || !now.Next.Until.Equal(utc("2026-10-27T08:00:00Z")) {
		t.Errorf("next after the override: %+v, want bob from 06:00Z until his shift ends at 08:00Z", now.Next)
	}
	if other := s.onCall()["weekly"]; other.Person != "carol" || other.Override {
		t.Errorf("an override of primary changed weekly: %+v", other)
	}
	withOverride := []ocShift{
		{Person: "bob", Start: from, End: utc("2026-10-27T02:00:00Z")},
		{Person: "alice", Start: utc("2026-10-27T02:00:00Z"), End: utc("2026-10-27T06:00:00Z"), Override: true},
		{Person: "bob", Start: utc("2026-10-27T06:00:00Z"), End: utc("2026-10-27T08:00:00Z")},
		{Person: "carol", Start: utc("2026-10-27T08:00:00Z"), End: to},
	}
	wantShifts(t, "shifts with the override", s.shifts("primary", from, to), withOverride)

	// Refusals change nothing.
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"not JSON", `rotation=primary`, http.StatusBadRequest},
		{"empty object", `{}`, http.StatusBadRequest},
		{"no person", `{"rotation":"primary","start":"2026-10-27T10:00:00Z","end":"2026-10-27T11:00:00Z"}`, http.StatusBadRequest},
		{"no rotation", `{"person":"bob","start":"2026-10-27T10:00:00Z","end":"2026-10-27T11:00:00Z"}`, http.StatusBadRequest},
		{"no end", `{"rotation":"primary","person":"bob","start":"2026-10-27T10:00:00Z"}`, http.StatusBadRequest},
		{"start not a time", `{"rotation":"primary","person":"bob","start":"tomorrow","end":"2026-10-27T11:00:00Z"}`, http.StatusBadRequest},
		{"end before start", `{"rotation":"primary","person":"bob","start":"2026-10-27T11:00:00Z","end":"2026-10-27T10:00:00Z"}`, http.StatusBadRequest},
		{"end equal to start", `{"rotation":"primary","person":"bob","start":"2026-10-27T11:00:00Z","end":"2026-10-27T11:00:00Z"}`, http.StatusBadRequest},
		{"unknown person", `{"rotation":"primary","person":"mallory","start":"2026-10-27T10:00:00Z","end":"2026-10-27T11:00:00Z"}`, http.StatusNotFound},
		{"unknown rotation", `{"rotation":"nosuch","person":"bob","start":"2026-10-27T10:00:00Z","end":"2026-10-27T11:00:00Z"}`, http.StatusNotFound},
	} {
		r := s.send(http.MethodPost, "/api/v1/overrides", tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
			continue
		}
		msg := r.ErrorMessage(t)
		if tc.status == http.StatusNotFound && !strings.Contains(msg, "mallory") && !strings.Contains(msg, "nosuch") {
			t.Errorf("%s: error %q does not name what is unknown", tc.name, msg)
		}
	}
	r = s.do(s.request(http.MethodPost, "/api/v1/overrides", strings.NewReader(
		`{"rotation":"primary","person":"bob","start":"2026-10-27T10:00:00Z","end":"2026-10-27T11:00:00Z"}`),
		map[string]string{"Content-Type": "application/json"}))
	if r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/overrides without a token: %d, want 401", r.Status)
	}
	if n := s.overrideCount(); n != 1 {
		t.Errorf("%d overrides stored after the refusals, want 1", n)
	}
	wantShifts(t, "shifts after the refusals", s.shifts("primary", from, to), withOverride)

	// Deleting: without a token nothing happens; then 204, then 404.
	path := fmt.Sprintf("/api/v1/overrides/%d", o.ID)
	if r := s.do(s.request(http.MethodDelete, path, nil, nil)); r.Status != http.StatusUnauthorized {
		t.Errorf("DELETE without a token: %d, want 401", r.Status)
	}
	if n := s.overrideCount(); n != 1 {
		t.Fatalf("%d overrides after an unauthorized delete, want 1", n)
	}
	if r := s.send(http.MethodDelete, path, ""); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE %s: %d %q, want 204 and no body", path, r.Status, r.Body)
	}
	if r := s.send(http.MethodDelete, path, ""); r.Status != http.StatusNotFound {
		t.Errorf("DELETE %s again: %d %s, want 404", path, r.Status, r.Body)
	} else {
		r.ErrorMessage(t)
	}
	for _, p := range []string{"/api/v1/overrides/abc", "/api/v1/overrides/999999"} {
		if r := s.send(http.MethodDelete, p, ""); r.Status != http.StatusNotFound {
			t.Errorf("DELETE %s: %d %s, want 404", p, r.Status, r.Body)
		}
	}
	if n := s.overrideCount(); n != 0 {
		t.Errorf("%d overrides stored after the delete, want 0", n)
	}
	if now := s.onCall()["primary"]; now.Person != "bob" || now.Override || !now.Until.Equal(utc("2026-10-27T08:00:00Z")) {
		t.Errorf("on call after the delete: %+v, want bob until 08:00Z", now)
	}
	wantShifts(t, "shifts after the delete", s.shifts("primary", from, to), before)
}

type ocDeadLetter struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	IncidentID  int64     `json:"incident_id"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error"`
	DiscardedAt time.Time `json:"discarded_at"`
}

func (s *onCallServer) deadLetters() ([]ocDeadLetter, response) {
	s.t.Helper()
	r := s.get("/api/v1/deadletters")
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/deadletters: %d %s", r.Status, r.Body)
	}
	var out struct {
		DeadLetters []ocDeadLetter `json:"deadletters"`
	}
	r.JSON(s.t, &out)
	return out.DeadLetters, r
}

func ocWait(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
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
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeadLettersAPI(t *testing.T) {
	s := newOnCallServer(t, ocNow)
	ctx := context.Background()

	// None yet: an empty list, not null.
	list, r := s.deadLetters()
	if len(list) != 0 || !bytes.Contains(r.Body, []byte(`"deadletters":[]`)) {
		t.Errorf("GET /api/v1/deadletters with none: %s, want {\"deadletters\":[]}", r.Body)
	}

	// A page job whose incident cannot be read fails six times, 1 ms
	// apart, and is discarded: a dead letter.
	if err := s.jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ins, err := s.jobs.Insert(ctx, paging.PageArgs{IncidentID: 4242}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := ins.Job.ID
	var dl ocDeadLetter
	ocWait(t, 20*time.Second, "the page job to become a dead letter", func() (bool, string) {
		list, r := s.deadLetters()
		if len(list) == 0 {
			return false, string(r.Body)
		}
		dl = list[0]
		return true, ""
	})
	if dl.ID != id || dl.Kind != "page" || dl.IncidentID != 4242 || dl.Attempts != 6 ||
		!strings.Contains(dl.LastError, "incident store is down") || dl.DiscardedAt.IsZero() {
		t.Errorf("dead letter %+v, want job %d, kind page, incident 4242, 6 attempts, the store's error, a discard time", dl, id)
	}

	// Replay runs it once more; it fails again and is back, with 7 attempts.
	r = s.send(http.MethodPost, fmt.Sprintf("/api/v1/deadletters/%d/replay", id), "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("replay: %d %s, want 202", r.Status, r.Body)
	}
	var ack struct {
		Status string `json:"status"`
		ID     int64  `json:"id"`
	}
	r.JSON(t, &ack)
	if ack.ID != id {
		t.Errorf("replay answered %s, want id %d", r.Body, id)
	}
	ocWait(t, 20*time.Second, "the replayed job to run again", func() (bool, string) {
		list, r := s.deadLetters()
		return len(list) == 1 && list[0].Attempts == 7, string(r.Body)
	})

	// A job that is not a dead letter cannot be replayed; nor an unknown one.
	later, err := s.jobs.Insert(ctx, paging.PageArgs{IncidentID: 4343}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{fmt.Sprintf("/api/v1/deadletters/%d/replay", later.Job.ID), http.StatusConflict},
		{"/api/v1/deadletters/987654/replay", http.StatusNotFound},
		{"/api/v1/deadletters/abc/replay", http.StatusNotFound},
	} {
		r := s.send(http.MethodPost, tc.path, "")
		if r.Status != tc.status {
			t.Errorf("POST %s: %d %s, want %d", tc.path, r.Status, r.Body, tc.status)
		} else {
			r.ErrorMessage(t)
		}
	}
	if r := s.do(s.request(http.MethodPost, fmt.Sprintf("/api/v1/deadletters/%d/replay", id), nil, nil)); r.Status != http.StatusUnauthorized {
		t.Errorf("replay without a token: %d, want 401", r.Status)
	}
	if list, r := s.deadLetters(); len(list) != 1 || list[0].ID != id {
		t.Errorf("dead letters at the end: %s, want only job %d", r.Body, id)
	}
}
