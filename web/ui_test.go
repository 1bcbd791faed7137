package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	tokenstore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/reports"
	reportstore "github.com/quietpager/quietpager/reports/sqlstore"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/rotation/paging"
	rotationstore "github.com/quietpager/quietpager/rotation/sqlstore"
	"github.com/quietpager/quietpager/web"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// uiServer is the web UI on a fresh SQLite database with
// docs/examples/oncall.yaml applied (teams payments: alice, bob, erin;
// databases: carol, dave, erin).
type uiServer struct {
	*server
	Accounts *accountstore.Store
	OnCall   *rotationstore.Store
}

const testPassword = "correct horse battery"

func newUIServer(t *testing.T, opts ...func(*web.Options)) *uiServer {
	t.Helper()
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	s := &uiServer{Accounts: accountstore.New(db), OnCall: rotationstore.New(db)}
	// Dead letters are listed by an insert-only River client: no jobs run.
	pager := paging.New(paging.Options{Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	jobs, err := river.NewClient(db.RiverDriver(), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pager.SetClient(jobs)
	s.server = newServerOn(t, db, append([]func(*web.Options){func(o *web.Options) {
		o.Accounts, o.Audit, o.OnCall, o.SessionTTL = s.Accounts, s.Accounts, s.OnCall, 12*time.Hour
		o.Feeds, o.Users, o.Tokens = s.Accounts, s.Accounts, o.Auth.Store.(*tokenstore.Tokens)
		o.Reports = reports.New(reports.Options{History: reportstore.New(db), OnCall: s.OnCall, Now: time.Now})
		o.DeadLetters = pager
	}}, opts...)...)
	return s
}

// addUser creates a user whose password is testPassword.
func (s *uiServer) addUser(name string, role account.Role, person string) {
	s.t.Helper()
	if _, err := s.Accounts.AddUser(context.Background(), name, role, person, testPassword, time.Now()); err != nil {
		s.t.Fatal(err)
	}
}

// browser is a logged-in (or not) client that keeps cookies, does not
// follow redirects, and sends the CSRF token of the last page it read.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func (s *uiServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, base: s.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs name in with testPassword and fails the test if that fails.
func (s *uiServer) login(name string) *browser {
	s.t.Helper()
	b := s.browser()
	b.get("/login")
	r := b.post("/login", url.Values{"name": {name}, "password": {testPassword}})
	if r.Status != http.StatusSeeOther {
		s.t.Fatalf("login %s: %d %s", name, r.Status, r.Body)
	}
	b.get("/oncall")
	return b
}

// page is an answer to a browser.
type page struct {
	Status   int
	Body     string
	Location string
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfInput.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return page{Status: res.StatusCode, Body: string(body), Location: res.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends a form with the CSRF token of the last page read, unless
// the form has its own csrf_token.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// applyExample applies docs/examples/oncall.yaml.
func (s *uiServer) applyExample() rotation.Config {
	s.t.Helper()
	data, err := os.ReadFile("../docs/examples/oncall.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	cfg, err := rotation.ParseConfig(data, "oncall.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.OnCall.Apply(context.Background(), cfg, false); err != nil {
		s.t.Fatal(err)
	}
	return cfg
}
