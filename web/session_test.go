package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/web/account"
)

func TestLoggedOutRequestsGoToLogin(t *testing.T) {
	s := newUIServer(t)
	b := s.browser()
	for _, path := range []string{"/", "/oncall"} {
		r := b.get(path)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
			t.Errorf("GET %s logged out: %d to %q, want 303 to /login", path, r.Status, r.Location)
		}
	}
	if r := b.get("/oncall"); r.Location != "/login?next=%2Foncall" {
		t.Errorf("redirect forgets where the user was going: %q", r.Location)
	}
	if r := b.post("/logout", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Errorf("POST logged out: %d to %q, want 303 to /login", r.Status, r.Location)
	}
	if r := b.get("/login"); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="password"`) {
		t.Errorf("login page: %d %s", r.Status, r.Body)
	}
}

func TestLoginSessionAndLogout(t *testing.T) {
	s := newUIServer(t)
	s.applyExample()
	s.addUser("alice", account.Member, "alice")
	b := s.browser()
	b.get("/login?next=/oncall%3Fx%3D1")
	r := b.post("/login", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {"/oncall?x=1"}})
	if r.Status != http.StatusSeeOther || r.Location != "/oncall?x=1" {
		t.Fatalf("login: %d to %q, want 303 back to /oncall?x=1", r.Status, r.Location)
	}
	page := b.get("/oncall")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "payments-primary") || !strings.Contains(page.Body, "alice (member)") {
		t.Fatalf("on-call page after login: %d %s", page.Status, page.Body)
	}
	if r := b.post("/logout", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := b.get("/oncall"); r.Status != http.StatusSeeOther {
		t.Errorf("after logout the session still works: %d", r.Status)
	}
}

func TestLoginRefusals(t *testing.T) {
	s := newUIServer(t)
	s.addUser("bob", account.Viewer, "")

	t.Run("open redirect", func(t *testing.T) {
		b := s.browser()
		b.get("/login")
		r := b.post("/login", url.Values{"name": {"bob"}, "password": {testPassword}, "next": {"//evil.example/x"}})
		if r.Location != "/" {
			t.Errorf("next=//evil.example/x sent the user to %q, want /", r.Location)
		}
	})
	t.Run("login form without its token", func(t *testing.T) {
		b := s.browser()
		r := b.post("/login", url.Values{"name": {"bob"}, "password": {testPassword}})
		if r.Status != http.StatusForbidden {
			t.Errorf("login without the form's token: %d, want 403", r.Status)
		}
	})
	t.Run("wrong password, then rate limited", func(t *testing.T) {
		b := s.browser()
		b.get("/login")
		for i := range 5 {
			r := b.post("/login", url.Values{"name": {"bob"}, "password": {"wrong password!"}})
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Wrong user name or password") {
				t.Fatalf("wrong password %d: %d", i, r.Status)
			}
		}
		r := b.post("/login", url.Values{"name": {"bob"}, "password": {testPassword}})
		if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Body, "Too many failed logins") {
			t.Errorf("sixth try, right password: %d, want 429 (the limit holds whatever the password)", r.Status)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		b := s.browser()
		b.get("/login")
		b.c.Transport = &http.Transport{} // a fresh connection: same client address, that is fine
		r := b.post("/login", url.Values{"name": {"nobody"}, "password": {testPassword}})
		if r.Status != http.StatusTooManyRequests && r.Status != http.StatusUnauthorized {
			t.Errorf("unknown user: %d", r.Status)
		}
	})
}

func TestFormWithoutCSRFTokenIsRefused(t *testing.T) {
	s := newUIServer(t)
	s.addUser("carol", account.Admin, "carol")
	b := s.login("carol")
	r := b.post("/logout", url.Values{"csrf_token": {"forged"}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "reload the page") {
		t.Fatalf("logout with a forged token: %d, want 403", r.Status)
	}
	if r := b.get("/oncall"); r.Status != http.StatusOK {
		t.Errorf("the refused form logged the user out anyway: %d", r.Status)
	}
}
