package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/web/account"
)

// uiPages are the web UI's pages, as an admin opens them from the
// navigation. Each must render whatever the database holds, even nothing:
// a page added to the UI is added here.
var uiPages = []string{
	"/oncall",
	"/login",
	"/incidents",
	"/incidents?state=resolved&since=90d",
	"/noise",
	"/reports",
	"/deadletters",
	"/feeds",
	"/admin",
}

// objectPages are the pages about one object of the example: they exist
// once it is applied.
var objectPages = []string{
	"/rotations/payments-primary",
	"/rotations/databases-primary",
	"/noise?team=databases&days=90",
	"/noise/whatif?team=payments&rule=DiskFull&for=10m",
	"/reports?team=databases",
	"/reports?team=payments&week=2026-W01",
}

// TestPagesRender opens every page on an empty database and on one with
// the example configuration and incidents open, acknowledged and resolved:
// each answers 200 with the whole layout, so no template failed halfway.
func TestPagesRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		fill func(*testing.T, *uiServer) []string // the pages to open
	}{
		{"empty database", func(*testing.T, *uiServer) []string { return uiPages }},
		{"example and incidents", func(t *testing.T, s *uiServer) []string {
			s.applyExample()
			started := time.Now().Add(-time.Hour)
			s.mustPost(notification(t, "DiskFull", hostAlerts("DiskFull", 0, 2, started)...))
			s.mustPost(notification(t, "HighLatency", hostAlerts("HighLatency", 0, 3, started)...))
			s.mustPost(notification(t, "BackupFailed", hookAlert{startsAt: started, endsAt: started.Add(10 * time.Minute),
				labels: map[string]string{"alertname": "BackupFailed", "team": "payments", "severity": "critical"}}))
			latency := byTitle(t, s.incidents(""), "HighLatency")
			s.mustTransition(latency.ID, "ack", nil)
			paths := append(slices.Clone(uiPages), objectPages...)
			for _, in := range s.incidents("") {
				paths = append(paths, fmt.Sprint("/incidents/", in.ID))
			}
			return paths
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newUIServer(t)
			paths := tc.fill(t, s)
			s.addUser("root", account.Admin, "")
			b := s.login("root")
			for _, path := range paths {
				p := b.get(path)
				if p.Status != http.StatusOK || !strings.Contains(p.Body, "</html>") {
					t.Errorf("GET %s as an admin: %d, want 200 and a whole page; body:\n%s", path, p.Status, p.Body)
				}
			}
		})
	}
}
