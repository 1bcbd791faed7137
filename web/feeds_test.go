package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
)

// feedsNow is the fixed clock of the feed tests: Wednesday 4 November
// 2026, 12:00 in Berlin, in the first week of docs/examples/oncall.yaml's
// payments-primary (alice from Monday 09:00, then bob, then erin).
var feedsNow = time.Date(2026, 11, 4, 11, 0, 0, 0, time.UTC)

func newFeedsServer(t *testing.T, opts ...func(*web.Options)) *uiServer {
	t.Helper()
	s := newUIServer(t, append([]func(*web.Options){func(o *web.Options) {
		o.Feeds = o.Accounts.(web.FeedStore)
		o.Now = func() time.Time { return feedsNow }
	}}, opts...)...)
	s.applyExample()
	s.addUser("alice", account.Member, "alice")
	s.addUser("bob", account.Member, "bob")
	s.addUser("root", account.Admin, "")
	return s
}

var (
	feedURLShown = regexp.MustCompile(`value="(http://[^"]+/calendar/([^"/]+)\.ics)"`)
	revokeForm   = regexp.MustCompile(`action="/feeds/(\d+)/revoke"`)
)

// createFeed posts the new-feed form and returns the address the page
// shows and the feed's id.
func createFeed(t *testing.T, b *browser, form url.Values) (string, string) {
	t.Helper()
	b.get("/feeds")
	r := b.post("/feeds", form)
	m := feedURLShown.FindStringSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		t.Fatalf("create feed %v: %d, no feed address on the page:\n%s", form, r.Status, r.Body)
	}
	if webcal := `href="webcal://` + strings.TrimPrefix(m[1], "http://") + `"`; !strings.Contains(r.Body, webcal) {
		t.Errorf("the page lacks the subscribe link %s", webcal)
	}
	ids := revokeForm.FindAllStringSubmatch(r.Body, -1)
	if len(ids) == 0 {
		t.Fatalf("the new feed is not listed:\n%s", r.Body)
	}
	return m[1], ids[0][1] // newest first
}

// calEvent is a VEVENT's start, end, summary and description.
type calEvent struct{ Start, End, Summary, Description string }

// fetchCalendar GETs a feed without cookies, as a calendar app does, and
// returns its events; status is the answer's status code.
func fetchCalendar(t *testing.T, address string) (status int, body string, events []calEvent) {
	t.Helper()
	res, err := http.Get(address)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	body = string(data)
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, body, nil
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	if !strings.HasPrefix(body, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") || !strings.HasSuffix(body, "END:VCALENDAR\r\n") {
		t.Fatalf("not an iCalendar object:\n%s", body)
	}
	var ev *calEvent
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n ", ""), "\r\n") {
		name, value, _ := strings.Cut(l, ":")
		switch {
		case l == "BEGIN:VEVENT":
			ev = &calEvent{}
		case l == "END:VEVENT":
			events = append(events, *ev)
			ev = nil
		case ev != nil && name == "DTSTART":
			ev.Start = value
		case ev != nil && name == "DTEND":
			ev.End = value
		case ev != nil && name == "SUMMARY":
			ev.Summary = value
		case ev != nil && name == "DESCRIPTION":
			ev.Description = value
		}
	}
	return res.StatusCode, body, events
}

func TestPersonFeedFollowsOverrides(t *testing.T) {
	s := newFeedsServer(t)
	alice, bob := s.login("alice"), s.login("bob")
	aliceFeed, _ := createFeed(t, alice, url.Values{"kind": {"person"}})
	bobFeed, _ := createFeed(t, bob, url.Values{"kind": {"person"}})

	// payments-primary hands over Mondays 09:00 Berlin (08:00 UTC in
	// November): alice has the weeks from 2 and from 23 November.
	covered := calEvent{Start: "20261123T080000Z", End: "20261130T080000Z", Summary: `On call: payments-primary (alice)`}
	status, _, events := fetchCalendar(t, aliceFeed)
	if status != http.StatusOK {
		t.Fatalf("alice's feed: %d", status)
	}
	if !hasEvent(events, calEvent{Start: "20261102T080000Z", End: "20261109T080000Z", Summary: `On call: payments-primary (alice)`}) ||
		!hasEvent(events, covered) {
		t.Errorf("alice's feed lacks her payments-primary weeks: %v", events)
	}
	for _, e := range events {
		if !strings.HasSuffix(e.Summary, "(alice)") {
			t.Errorf("alice's feed has someone else's shift: %v", e)
		}
	}
	// payments-secondary is daily (bob, erin, alice): her days are in too.
	if !hasEvent(events, calEvent{Start: "20261104T080000Z", End: "20261105T080000Z", Summary: `On call: payments-secondary (alice)`}) {
		t.Errorf("alice's feed lacks her payments-secondary day of 4 November: %v", events)
	}

	// Bob covers alice's second week.
	_, err := s.OnCall.CreateOverride(context.Background(), rotation.Override{Rotation: "payments-primary", Person: "bob",
		Start: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, events = fetchCalendar(t, aliceFeed)
	if hasEvent(events, covered) {
		t.Errorf("alice's feed still has the week bob covers: %v", events)
	}
	for _, e := range events {
		if strings.Contains(e.Summary, "payments-primary") && e.Start >= "20261123" && e.Start < "20261130" {
			t.Errorf("alice's feed has a payments-primary shift in the week bob covers: %v", e)
		}
	}
	_, _, events = fetchCalendar(t, bobFeed)
	var found bool
	for _, e := range events {
		if e.Start == covered.Start && e.End == covered.End && e.Summary == `On call: payments-primary (bob)` {
			found = true
			if !strings.Contains(e.Description, "override") {
				t.Errorf("the covered week does not say it is an override: %q", e.Description)
			}
		}
	}
	if !found {
		t.Errorf("bob's feed lacks the week he covers: %v", events)
	}
}

func hasEvent(events []calEvent, want calEvent) bool {
	for _, e := range events {
		if e.Start == want.Start && e.End == want.End && e.Summary == want.Summary {
			return true
		}
	}
	return false
}

func TestRotationFeed(t *testing.T) {
	s := newFeedsServer(t)
	s.addUser("vic", account.Viewer, "")
	vic := s.login("vic")
	if r := vic.get("/feeds"); r.Status != http.StatusOK || !strings.Contains(r.Body, "not linked to a person") {
		t.Errorf("a viewer without a person: %d, want the page saying it has no shifts of its own", r.Status)
	}
	if r := vic.post("/feeds", url.Values{"kind": {"person"}}); r.Status != http.StatusBadRequest {
		t.Errorf("a person feed for a user without a person: %d, want 400", r.Status)
	}
	if r := vic.post("/feeds", url.Values{"kind": {"rotation"}, "rotation": {"nope"}}); r.Status != http.StatusBadRequest {
		t.Errorf("a feed of an unknown rotation: %d, want 400", r.Status)
	}
	if feeds, _ := s.Accounts.Feeds(context.Background()); len(feeds) != 0 {
		t.Fatalf("refused forms made feeds: %v", feeds)
	}

	// The feed starts a week back, Wednesday 28 October 12:00 Berlin, in
	// the middle of erin's day: its event is her whole day, less the hour
	// alice covered before the feed's range begins.
	_, err := s.OnCall.CreateOverride(context.Background(), rotation.Override{Rotation: "payments-secondary", Person: "alice",
		Start: time.Date(2026, 10, 28, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 28, 9, 0, 0, 0, time.UTC), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Viewers read every rotation, so they may subscribe to one.
	address, _ := createFeed(t, vic, url.Values{"kind": {"rotation"}, "rotation": {"payments-secondary"}})
	for _, a := range []string{address, strings.TrimSuffix(address, ".ics")} {
		status, body, events := fetchCalendar(t, a)
		if status != http.StatusOK || !strings.Contains(body, "X-WR-CALNAME:On call: payments-secondary\r\n") {
			t.Fatalf("GET %s: %d\n%s", a, status, body)
		}
		// Daily shifts from a week back to eight weeks ahead, nobody
		// else's rotation.
		if len(events) < 60 || len(events) > 66 {
			t.Errorf("%d events, want about 63 daily shifts", len(events))
		}
		first := calEvent{Start: "20261028T090000Z", End: "20261029T080000Z", Summary: "On call: payments-secondary (erin)"}
		if len(events) == 0 || !hasEvent(events[:1], first) {
			t.Errorf("first event %v, want %v", events[:min(1, len(events))], first)
		}
		people := map[string]bool{}
		for _, e := range events {
			if !strings.HasPrefix(e.Summary, "On call: payments-secondary (") {
				t.Errorf("a rotation feed has another rotation's shift: %v", e)
			}
			people[e.Summary] = true
		}
		if len(people) != 3 {
			t.Errorf("the rotation's feed shows %v, want bob, erin and alice", people)
		}
	}
}

func TestFeedRevocation(t *testing.T) {
	s := newFeedsServer(t)
	alice, bob, root := s.login("alice"), s.login("bob"), s.login("root")
	address, id := createFeed(t, alice, url.Values{"kind": {"person"}})
	token := feedURLShown.FindStringSubmatch(`value="` + address + `"`)[2]

	if r := alice.get("/feeds"); strings.Contains(r.Body, token) || !strings.Contains(r.Body, "shifts of alice") {
		t.Errorf("the feed list must show the feed but never its token again:\n%s", r.Body)
	}
	if r := bob.get("/feeds"); strings.Contains(r.Body, "/feeds/"+id+"/revoke") {
		t.Errorf("bob's list shows alice's feed")
	}
	if r := root.get("/feeds"); !strings.Contains(r.Body, "/feeds/"+id+"/revoke") {
		t.Errorf("the admin's list lacks alice's feed")
	}
	bob.get("/feeds")
	if r := bob.post("/feeds/"+id+"/revoke", nil); r.Status != http.StatusForbidden {
		t.Errorf("bob revoking alice's feed: %d, want 403", r.Status)
	}
	if r := alice.post("/feeds/"+id+"/revoke", url.Values{"csrf_token": {"forged"}}); r.Status != http.StatusForbidden {
		t.Errorf("revoking without the CSRF token: %d, want 403", r.Status)
	}
	if status, _, _ := fetchCalendar(t, address); status != http.StatusOK {
		t.Fatalf("after refused revocations the feed answers %d", status)
	}

	alice.get("/feeds")
	if r := alice.post("/feeds/"+id+"/revoke", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/feeds?flash=") {
		t.Fatalf("revoke: %d to %q", r.Status, r.Location)
	}
	status, revokedBody, _ := fetchCalendar(t, address)
	if status != http.StatusNotFound {
		t.Errorf("revoked feed: %d, want 404", status)
	}
	status, unknownBody, _ := fetchCalendar(t, s.URL+"/calendar/qp_"+strings.Repeat("A", 43)+".ics")
	if status != http.StatusNotFound || unknownBody != revokedBody {
		t.Errorf("an unknown token: %d %q; a revoked one: %q; want the same 404", status, unknownBody, revokedBody)
	}
	if r := alice.post("/feeds/"+id+"/revoke", nil); r.Status != http.StatusNotFound {
		t.Errorf("revoking twice: %d, want 404", r.Status)
	}

	log, err := s.Accounts.AuditOf(context.Background(), "feed", id, 10)
	if err != nil || len(log) != 2 || log[0].Action != "revoke" || log[1].Action != "create" || log[0].Actor != "alice" ||
		log[1].Detail != "person feed of alice" {
		t.Errorf("audit log of the feed: %+v, %v; want alice's create and revoke", log, err)
	}
}

func TestFeedsPageNeedsLogin(t *testing.T) {
	s := newFeedsServer(t)
	b := s.browser()
	if r := b.get("/feeds"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Errorf("GET /feeds logged out: %d to %q, want the login page", r.Status, r.Location)
	}
	if r := b.get("/calendar/nothing.ics"); r.Status != http.StatusNotFound {
		t.Errorf("GET /calendar/ logged out with a bad token: %d, want 404 (not a login redirect)", r.Status)
	}
}

func TestFeedAddressUsesExternalURL(t *testing.T) {
	s := newFeedsServer(t, func(o *web.Options) { o.ExternalURL = "https://pager.example.com/" })
	b := s.login("alice")
	b.get("/feeds")
	r := b.post("/feeds", url.Values{"kind": {"person"}})
	m := regexp.MustCompile(`value="https://pager\.example\.com/calendar/(qp_[^"/]+)\.ics"`).FindStringSubmatch(r.Body)
	if m == nil || !strings.Contains(r.Body, `href="webcal://pager.example.com/calendar/`+m[1]+`.ics"`) {
		t.Fatalf("the new feed's address is not under the external URL:\n%s", r.Body)
	}
	// The same token works on this server, whatever name it is reached by.
	if status, _, events := fetchCalendar(t, s.URL+"/calendar/"+m[1]+".ics"); status != http.StatusOK || len(events) == 0 {
		t.Errorf("GET the feed: %d, %d events", status, len(events))
	}
}

// A feed's address is its credential: the access log, even at debug
// level, does not write it.
func TestFeedAddressNotLogged(t *testing.T) {
	var logs bytes.Buffer
	s := newFeedsServer(t, func(o *web.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	address, _ := createFeed(t, s.login("alice"), url.Values{"kind": {"person"}})
	token := address[strings.LastIndex(address, "/")+1:]
	if status, _, _ := fetchCalendar(t, address); status != http.StatusOK {
		t.Fatalf("feed: %d", status)
	}
	if !strings.Contains(logs.String(), "path=/calendar/…") {
		t.Errorf("the feed's request was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), strings.TrimSuffix(token, ".ics")) {
		t.Errorf("the access log holds the feed's token:\n%s", logs.String())
	}
}
