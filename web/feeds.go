package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web/account"
)

// FeedStore keeps calendar feeds: secret, revocable addresses of a
// person's or a rotation's shifts. Only the tokens' hashes are stored.
type FeedStore interface {
	CreateFeed(ctx context.Context, kind account.FeedKind, subject, by string, now time.Time) (string, account.Feed, error)
	FeedByToken(ctx context.Context, token string) (account.Feed, error)
	Feeds(ctx context.Context) ([]account.Feed, error)
	RevokeFeed(ctx context.Context, id int64, now time.Time) error
}

// A feed shows the shifts from a week back (so last week's shifts stay in
// the calendar) to eight weeks ahead.
const (
	feedBack  = 7 * 24 * time.Hour
	feedAhead = 8 * 7 * 24 * time.Hour
)

type feedsView struct {
	Feeds     []account.Feed // the user's live feeds; every feed for an admin
	Rotations []string
	Person    string         // the user's person, whose shifts "my shifts" shows
	Zone      *time.Location // the person's time zone, for the creation times
	New       *newFeedView   // the feed just created: its address, shown once
}

type newFeedView struct {
	Feed account.Feed
	URL  string
	// Webcal is the same address for calendar apps that subscribe on
	// click; html/template would blank the webcal: scheme, which is safe
	// here as the address is built from our own URL and a token.
	Webcal template.URL
}

// handleFeedsPage lists the user's calendar feeds with forms for new ones.
func handleFeedsPage(p *pages, feeds FeedStore, oncall OnCallStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		renderFeeds(c, p, feeds, oncall, nil)
	}
}

func renderFeeds(c *gin.Context, p *pages, feeds FeedStore, oncall OnCallStore, created *newFeedView) {
	ctx := c.Request.Context()
	s, _ := sessionOf(c)
	cfg, err := oncall.Load(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	all, err := feeds.Feeds(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	v := feedsView{Feeds: []account.Feed{}, Person: s.User.Person, Zone: time.UTC, New: created}
	for _, f := range all {
		if mayRevoke(s.User, f) {
			v.Feeds = append(v.Feeds, f)
		}
	}
	for _, r := range cfg.Rotations {
		v.Rotations = append(v.Rotations, r.Name)
	}
	for _, person := range cfg.People {
		if person.Name == s.User.Person && person.TimeZone != nil {
			v.Zone = person.TimeZone
		}
	}
	p.render(c, http.StatusOK, "feeds", "Calendar feeds", v)
}

// mayRevoke says whether u may see and revoke feed f: its creator and
// admins.
func mayRevoke(u account.User, f account.Feed) bool {
	return u.Role == account.Admin || f.CreatedBy == u.Name
}

// handleCreateFeed makes a feed of the user's own shifts (kind=person) or
// of a rotation (kind=rotation, rotation=NAME). Any logged-in user may:
// a feed only reads what every user can already see. The answer is the
// page itself with the new address, not a redirect, so that the secret
// never travels in a URL (history, logs, Referer); it is shown only this
// once.
func handleCreateFeed(p *pages, feeds FeedStore, oncall OnCallStore, audit AuditLog, externalURL string, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		s, _ := sessionOf(c)
		var kind account.FeedKind
		var subject string
		switch c.PostForm("kind") {
		case string(account.PersonFeed):
			if s.User.Person == "" {
				p.fail(c, quietpager.Errorf(quietpager.Invalid,
					"user %s is not linked to a person in oncall.yaml, so has no shifts; an admin can link it (quietpager user add --person)", s.User.Name))
				return
			}
			kind, subject = account.PersonFeed, s.User.Person
		case string(account.RotationFeed):
			cfg, err := oncall.Load(ctx)
			if err != nil {
				p.fail(c, err)
				return
			}
			name := c.PostForm("rotation")
			if !slices.ContainsFunc(cfg.Rotations, func(r rotation.Rotation) bool { return r.Name == name }) {
				p.fail(c, quietpager.Errorf(quietpager.Invalid, "there is no rotation named %q", name))
				return
			}
			kind, subject = account.RotationFeed, name
		default:
			p.fail(c, quietpager.Errorf(quietpager.Invalid, "a feed shows your shifts (kind=person) or a rotation (kind=rotation), not %q", c.PostForm("kind")))
			return
		}
		at := now()
		token, f, err := feeds.CreateFeed(ctx, kind, subject, s.User.Name, at)
		if err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, at, "feed", strconv.FormatInt(f.ID, 10), "create", string(kind)+" feed of "+subject); err != nil {
			p.fail(c, err)
			return
		}
		url := feedURL(c, externalURL, token)
		webcal := template.URL("webcal://" + strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://"))
		renderFeeds(c, p, feeds, oncall, &newFeedView{Feed: f, URL: url, Webcal: webcal})
	}
}

// feedURL is a feed's public address: under the external URL, or, when
// none is configured, the address this request came to.
func feedURL(c *gin.Context, externalURL, token string) string {
	base := strings.TrimSuffix(externalURL, "/")
	if base == "" {
		scheme := "http"
		if viaTLS(c) {
			scheme = "https"
		}
		base = scheme + "://" + c.Request.Host
	}
	return base + "/calendar/" + token + ".ics"
}

// handleRevokeFeed turns a feed's address off; only its creator or an
// admin may.
func handleRevokeFeed(p *pages, feeds FeedStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		s, _ := sessionOf(c)
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			p.fail(c, quietpager.Errorf(quietpager.NotFound, "no calendar feed %q", c.Param("id")))
			return
		}
		all, err := feeds.Feeds(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		i := slices.IndexFunc(all, func(f account.Feed) bool { return f.ID == id })
		if i < 0 {
			p.fail(c, quietpager.Errorf(quietpager.NotFound, "no live calendar feed %d", id))
			return
		}
		f := all[i]
		if !mayRevoke(s.User, f) {
			p.fail(c, quietpager.Errorf(quietpager.Forbidden, "%s may not revoke a feed %s made (role %s)", s.User.Name, f.CreatedBy, s.User.Role))
			return
		}
		at := now()
		if err := feeds.RevokeFeed(ctx, id, at); err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, at, "feed", strconv.FormatInt(id, 10), "revoke", string(f.Kind)+" feed of "+f.Subject); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/feeds", "Feed revoked: its address no longer works.")
	}
}

// handleCalendar serves GET /calendar/TOKEN[.ics], a feed's public
// address: whoever has the token reads the shifts, without logging in, as
// calendar apps do. An unknown token and a revoked one get the same bare
// 404 as any unknown path.
func handleCalendar(feeds FeedStore, oncall OnCallStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		f, err := feeds.FeedByToken(ctx, strings.TrimSuffix(c.Param("token"), ".ics"))
		if quietpager.ErrorCode(err) == quietpager.NotFound {
			c.String(http.StatusNotFound, "404 page not found")
			return
		}
		if err != nil {
			fail(c, log, err)
			return
		}
		cfg, err := oncall.Load(ctx)
		if err != nil {
			fail(c, log, err)
			return
		}
		t := now().UTC()
		from, to := t.Add(-feedBack), t.Add(feedAhead)
		name := "On call: " + f.Subject
		if f.Kind == account.PersonFeed {
			name = "On call: " + f.Subject + "'s shifts"
		}
		// A rotation deleted since, or a person in no rotation, gives an
		// empty calendar rather than an error, so that subscribed calendars
		// drop the stale shifts.
		var shifts []rotation.OnCallShift
		for _, r := range cfg.Rotations {
			if f.Kind == account.RotationFeed && r.Name != f.Subject {
				continue
			}
			// Whole shifts reach past the range at both ends: read the
			// overrides that may cut into them there too.
			overrides, err := oncall.Overrides(ctx, r.Name, r.Scheduled(from).Start, r.Scheduled(to).End)
			if err != nil {
				fail(c, log, err)
				return
			}
			for _, s := range r.WholeShifts(from, to, overrides) {
				if f.Kind == account.RotationFeed || s.Person == f.Subject {
					shifts = append(shifts, s)
				}
			}
		}
		slices.SortStableFunc(shifts, func(a, b rotation.OnCallShift) int { return a.Start.Compare(b.Start) })
		c.Header("Cache-Control", "private, max-age=300")
		c.Data(http.StatusOK, "text/calendar; charset=utf-8", rotation.ICalendar(name, t, shifts))
	}
}
