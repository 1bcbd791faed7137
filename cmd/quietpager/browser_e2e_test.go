package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ingeststore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/web/account"
	accountstore "github.com/quietpager/quietpager/web/account/sqlstore"
)

// uiPassword is the password of every user the UI tests create.
const uiPassword = "correct horse battery"

// addUser creates a web UI user whose password is uiPassword.
func addUser(t *testing.T, db *migrations.DB, name string, role account.Role, person string) {
	t.Helper()
	if _, err := accountstore.New(db).AddUser(context.Background(), name, role, person, uiPassword, time.Now()); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
}

// uiServer is quietpager serve on a fresh SQLite database with
// docs/examples/oncall.yaml applied (teams payments: alice, bob, erin;
// databases: carol, dave, erin).
type uiServer struct {
	*server
	DB    *migrations.DB
	Token string // an API token's secret
}

func startUIServer(t *testing.T) *uiServer {
	t.Helper()
	dsn := migrationstest.DSN(t, migrations.SQLite)
	db := migrationstest.Open(t, dsn)
	mustRun(t, "apply", "-f", "../../docs/examples/oncall.yaml", "--db", dsn)
	token, err := ingeststore.New(db).Create(context.Background(), "browser-e2e", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &uiServer{server: startServer(t, dsn), DB: db, Token: token}
}

// onCallNow is who GET /api/v1/oncall says is on call, by rotation.
func (s *uiServer) onCallNow(t *testing.T) map[string]string {
	t.Helper()
	var out struct {
		OnCall []struct {
			Rotation string `json:"rotation"`
			Person   string `json:"person"`
		} `json:"oncall"`
	}
	if err := getJSON(s.URL, "/api/v1/oncall", s.Token, &out); err != nil {
		t.Fatal(err)
	}
	byRotation := map[string]string{}
	for _, o := range out.OnCall {
		byRotation[o.Rotation] = o.Person
	}
	return byRotation
}

// viewport is a browser window size; a mobile one lays pages out as a
// phone does (it honours <meta name="viewport">).
type viewport struct {
	width, height int64
	mobile        bool
}

var (
	phone   = viewport{412, 915, true}
	desktop = viewport{1280, 900, false}
)

// browserStep bounds one browser step, so that a page that never comes
// fails the test instead of hanging it.
const browserStep = 15 * time.Second

// screenshots is where shot saves its pictures, for a person to look at:
// test-output/screenshots at the repository's root (git ignores it).
var screenshots = filepath.Join("..", "..", "test-output", "screenshots")

// chromium is one tab of a headless Chromium looking at quietpager.
type chromium struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// startChromium starts Debian's chromium, headless, on a phone-sized
// window; without it the test fails on CI and is skipped elsewhere. The
// browser closes when the test ends.
func startChromium(t *testing.T, base string) *chromium {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		const missing = "the browser tests need Debian's chromium on PATH (apt-get install chromium; .ci/run installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	output := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.DisableGPU, chromedp.CombinedOutput(output),
		chromedp.NoSandbox) // CI runs as root, where Chromium's sandbox cannot start
	alloc, closeBrowser := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, closeTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		closeTab()
		closeBrowser()
		if t.Failed() {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	// The first action starts the browser. It runs on the tab's own
	// context: had it a step's deadline, the browser would die with it.
	if err := chromedp.Do(ctx, setViewport(phone)); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return &chromium{t: t, ctx: ctx, base: base}
}

func setViewport(v viewport) chromedp.Action[chromedp.Void] {
	if v.mobile {
		return chromedp.EmulateViewport(v.width, v.height, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(v.width, v.height)
}

// step runs one browser action within browserStep and fails the test if it fails.
func step[T any](c *chromium, what string, a chromedp.Action[T]) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatalf("browser: %s: %v (page %s)", what, err, c.path())
	}
	return v
}

// path is the path and query of the page the browser shows.
func (c *chromium) path() string {
	ctx, cancel := context.WithTimeout(c.ctx, browserStep)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

// open loads path, following redirects, and fails the test unless the
// page it ends on answers 200.
func (c *chromium) open(path string) {
	c.t.Helper()
	res := step(c, "open "+path, chromedp.NavigateResponse(c.base+path))
	if res == nil || res.Status != 200 {
		c.t.Fatalf("browser: open %s: %v, want 200 (page %s)", path, res, c.path())
	}
}

// press clicks the first button labelled label (its visible text), waits
// for the page that its form or link leads to and fails the test unless
// that page answers 200.
func (c *chromium) press(label string) {
	c.t.Helper()
	button := chromedp.Search(`//button[normalize-space()="` + label + `"]`)
	status, err := func() (int64, error) {
		ctx, cancel := context.WithTimeout(c.ctx, browserStep)
		defer cancel()
		res, err := chromedp.RunResponse(ctx, chromedp.Click(button))
		if err != nil || res == nil {
			return 0, err
		}
		return res.Status, nil
	}()
	if err != nil || status != 200 {
		c.t.Fatalf("browser: press %q: status %d, err %v, want a page answering 200; page %s shows:\n%s",
			label, status, err, c.path(), c.textOf("main"))
	}
}

// typeInto types text into the form field sel.
func (c *chromium) typeInto(sel, text string) {
	c.t.Helper()
	step(c, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// textOf is the visible text of the first element matching the CSS
// selector sel; it waits for the element to appear.
func (c *chromium) textOf(sel string) string {
	c.t.Helper()
	return step(c, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// login logs name in with uiPassword through the login form: the one the
// browser shows, or /login's.
func (c *chromium) login(name string) {
	c.t.Helper()
	if u, _ := url.Parse(c.path()); u == nil || u.Path != "/login" {
		c.open("/login")
	}
	c.typeInto(`input[name="name"]`, name)
	c.typeInto(`input[name="password"]`, uiPassword)
	c.press("Log in")
	if u, _ := url.Parse(c.path()); u == nil || u.Path == "/login" {
		c.t.Fatalf("browser: logging in %s stayed on the login page: %s", name, c.textOf("main"))
	}
}

// shot saves a full-page PNG screenshot of what the browser shows, laid
// out for v, as test-output/screenshots/<name>.png.
func (c *chromium) shot(name string, v viewport) {
	c.t.Helper()
	step(c, "resize to "+name, setViewport(v))
	png := step(c, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(screenshots, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshots, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// TestBrowser uses the web UI in a real headless Chromium the way a person
// on call does, and saves screenshots of the pages it visits.
func TestBrowser(t *testing.T) {
	s := startUIServer(t)
	want := s.onCallNow(t)
	if len(want) != 3 {
		t.Fatalf("GET /api/v1/oncall lists %v, want the example's 3 rotations", want)
	}
	// A payments member who is not on call now will cover the current shift.
	user := "alice"
	if want["payments-primary"] == user {
		user = "bob"
	}
	addUser(t, s.DB, user, account.Member, user)
	c := startChromium(t, s.URL)

	// Logged out, every page leads to the login form, which leads back.
	c.open("/incidents")
	if got := c.path(); got != "/login?next=%2Fincidents" {
		t.Fatalf("logged out, /incidents showed %s, want /login?next=%%2Fincidents", got)
	}
	c.open("/oncall")
	c.shot("login", phone)
	c.login(user)
	if got := c.path(); got != "/oncall" {
		t.Fatalf("after logging in the browser is on %s, want /oncall, where it was going", got)
	}

	// The on-call page names, for every rotation, whom the API names.
	for rotation, person := range want {
		if person == "" {
			t.Errorf("GET /api/v1/oncall: nobody on call in %s", rotation)
		}
		if got := c.textOf(`span[data-rotation="` + rotation + `"]`); got != person {
			t.Errorf("on-call page shows %q on call in %s, the API %q", got, rotation, person)
		}
	}
	c.shot("oncall", phone)
	c.shot("oncall-desktop", desktop)

	// Covering the current shift: the calendar, the on-call page and the
	// API all name the user from now on.
	c.open("/rotations/payments-primary")
	c.shot("rotation", phone)
	c.press("Cover this shift")
	if got := c.textOf("tr.override.current td:nth-of-type(2)"); !strings.HasPrefix(got, user) {
		t.Errorf("the calendar's current row after covering reads %q, want %s's override", got, user)
	}
	c.shot("rotation-covered", phone)
	if got := s.onCallNow(t)["payments-primary"]; got != user {
		t.Errorf("after covering, GET /api/v1/oncall names %q in payments-primary, want %s", got, user)
	}
	c.open("/oncall")
	if got := c.textOf(`span[data-rotation="payments-primary"]`); got != user {
		t.Errorf("after covering, the on-call page names %q in payments-primary, want %s", got, user)
	}

	// Acknowledging a payments incident from its page.
	mustPostWebhook(t, s.URL, s.Token, webhookBody(t, firing(map[string]string{
		"alertname": "PaymentsDown", "team": "payments", "severity": "critical", "instance": "pay-1"})), http.StatusOK)
	incidents, err := listIncidents(s.URL, s.Token)
	if err != nil || len(incidents) != 1 {
		t.Fatalf("incidents after the webhook: %v, %v; want one", incidents, err)
	}
	id := incidents[0].ID
	c.open("/incidents")
	c.shot("incidents", phone)
	c.open(fmt.Sprint("/incidents/", id))
	c.press("Acknowledge")
	if got := c.textOf(".state-acknowledged"); got != "acknowledged" {
		t.Errorf("after acknowledging, the incident's state reads %q", got)
	}
	c.shot("incident", phone)
	if in, err := getIncident(s.URL, s.Token, id); err != nil || in.State != "acknowledged" || in.AcknowledgedBy != user {
		t.Errorf("GET /api/v1/incidents/%d after acknowledging: %+v, %v; want acknowledged by %s", id, in, err, user)
	}

	// The noise page and this week's report.
	c.open("/noise?team=payments")
	if got := c.textOf("h1"); !strings.HasPrefix(got, "Noise") {
		t.Errorf("the noise page's heading is %q", got)
	}
	c.shot("noise", phone)
	c.shot("noise-desktop", desktop)
	year, week := time.Now().ISOWeek()
	c.open(fmt.Sprintf("/reports?team=payments&week=%04d-W%02d", year, week))
	if got := c.textOf("h1"); !strings.HasPrefix(got, "Weekly report") {
		t.Errorf("the report page's heading is %q", got)
	}
	c.shot("report", phone)

	// Logging out ends the session: the pages lead to the login form again.
	c.press("Log out")
	c.open("/oncall")
	if got := c.path(); got != "/login?next=%2Foncall" {
		t.Errorf("after logging out, /oncall showed %s, want the login form", got)
	}
}
