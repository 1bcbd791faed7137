package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/web/account"
)

// demoPages are the web UI's pages, opened on the demo's data. A page
// added to the UI is added here, as it is to web/pages_test.go's uiPages;
// a page about one object takes an object the demo has (rotation
// payments-primary, team payments).
var demoPages = []string{
	"/oncall",
	"/login",
	"/rotations/payments-primary",
	"/incidents",
	"/incidents?state=resolved&since=30d",
	"/noise",
	"/noise?team=databases",
	"/noise/whatif?team=payments&rule=DiskSpaceLow&keep_firing_for=30m",
	"/reports",
	"/reports?team=databases",
	"/deadletters",
	"/feeds",
	"/admin",
}

// incidentLink is a link to an incident's page on the incidents page.
var incidentLink = regexp.MustCompile(`href="(/incidents/\d+)"`)

// openDemoPages serves the demo's database dsn and opens every page as an
// admin: a month of real-looking history must not break a template.
// TestDemo calls it once the demo is loaded, so that the slow load (minutes
// under the race detector) is paid once.
func openDemoPages(t *testing.T, dsn string, db *migrations.DB) {
	t.Helper()
	addUser(t, db, "root", account.Admin, "")
	s := startServer(t, dsn)
	client := loginHTTP(t, s.URL, "root")
	paths := slices.Clone(demoPages)
	for i := 0; i < len(paths); i++ {
		path := paths[i]
		status, body := getPage(t, client, s.URL+path)
		if status != http.StatusOK || strings.Contains(body, "internal error") || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s on the demo: %d, want 200 and a whole page; body:\n%s", path, status, body)
		}
		// and the first incident of each incident list
		if m := incidentLink.FindStringSubmatch(body); m != nil && strings.HasPrefix(path, "/incidents?") {
			paths = append(paths, m[1])
		}
	}
	if len(paths) == len(demoPages) {
		t.Errorf("the demo's incidents page links no incident")
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginHTTP logs name in with uiPassword through the login form and
// returns a client that keeps the session's cookie.
func loginHTTP(t *testing.T, base, name string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	_, form := getPage(t, client, base+"/login")
	m := csrfField.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("the login page has no csrf_token field:\n%s", form)
	}
	res, err := client.PostForm(base+"/login", url.Values{"name": {name}, "password": {uiPassword}, "csrf_token": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path == "/login" {
		t.Fatalf("log in %s: %d at %s, want 200 past the login page:\n%s", name, res.StatusCode, res.Request.URL.Path, body)
	}
	return client
}

// getPage GETs address and returns the status and the body.
func getPage(t *testing.T, client *http.Client, address string) (int, string) {
	t.Helper()
	res, err := client.Get(address)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}
