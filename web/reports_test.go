package web_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
)

// The figures themselves are tested in reports/sqlstore; here the API's
// parameters, defaults, errors and shapes.
func TestReportsAPI(t *testing.T) {
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	oncall := rotationstore.New(db)
	cfg, err := rotation.ParseConfig([]byte(onCallYAML), "oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oncall.Apply(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // a Wednesday of 2026-W48
	svc := reports.New(reports.Options{History: reportstore.New(db), OnCall: oncall, Now: func() time.Time { return now }})
	s := newServer(t, func(o *web.Options) {
		o.Reports = svc
		o.Now = func() time.Time { return now }
	})

	var w reports.Weekly
	r := s.get("/api/v1/reports/weekly?team=payments")
	if r.Status != http.StatusOK {
		t.Fatalf("weekly: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &w)
	if w.Week.String() != "2026-W47" || w.Team != "payments" || len(w.Days) != 7 || len(w.People) != 4 {
		t.Errorf("default week %s, team %q, %d days, %d people; want last week, payments, 7 days, 4 members",
			w.Week, w.Team, len(w.Days), len(w.People))
	}
	// Three rotations, each with someone on call all week long.
	if time.Duration(w.Figures.OnCall) != 3*168*time.Hour {
		t.Errorf("on call %v", time.Duration(w.Figures.OnCall))
	}
	if r := s.get("/api/v1/reports/weekly?team=payments&week=2026-W44"); r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"week":"2026-W44"`)) {
		t.Errorf("week=2026-W44: %d %s", r.Status, r.Body)
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/reports/weekly?week=2026-W47", http.StatusBadRequest, "team is required"},
		{"/api/v1/reports/weekly?team=payments&week=47", http.StatusBadRequest, "2026-W47"},
		{"/api/v1/reports/weekly?team=payments&week=2025-W53", http.StatusBadRequest, "2025 has no ISO week 53"},
		{"/api/v1/reports/weekly?team=nobody", http.StatusNotFound, `no team "nobody"`},
		{"/api/v1/noise?team=payments&since=yesterday", http.StatusBadRequest, "RFC 3339"},
		{"/api/v1/noise?team=payments&since=2026-11-20T00:00:00Z&until=2026-11-10T00:00:00Z", http.StatusBadRequest, "since must be before until"},
	} {
		r := s.get(c.path)
		if r.Status != c.status || !strings.Contains(r.ErrorMessage(t), c.msg) {
			t.Errorf("%s: %d %s, want %d and %q", c.path, r.Status, r.Body, c.status, c.msg)
		}
	}

	var noise struct {
		Team  string              `json:"team"`
		Rules []reports.RuleNoise `json:"rules"`
	}
	r = s.get("/api/v1/noise?team=payments")
	if r.Status != http.StatusOK {
		t.Fatalf("noise: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &noise)
	if noise.Team != "payments" || noise.Rules == nil || len(noise.Rules) != 0 {
		t.Errorf("noise of a quiet team: %s", r.Body)
	}

	post := func(body string) response {
		return s.do(s.request(http.MethodPost, "/api/v1/whatif", strings.NewReader(body),
			map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json"}))
	}
	r = post(`{"team":"payments","rule":"DiskFull","for":"5m","keep_firing_for":"10m","urgency":"business-hours"}`)
	var res reports.WhatIfResult
	if r.Status != http.StatusOK {
		t.Fatalf("whatif: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &res)
	if time.Duration(res.Proposal.For) != 5*time.Minute || !res.Proposal.Until.Equal(now) || !res.Proposal.Since.Equal(now.AddDate(0, 0, -7)) {
		t.Errorf("proposal as understood: %+v", res.Proposal)
	}
	for body, msg := range map[string]string{
		`{"team":"payments","rule":"DiskFull","for":"five minutes"}`: "body must be JSON",
		`{"team":"payments","rule":"DiskFull"}`:                      "must change",
		`{"team":"payments","rule":"DiskFull","urgency":"later"}`:    "urgency must be",
		`{"rule":"DiskFull","for":"5m"}`:                             "needs a team",
	} {
		if r := post(body); r.Status != http.StatusBadRequest || !strings.Contains(r.ErrorMessage(t), msg) {
			t.Errorf("%s: %d %s, want 400 and %q", body, r.Status, r.Body, msg)
		}
	}
}
