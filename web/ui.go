package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/web/account"
)

// The UI: server-rendered pages from html/template, templates and assets
// embedded and parsed at start-up (a broken template fails the boot, not a
// request), no JavaScript build and nothing loaded from elsewhere.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages holds every page's template: the layout with that page's
// "content" block.
type pages struct {
	byName map[string]*template.Template
	log    *slog.Logger
	now    func() time.Time
}

// wallLayout is how pages give an instant: a day and a wall time, with
// the zone's abbreviation.
const wallLayout = "Mon 2 Jan 15:04 MST"

var templateFuncs = template.FuncMap{
	// when shows an instant in a time zone, with the zone's abbreviation.
	"when": func(t time.Time, loc *time.Location) string {
		if t.IsZero() {
			return "—"
		}
		if loc == nil {
			loc = time.UTC
		}
		return t.In(loc).Format(wallLayout)
	},
	"clock": func(t time.Time, loc *time.Location) string {
		if loc == nil {
			loc = time.UTC
		}
		return t.In(loc).Format("15:04")
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur":     humanDuration,
	"since":   func(t, now time.Time) string { return humanDuration(now.Sub(t)) },
	"join":    strings.Join,
}

// humanDuration says d the way people do: "3h 20m", "2d 4h", "45s".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// parsePages parses layout.html with each other template file.
func parsePages(log *slog.Logger, now func() time.Time) (*pages, error) {
	// layout.html and the shared blocks (audit.html) go into every page.
	layout, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/layout.html", "templates/audit.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}, log: log, now: now}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" || name == "audit" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, file)
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page template receives.
type view struct {
	Title string
	Nav   string // the navigation entry to highlight
	User  account.User
	CSRF  string
	Now   time.Time
	Flash string
	Data  any
}

// render writes page name with data; the logged-in user and the CSRF token
// come from the request's session.
func (p *pages) render(c *gin.Context, status int, name, title string, data any) {
	t, ok := p.byName[name]
	if !ok {
		panic("no page template " + name) // parsePages saw every file: a typo in a handler
	}
	v := view{Title: title, Nav: name, Data: data, Now: p.now(), Flash: c.Query("flash")}
	if s, ok := sessionOf(c); ok {
		v.User, v.CSRF = s.User, s.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// fail shows err as a page: the same vocabulary as the API's errors.
func (p *pages) fail(c *gin.Context, err error) {
	code := quietpager.ErrorCode(err)
	if code == quietpager.Internal {
		p.log.Error("page failed", "path", c.Request.URL.Path, "err", err)
	}
	status := httpStatus(code)
	p.render(c, status, "error", http.StatusText(status), quietpager.ErrorMessage(err))
	c.Abort()
}

// back redirects to a page after a form, with a line to show there.
func back(c *gin.Context, to, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "flash=" + template.URLQueryEscaper(flash)
	}
	c.Redirect(http.StatusSeeOther, to)
}

func handleStatic() gin.HandlerFunc {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(c.Writer, c.Request)
	}
}
