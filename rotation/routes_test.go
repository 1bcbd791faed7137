package rotation

import (
	"testing"

	"github.com/prometheus/alertmanager/pkg/labels"
)

func route(t *testing.T, name, matchers string, def bool) Route {
	t.Helper()
	ms, err := labels.ParseMatchers(matchers)
	if err != nil {
		t.Fatalf("parse %q: %v", matchers, err)
	}
	return Route{Name: name, Matchers: ms, Team: name, Urgency: UrgencyPage, Default: def}
}

func TestConfigRoute(t *testing.T) {
	routes := []Route{
		route(t, "db-critical", `{team="db", severity="critical"}`, false),
		route(t, "db", `{team="db"}`, false),
		route(t, "web-not-staging", `{service=~"web|api", env!="staging"}`, false),
		route(t, "unowned-critical", `{team="", severity="critical"}`, false),
		route(t, "payments-not-test", `{team="payments", alertname!~"Test.*"}`, false),
		route(t, "catch-all", ``, true),
	}
	// The same routes with the default first: it is still only the
	// fallback.
	defaultFirst := append([]Route{routes[len(routes)-1]}, routes[:len(routes)-1]...)
	noDefault := routes[:len(routes)-1]
	matchAll := []Route{route(t, "db", `{team="db"}`, false), route(t, "everything", ``, false), route(t, "catch-all", ``, true)}

	tests := []struct {
		name   string
		routes []Route
		labels map[string]string
		want   string
		ok     bool
	}{
		{"first match wins", routes, map[string]string{"team": "db", "severity": "critical"}, "db-critical", true},
		{"a later route when the first does not match", routes, map[string]string{"team": "db", "severity": "warning"}, "db", true},
		{"regexp match", routes, map[string]string{"service": "api", "env": "prod"}, "web-not-staging", true},
		{"regexp is anchored", routes, map[string]string{"service": "webapp", "env": "prod"}, "catch-all", true},
		{"negative matcher excludes", routes, map[string]string{"service": "web", "env": "staging"}, "catch-all", true},
		{"negative matcher matches an absent label", routes, map[string]string{"service": "web"}, "web-not-staging", true},
		{"absent label matches empty", routes, map[string]string{"severity": "critical"}, "unowned-critical", true},
		{"empty label value matches empty", routes, map[string]string{"team": "", "severity": "critical"}, "unowned-critical", true},
		{"negative regexp matches", routes, map[string]string{"team": "payments", "alertname": "HighLatency"}, "payments-not-test", true},
		{"negative regexp excludes", routes, map[string]string{"team": "payments", "alertname": "TestAlert"}, "catch-all", true},
		{"nothing matches: default", routes, map[string]string{"team": "search"}, "catch-all", true},
		{"no labels: default", routes, nil, "catch-all", true},
		{"default first is skipped", defaultFirst, map[string]string{"team": "db"}, "db", true},
		{"default first still catches the rest", defaultFirst, map[string]string{"team": "search"}, "catch-all", true},
		{"no default: false", noDefault, map[string]string{"team": "search"}, "", false},
		{"no default, but a match", noDefault, map[string]string{"team": "db"}, "db", true},
		{"no routes: false", nil, map[string]string{"team": "db"}, "", false},
		{"a route without matchers matches everything", matchAll, map[string]string{"team": "search"}, "everything", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Config{Routes: tt.routes}.Route(tt.labels)
			if ok != tt.ok || got.Name != tt.want {
				t.Errorf("Route(%v) = %q, %v; want %q, %v", tt.labels, got.Name, ok, tt.want, tt.ok)
			}
			if ok && got.Team != tt.want {
				t.Errorf("Route(%v) returned team %q, want the route's own %q", tt.labels, got.Team, tt.want)
			}
		})
	}
}
