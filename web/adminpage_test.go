package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	tokenstore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// newAdminServer is the UI with the admin page on, the example on-call
// configuration applied and root, an admin, logged in.
func newAdminServer(t *testing.T) (*uiServer, *browser) {
	t.Helper()
	s := newUIServer(t, func(o *web.Options) {
		// The stores newUIServer and newServerOn made, so the page and the
		// test see the same users and tokens.
		o.Users = o.Accounts.(*accountstore.Store)
		o.Tokens = o.Auth.Store.(*tokenstore.Tokens)
		// Reload the token table on every webhook, so a revoke shows at
		// once rather than after the cache's TTL.
		o.Auth.TTL = 0
	})
	s.applyExample()
	s.addUser("root", account.Admin, "")
	return s, s.login("root")
}

func (s *uiServer) users() map[string]account.User {
	s.t.Helper()
	list, err := s.Accounts.Users(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]account.User{}
	for _, u := range list {
		out[u.Name] = u
	}
	return out
}

func (s *uiServer) tokenNames() []string {
	s.t.Helper()
	list, err := s.Tokens.List(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, tk := range list {
		names = append(names, tk.Name)
	}
	return names
}

func wantStatus(t *testing.T, what string, r page, status int, body string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Body, body) {
		t.Errorf("%s: %d, want %d with %q; body:\n%s", what, r.Status, status, body, r.Body)
	}
}

func TestAdminManagesUsers(t *testing.T) {
	s, root := newAdminServer(t)

	r := root.get("/admin")
	wantStatus(t, "GET /admin", r, http.StatusOK, `data-user="root"`)
	for _, want := range []string{"payments-primary", "alice, bob, erin", "on call in payments-secondary, frank", "quietpager apply -f oncall.yaml", "alertmanager"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("admin page does not show %q", want)
		}
	}
	if strings.Contains(r.Body, "change-me-to-a-long-random-string") {
		t.Error("the admin page shows a team's webhook secret")
	}

	// Refused forms change nothing.
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"unknown role", url.Values{"name": {"zoe"}, "role": {"root"}, "password": {testPassword}}, 400, "role must be"},
		{"person not in oncall.yaml", url.Values{"name": {"zoe"}, "role": {"member"}, "person": {"zoey"}, "password": {testPassword}}, 400, "not a person"},
		{"member without a person", url.Values{"name": {"zoe"}, "role": {"member"}, "password": {testPassword}}, 400, "a member needs"},
		{"short password", url.Values{"name": {"zoe"}, "role": {"viewer"}, "password": {"short"}}, 400, "at least 10"},
		{"duplicate", url.Values{"name": {"root"}, "role": {"viewer"}, "password": {testPassword}}, 409, "already exists"},
	} {
		wantStatus(t, "add user, "+tc.name, root.post("/admin/users", tc.form), tc.status, tc.says)
	}
	if n := len(s.users()); n != 1 {
		t.Fatalf("refused forms added users: %v", s.users())
	}

	r = root.post("/admin/users", url.Values{"name": {"zoe"}, "role": {"member"}, "person": {"bob"}, "password": {testPassword}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/admin?flash=") {
		t.Fatalf("add user: %d to %q", r.Status, r.Location)
	}
	if u := s.users()["zoe"]; u.Role != account.Member || u.Person != "bob" {
		t.Errorf("zoe after add: %+v", u)
	}
	zoe := s.login("zoe") // fails the test unless zoe can log in with the password given
	wantStatus(t, "zoe's on-call page", zoe.get("/oncall"), http.StatusOK, "zoe (member)")

	r = root.post("/admin/users/role", url.Values{"name": {"zoe"}, "role": {"viewer"}, "person": {""}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change role: %d %s", r.Status, r.Body)
	}
	if u := s.users()["zoe"]; u.Role != account.Viewer || u.Person != "" {
		t.Errorf("zoe after the role change: %+v", u)
	}
	wantStatus(t, "zoe's session after the role change", zoe.get("/oncall"), http.StatusOK, "zoe (viewer)")

	r = root.post("/admin/users/delete", url.Values{"name": {"zoe"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if _, ok := s.users()["zoe"]; ok {
		t.Error("zoe still exists after delete")
	}
	if r := zoe.get("/oncall"); r.Status != http.StatusSeeOther {
		t.Errorf("a deleted user's session still works: %d", r.Status)
	}
	wantStatus(t, "delete an unknown user", root.post("/admin/users/delete", url.Values{"name": {"zoe"}}), 404, "no user named")

	// Each change is in the audit log on the page, by whom.
	r = root.get("/admin")
	for _, want := range []string{"added user zoe: role member, person bob", "changed user zoe: role viewer", "deleted user zoe"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("admin page's changes do not show %q", want)
		}
	}
	if entries, _ := s.Accounts.AuditOf(context.Background(), "user", "zoe", 10); len(entries) != 3 || entries[0].Actor != "root" {
		t.Errorf("audit of zoe: %+v, want 3 entries by root", entries)
	}
}

func TestAdminCannotRemoveThemselves(t *testing.T) {
	s, root := newAdminServer(t)
	root.get("/admin")
	wantStatus(t, "delete yourself", root.post("/admin/users/delete", url.Values{"name": {"root"}}),
		http.StatusConflict, "you cannot delete your own account")
	wantStatus(t, "demote yourself", root.post("/admin/users/role", url.Values{"name": {"root"}, "role": {"viewer"}}),
		http.StatusConflict, "you cannot change your own role")
	if u := s.users()["root"]; u.Role != account.Admin {
		t.Errorf("root after refusals: %+v", u)
	}
	if !strings.Contains(root.get("/admin").Body, "(you)") {
		t.Error("the admin page offers forms to change or delete yourself")
	}

	// Another admin may be demoted and deleted: root stays admin.
	s.addUser("second", account.Admin, "")
	if r := root.post("/admin/users/role", url.Values{"name": {"second"}, "role": {"viewer"}}); r.Status != http.StatusSeeOther {
		t.Errorf("demote another admin: %d %s", r.Status, r.Body)
	}
	if r := root.post("/admin/users/delete", url.Values{"name": {"second"}}); r.Status != http.StatusSeeOther {
		t.Errorf("delete another admin: %d %s", r.Status, r.Body)
	}
}

func TestAdminIsForAdminsOnly(t *testing.T) {
	s, _ := newAdminServer(t)
	s.addUser("alice", account.Member, "alice")
	s.addUser("vera", account.Viewer, "")
	before, tokens := s.users(), s.tokenNames()

	for _, name := range []string{"alice", "vera"} {
		b := s.login(name)
		if strings.Contains(b.get("/oncall").Body, `href="/admin"`) {
			t.Errorf("%s's navigation links to /admin", name)
		}
		wantStatus(t, name+" GET /admin", b.get("/admin"), http.StatusForbidden, "only admins")
		// Valid CSRF tokens: the role is what is refused.
		for path, form := range map[string]url.Values{
			"/admin/users":         {"name": {"mallory"}, "role": {"admin"}, "password": {testPassword}},
			"/admin/users/role":    {"name": {name}, "role": {"admin"}},
			"/admin/users/delete":  {"name": {"root"}},
			"/admin/tokens":        {"name": {"mine"}},
			"/admin/tokens/revoke": {"name": {"alertmanager"}},
		} {
			b.get("/oncall")
			wantStatus(t, name+" POST "+path, b.post(path, form), http.StatusForbidden, "only admins")
		}
	}
	if after := s.users(); len(after) != len(before) || after["alice"].Role != account.Member || after["vera"].Role != account.Viewer {
		t.Errorf("users changed by non-admins: %v", after)
	}
	if after := s.tokenNames(); strings.Join(after, ",") != strings.Join(tokens, ",") {
		t.Errorf("tokens changed by non-admins: %v, were %v", after, tokens)
	}
}

func TestAdminFormsNeedCSRF(t *testing.T) {
	s, root := newAdminServer(t)
	root.get("/admin")
	for path, form := range map[string]url.Values{
		"/admin/users":         {"name": {"zoe"}, "role": {"viewer"}, "password": {testPassword}},
		"/admin/users/delete":  {"name": {"root"}},
		"/admin/tokens":        {"name": {"sneaky"}},
		"/admin/tokens/revoke": {"name": {"alertmanager"}},
	} {
		for _, token := range []string{"", "forged"} {
			form.Set("csrf_token", token)
			wantStatus(t, "POST "+path+" with csrf_token "+token, root.post(path, form), http.StatusForbidden, "reload the page")
		}
	}
	if len(s.users()) != 1 || strings.Join(s.tokenNames(), ",") != "alertmanager" {
		t.Errorf("forms without a valid CSRF token changed something: users %v, tokens %v", s.users(), s.tokenNames())
	}
}

var secretOnPage = regexp.MustCompile(`<code class="secret">(qp_[A-Za-z0-9_-]{40,})</code>`)

func TestAdminTokens(t *testing.T) {
	s, root := newAdminServer(t)
	root.get("/admin")
	r := root.post("/admin/tokens", url.Values{"name": {"alertmanager-eu1"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	var secret string
	if m := secretOnPage.FindStringSubmatch(r.Body); m != nil {
		secret = m[1]
	}
	if secret == "" || strings.Count(r.Body, secret) != 1 {
		t.Fatalf("the created page shows the secret %d times, want once:\n%s", strings.Count(r.Body, secret), r.Body)
	}
	body := payload(t, "AdminToken", 1, 0)
	if r := s.post(secret, body); r.Status/100 != 2 {
		t.Fatalf("webhook with the token made on the page: %d %s", r.Status, r.Body)
	}

	page := root.get("/admin")
	if !strings.Contains(page.Body, `data-token="alertmanager-eu1"`) {
		t.Error("the admin page does not list the new token")
	}
	if strings.Contains(page.Body, secret) {
		t.Error("the admin page shows a token's secret again")
	}
	wantStatus(t, "a second token of the same name", root.post("/admin/tokens", url.Values{"name": {"alertmanager-eu1"}}),
		http.StatusConflict, "already exists")
	wantStatus(t, "a token without a name", root.post("/admin/tokens", url.Values{"name": {" "}}),
		http.StatusBadRequest, "needs a name")

	root.get("/admin")
	if r := root.post("/admin/tokens/revoke", url.Values{"name": {"alertmanager-eu1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.post(secret, body); r.Status != http.StatusUnauthorized {
		t.Errorf("webhook with the revoked token: %d, want 401", r.Status)
	}
	if r := s.post(s.Token, body); r.Status/100 != 2 {
		t.Errorf("revoking one token broke another: %d", r.Status)
	}
	wantStatus(t, "revoke it again", root.post("/admin/tokens/revoke", url.Values{"name": {"alertmanager-eu1"}}),
		http.StatusNotFound, "no token named")

	page = root.get("/admin")
	for _, want := range []string{"created token alertmanager-eu1", "revoked token alertmanager-eu1"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("admin page's changes do not show %q", want)
		}
	}
}
