package web_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
)

// rotNow is the rotation page tests' clock: Wednesday 11 November 2026,
// 10:00 in Berlin. In the example, payments-primary (weekly from Monday
// 2 November 09:00: alice, bob, erin) has bob on call until Monday
// 16 November 09:00.
var rotNow = time.Date(2026, 11, 11, 10, 0, 0, 0, berlin)

const primaryPage = "/rotations/payments-primary"

// newRotationServer is the UI with the example applied, the clock at
// rotNow, and users: alice and bob (members of payments), carol (member
// of databases), root (admin without a person), vic (viewer).
func newRotationServer(t *testing.T, now time.Time) *uiServer {
	t.Helper()
	s := newUIServer(t, func(o *web.Options) { o.Now = func() time.Time { return now } })
	s.applyExample()
	s.addUser("alice", account.Member, "alice")
	s.addUser("bob", account.Member, "bob")
	s.addUser("carol", account.Member, "carol")
	s.addUser("root", account.Admin, "")
	s.addUser("vic", account.Viewer, "")
	return s
}

// onCallAPI is who GET /api/v1/oncall says is on call for rotation, and
// until when.
func (s *uiServer) onCallAPI(rot string) (string, time.Time) {
	s.t.Helper()
	r := s.get("/api/v1/oncall")
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /api/v1/oncall: %d %s", r.Status, r.Body)
	}
	var out struct {
		OnCall []struct {
			Rotation string    `json:"rotation"`
			Person   string    `json:"person"`
			Until    time.Time `json:"until"`
		} `json:"oncall"`
	}
	r.JSON(s.t, &out)
	for _, o := range out.OnCall {
		if o.Rotation == rot {
			return o.Person, o.Until
		}
	}
	s.t.Fatalf("GET /api/v1/oncall has no rotation %s: %s", rot, r.Body)
	return "", time.Time{}
}

func (s *uiServer) rotation(name string) rotation.Rotation {
	s.t.Helper()
	cfg, err := s.OnCall.Load(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range cfg.Rotations {
		if r.Name == name {
			return r
		}
	}
	s.t.Fatalf("no rotation %s", name)
	return rotation.Rotation{}
}

func (s *uiServer) overrides(rot string) []rotation.Override {
	s.t.Helper()
	ovs, err := s.OnCall.Overrides(context.Background(), rot, rotNow.Add(-24*time.Hour), rotNow.Add(60*24*time.Hour))
	if err != nil {
		s.t.Fatal(err)
	}
	return ovs
}

var (
	coverForm  = regexp.MustCompile(`action="/rotations/[^"]+/cover"><input type="hidden" name="csrf_token" value="[^"]*"><input type="hidden" name="start" value="([^"]+)"><input type="hidden" name="end" value="([^"]+)">`)
	removeForm = regexp.MustCompile(`action="/overrides/(\d+)/delete"`)
	nowPerson  = regexp.MustCompile(`data-rotation="payments-primary">([^<]+)<`)
)

// firstCover is the first "Cover this shift" form on a page: the current
// shift's.
func firstCover(t *testing.T, p page) url.Values {
	t.Helper()
	m := coverForm.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no cover form on the page:\n%s", p.Body)
	}
	return url.Values{"start": {m[1]}, "end": {m[2]}}
}

func mustRedirect(t *testing.T, what string, r page) {
	t.Helper()
	if r.Status != http.StatusSeeOther {
		t.Fatalf("%s: %d, want 303: %s", what, r.Status, r.Body)
	}
}

func TestRotationPageShowsFourWeeks(t *testing.T) {
	s := newRotationServer(t, rotNow)
	p := s.login("alice").get(primaryPage)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", primaryPage, p.Status, p.Body)
	}
	if n := strings.Count(p.Body, `<th class="day"`); n != 28 {
		t.Errorf("the page shows %d days, want 28", n)
	}
	for _, want := range []string{"Wed 11 Nov", "Tue 8 Dec"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, `<tr class="override`) {
		t.Errorf("an override row without overrides")
	}
	if strings.Contains(p.Body, "Wed 9 Dec") {
		t.Errorf("the page shows a 29th day")
	}
	if m := nowPerson.FindStringSubmatch(p.Body); m == nil || m[1] != "bob" {
		t.Errorf("on call now: %v, want bob", m)
	}
	// The current shift's row, and the members in order with the shift.
	if !strings.Contains(p.Body, `<tr class=" current">`) || !regexp.MustCompile(`(?s)<ol class="members"><li>alice.*<li>bob.*<li>erin`).MatchString(p.Body) {
		t.Errorf("no current row, or members not in order:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, "<td>1w ") || !strings.Contains(p.Body, "09:00 Europe/Berlin") {
		t.Errorf("the shift settings are missing")
	}
	if !strings.Contains(p.Body, "next apply") {
		t.Errorf("no note that apply owns the configuration")
	}
	if n := strings.Count(p.Body, `class="cover"`); n != 5 {
		// bob now, then erin, alice, bob and erin from the next four
		// Mondays (16 November to 7 December).
		t.Errorf("%d cover buttons, want 5 (one per current or upcoming weekly shift)", n)
	}
	if r := s.login("alice").get("/rotations/nope"); r.Status != http.StatusNotFound {
		t.Errorf("unknown rotation: %d, want 404", r.Status)
	}
}

func TestCoverThisShift(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("alice")
	r := b.post(primaryPage+"/cover", firstCover(t, b.get(primaryPage)))
	mustRedirect(t, "cover", r)

	p := b.get(r.Location)
	if !strings.Contains(p.Body, "alice covers bob until Mon 16 Nov 09:00 CET") {
		t.Errorf("no flash line after covering:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `<tr class="override current">`) || !strings.Contains(p.Body, "override by alice, covering bob") {
		t.Errorf("the current shift is not shown as alice's override:\n%s", p.Body)
	}
	if m := nowPerson.FindStringSubmatch(p.Body); m == nil || m[1] != "alice" {
		t.Errorf("on call now: %v, want alice", m)
	}
	if !strings.Contains(p.Body, "cover shift") {
		t.Errorf("the cover is not in the rotation's audit log")
	}
	person, until := s.onCallAPI("payments-primary")
	if want := time.Date(2026, 11, 16, 9, 0, 0, 0, berlin); person != "alice" || !until.Equal(want) {
		t.Errorf("GET /api/v1/oncall: %s until %v, want alice until %v", person, until, want)
	}
	ovs := s.overrides("payments-primary")
	if len(ovs) != 1 || !ovs[0].Start.Equal(rotNow) || ovs[0].CreatedBy != "alice" {
		t.Errorf("overrides = %+v, want alice's from now", ovs)
	}

	// An upcoming shift: the second form covers erin's whole next week.
	all := coverForm.FindAllStringSubmatch(p.Body, -1)
	mustRedirect(t, "cover next week", b.post(primaryPage+"/cover", url.Values{"start": {all[1][1]}, "end": {all[1][2]}}))
	ovs = s.overrides("payments-primary")
	if len(ovs) != 2 || !ovs[1].Start.Equal(time.Date(2026, 11, 16, 9, 0, 0, 0, berlin)) ||
		!ovs[1].End.Equal(time.Date(2026, 11, 23, 9, 0, 0, 0, berlin)) {
		t.Errorf("covering next week: %+v", ovs)
	}
}

func TestCoverByAnAdminPicksThePerson(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("root")
	p := b.get(primaryPage)
	if !strings.Contains(p.Body, `<select name="person"`) {
		t.Fatalf("an admin without a person gets no choice of who covers")
	}
	form := firstCover(t, p)
	form.Set("person", "frank") // not in team payments
	if r := b.post(primaryPage+"/cover", form); r.Status != http.StatusBadRequest {
		t.Errorf("cover by someone outside the team: %d, want 400", r.Status)
	}
	form.Set("person", "erin")
	mustRedirect(t, "cover", b.post(primaryPage+"/cover", form))
	if person, _ := s.onCallAPI("payments-primary"); person != "erin" {
		t.Errorf("on call after the admin's cover: %s, want erin", person)
	}
}

func TestTakeThePagerNow(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("alice")
	b.get("/rotations/payments-secondary")
	r := b.post("/rotations/payments-secondary/take", nil)
	mustRedirect(t, "take the pager", r)
	// payments-secondary is daily at 09:00 from 2 November: bob, erin,
	// alice; on 11 November it is bob's until the 12th 09:00.
	person, until := s.onCallAPI("payments-secondary")
	if want := time.Date(2026, 11, 12, 9, 0, 0, 0, berlin); person != "alice" || !until.Equal(want) {
		t.Errorf("after taking the pager: %s until %v, want alice until %v", person, until, want)
	}
	if p := b.get(r.Location); !strings.Contains(p.Body, "alice covers bob until Thu 12 Nov 09:00 CET") || !strings.Contains(p.Body, "take the pager") {
		t.Errorf("no flash line or audit entry after taking the pager:\n%s", p.Body)
	}
	// Taking it again changes nothing.
	mustRedirect(t, "take it again", b.post("/rotations/payments-secondary/take", nil))
	if ovs := s.overrides("payments-secondary"); len(ovs) != 1 {
		t.Errorf("taking the pager twice made %d overrides, want 1", len(ovs))
	}
}

func TestRemoveOverride(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("alice")
	mustRedirect(t, "cover", b.post(primaryPage+"/cover", firstCover(t, b.get(primaryPage))))
	m := removeForm.FindStringSubmatch(b.get(primaryPage).Body)
	if m == nil {
		t.Fatal("no Remove override button on the override's row")
	}

	// Someone of another team may not remove it.
	carol := s.login("carol")
	carol.get("/oncall")
	if r := carol.post("/overrides/"+m[1]+"/delete", nil); r.Status != http.StatusForbidden {
		t.Errorf("carol removing payments' override: %d, want 403", r.Status)
	}

	bob := s.login("bob")
	bob.get(primaryPage)
	r := bob.post("/overrides/"+m[1]+"/delete", nil)
	mustRedirect(t, "remove", r)
	if p := bob.get(r.Location); !strings.Contains(p.Body, "Removed alice&#39;s override from Wed 11 Nov 10:00 CET to Mon 16 Nov 09:00 CET") {
		t.Errorf("no flash line after removing the override:\n%s", p.Body)
	}
	if person, _ := s.onCallAPI("payments-primary"); person != "bob" {
		t.Errorf("after removing the override %s is on call, want bob", person)
	}
	p := bob.get(primaryPage)
	if strings.Contains(p.Body, `<tr class="override`) || !strings.Contains(p.Body, "remove override") {
		t.Errorf("the override is still shown, or its removal is not in the audit log:\n%s", p.Body)
	}
	if r := bob.post("/overrides/"+m[1]+"/delete", nil); r.Status != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", r.Status)
	}
}

func TestReorderMembers(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("alice")
	b.get(primaryPage)
	mustRedirect(t, "move alice down", b.post(primaryPage+"/members", url.Values{"member": {"alice"}, "move": {"down"}}))
	if got := s.rotation("payments-primary").Members; !slices.Equal(got, []string{"bob", "alice", "erin"}) {
		t.Errorf("after moving alice down: %v", got)
	}
	// Shift 1 of bob, alice, erin is alice's.
	if person, _ := s.onCallAPI("payments-primary"); person != "alice" {
		t.Errorf("after the reorder %s is on call, want alice", person)
	}
	mustRedirect(t, "full order", b.post(primaryPage+"/members", url.Values{"order": {"erin, bob alice"}}))
	if got := s.rotation("payments-primary").Members; !slices.Equal(got, []string{"erin", "bob", "alice"}) {
		t.Errorf("after the order form: %v", got)
	}
	for _, bad := range []url.Values{
		{"order": {"erin, bob"}},
		{"order": {"erin, bob, alice, frank"}},
		{"order": {"erin, bob, bob"}},
		{"member": {"erin"}, "move": {"up"}},
		{"member": {"zoe"}, "move": {"down"}},
	} {
		r := b.post(primaryPage+"/members", bad)
		if r.Status != http.StatusBadRequest {
			t.Errorf("reorder %v: %d, want 400", bad, r.Status)
		}
	}
	if got := s.rotation("payments-primary").Members; !slices.Equal(got, []string{"erin", "bob", "alice"}) {
		t.Errorf("a refused reorder changed the members: %v", got)
	}
	if p := b.get(primaryPage); !strings.Contains(p.Body, "reorder members") || !strings.Contains(p.Body, "alice, bob, erin → bob, alice, erin") {
		t.Errorf("the reorder is not in the audit log")
	}
}

func TestChangeShift(t *testing.T) {
	s := newRotationServer(t, rotNow)
	b := s.login("alice")
	b.get(primaryPage)
	mustRedirect(t, "change shift", b.post(primaryPage+"/shift",
		url.Values{"shift": {"1d"}, "handoff": {"10:30"}, "time_zone": {"Europe/Berlin"}}))
	r := s.rotation("payments-primary")
	if r.Shift != (rotation.Shift{Days: 1}) || !r.Start.Equal(time.Date(2026, 11, 2, 10, 30, 0, 0, berlin)) {
		t.Errorf("after the change: shift %+v, start %v", r.Shift, r.Start)
	}
	// Daily from 2 November 10:30: alice, bob, erin; 11 November 10:00
	// is still the 10th's shift, number 8: erin, until 10:30.
	if person, until := s.onCallAPI("payments-primary"); person != "erin" || !until.Equal(time.Date(2026, 11, 11, 10, 30, 0, 0, berlin)) {
		t.Errorf("after the change: %s until %v, want erin until 10:30", person, until)
	}
	for _, bad := range []struct {
		form url.Values
		says string
	}{
		{url.Values{"shift": {"0d"}, "handoff": {"09:00"}, "time_zone": {"Europe/Berlin"}}, "longer than zero"},
		{url.Values{"shift": {"-12h"}, "handoff": {"09:00"}, "time_zone": {"Europe/Berlin"}}, "longer than zero"},
		{url.Values{"shift": {""}, "handoff": {"09:00"}, "time_zone": {"Europe/Berlin"}}, "shift length is required"},
		{url.Values{"shift": {"1w"}, "handoff": {"09:00"}, "time_zone": {"Mars/Olympus_Mons"}}, "unknown time zone"},
		{url.Values{"shift": {"1w"}, "handoff": {"09:00"}, "time_zone": {"Local"}}, "unknown time zone"},
		{url.Values{"shift": {"1w"}, "handoff": {"25:00"}, "time_zone": {"Europe/Berlin"}}, "handoff time must be"},
	} {
		if r := b.post(primaryPage+"/shift", bad.form); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, bad.says) {
			t.Errorf("shift %v: %d, want 400 saying %q: %s", bad.form, r.Status, bad.says, r.Body)
		}
	}
	if got := s.rotation("payments-primary"); got.Shift != r.Shift || !got.Start.Equal(r.Start) || got.TimeZone.String() != "Europe/Berlin" {
		t.Errorf("a refused change changed the rotation: %+v", got)
	}
	if p := b.get(primaryPage); !strings.Contains(p.Body, "change shift") || !strings.Contains(p.Body, "<td>1d ") {
		t.Errorf("the change is not on the page or in its audit log")
	}
}

// TestRotationEditsRefused: a member of another team, a viewer, and a
// form without the session's CSRF token change nothing.
func TestRotationEditsRefused(t *testing.T) {
	s := newRotationServer(t, rotNow)
	forms := map[string]url.Values{
		primaryPage + "/cover":   {"start": {rotNow.UTC().Format(time.RFC3339)}, "end": {rotNow.Add(time.Hour).UTC().Format(time.RFC3339)}},
		primaryPage + "/take":    {},
		primaryPage + "/members": {"order": {"erin, bob, alice"}},
		primaryPage + "/shift":   {"shift": {"1d"}, "handoff": {"10:00"}, "time_zone": {"UTC"}},
	}
	before := s.rotation("payments-primary")
	check := func(t *testing.T, b *browser, csrf string) {
		for path, form := range forms {
			form = maps.Clone(form)
			if csrf != "" {
				form.Set("csrf_token", csrf)
			}
			if r := b.post(path, form); r.Status != http.StatusForbidden {
				t.Errorf("POST %s: %d, want 403", path, r.Status)
			}
		}
	}
	t.Run("member of another team", func(t *testing.T) {
		b := s.login("carol")
		if p := b.get(primaryPage); p.Status != http.StatusOK || strings.Contains(p.Body, "Cover this shift") {
			t.Errorf("carol sees payments' rotation %d with its forms", p.Status)
		}
		check(t, b, "")
	})
	t.Run("viewer", func(t *testing.T) {
		b := s.login("vic")
		if p := b.get(primaryPage); p.Status != http.StatusOK || strings.Contains(p.Body, "Take the pager now") {
			t.Errorf("the viewer sees the page %d with its forms", p.Status)
		}
		check(t, b, "")
	})
	t.Run("no CSRF token", func(t *testing.T) {
		b := s.login("alice")
		b.get(primaryPage)
		check(t, b, "forged")
	})
	if ovs := s.overrides("payments-primary"); len(ovs) != 0 {
		t.Errorf("refused forms made overrides: %+v", ovs)
	}
	after := s.rotation("payments-primary")
	if !slices.Equal(after.Members, before.Members) || after.Shift != before.Shift || !after.Start.Equal(before.Start) {
		t.Errorf("refused forms changed the rotation: %+v", after)
	}
}

// TestRotationCalendarAcrossDST: a daily 09:00 Berlin rotation keeps its
// 09:00 handoff on both sides of the spring and autumn changes, and the
// day of the change shows its 23 or 25 hours.
func TestRotationCalendarAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		now       time.Time
		day, next string
		hours     int
	}{
		{time.Date(2027, 3, 26, 12, 0, 0, 0, berlin), "Sun 28 Mar", "Mon 29 Mar", 23},
		{time.Date(2026, 10, 20, 12, 0, 0, 0, berlin), "Sun 25 Oct", "Mon 26 Oct", 25},
	} {
		t.Run(tc.day, func(t *testing.T) {
			s := newUIServer(t, func(o *web.Options) { o.Now = func() time.Time { return tc.now } })
			cfg, err := rotation.ParseConfig([]byte(onCallYAML), "oncall.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.OnCall.Apply(context.Background(), cfg, false); err != nil {
				t.Fatal(err)
			}
			s.addUser("alice", account.Member, "alice")
			p := s.login("alice").get("/rotations/primary")
			if p.Status != http.StatusOK {
				t.Fatalf("%d %s", p.Status, p.Body)
			}
			// The day of the change, then the day after, each 00:00–09:00
			// and 09:00–24:00 local.
			day := regexp.MustCompile(`(?s)<th class="day" scope="row" rowspan="2">` + tc.day + ` <span class="muted">\((\d+)-hour day\)</span></th>\s*<td class="hours">00:00–09:00</td>.*?<td class="hours">09:00–24:00</td>`)
			m := day.FindStringSubmatch(p.Body)
			if m == nil || m[1] != strconv.Itoa(tc.hours) {
				t.Errorf("%s is not shown as a %d-hour day handing over at 09:00:\n%s", tc.day, tc.hours, p.Body)
			}
			next := regexp.MustCompile(`<th class="day" scope="row" rowspan="2">` + tc.next + `</th>\s*<td class="hours">00:00–09:00</td>`)
			if !next.MatchString(p.Body) || strings.Contains(p.Body, "08:00–") || strings.Contains(p.Body, "10:00–") {
				t.Errorf("the day after %s does not hand over at 09:00 local", tc.day)
			}
		})
	}
}
