package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web/account"
)

// AccountStore checks passwords and keeps login sessions.
type AccountStore interface {
	Login(ctx context.Context, name, password string, now time.Time, ttl time.Duration) (string, account.Session, error)
	Session(ctx context.Context, token string, now time.Time) (account.Session, error)
	Logout(ctx context.Context, token string) error
}

const (
	sessionCookie = "qp_session"
	loginCookie   = "qp_login" // the login form's CSRF token, before there is a session
	csrfField     = "csrf_token"
	sessionKey    = "session"
)

// login is what the login and session handlers share.
type login struct {
	accounts AccountStore
	limiter  *account.LoginLimiter
	ttl      time.Duration
	// https says the service is reached over TLS (its external URL), so
	// cookies are marked Secure even behind a TLS-terminating proxy.
	https bool
	now   func() time.Time
}

func (l login) secure(c *gin.Context) bool {
	return l.https || viaTLS(c)
}

// viaTLS says whether the request came over TLS, here or to a proxy
// that says so.
func viaTLS(c *gin.Context) bool {
	return c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https"
}

func (l login) setCookie(c *gin.Context, name, value string, maxAge time.Duration) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: l.secure(c)})
}

func sessionOf(c *gin.Context) (account.Session, bool) {
	v, ok := c.Get(sessionKey)
	if !ok {
		return account.Session{}, false
	}
	s, ok := v.(account.Session)
	return s, ok
}

// requireLogin lets logged-in browsers through and sends everyone else to
// the login page, remembering where they were going.
func requireLogin(p *pages, l login) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := c.Cookie(sessionCookie)
		if err == nil && token != "" {
			s, err := l.accounts.Session(c.Request.Context(), token, l.now())
			if err == nil {
				c.Set(sessionKey, s)
				c.Next()
				return
			}
			if quietpager.ErrorCode(err) != quietpager.Unauthorized {
				p.fail(c, err)
				return
			}
		}
		next := c.Request.URL.RequestURI()
		if c.Request.Method != http.MethodGet {
			next = "/"
		}
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(next))
		c.Abort()
	}
}

// checkCSRF refuses a form that does not carry its session's token.
func checkCSRF(p *pages) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
			c.Next()
			return
		}
		s, _ := sessionOf(c)
		if !sameToken(c.PostForm(csrfField), s.CSRF) {
			p.fail(c, quietpager.Errorf(quietpager.Forbidden,
				"this form has expired or did not come from quietpager; reload the page and try again"))
			return
		}
		c.Next()
	}
}

func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

type loginView struct {
	Next, Token, Name, Error string
}

func handleLoginPage(p *pages, l login) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, _ := ingest.NewToken()
		l.setCookie(c, loginCookie, token, time.Hour)
		p.render(c, http.StatusOK, "login", "Log in", loginView{Next: safeNext(c.Query("next")), Token: token})
	}
}

// handleLogin checks the password. Failures count per client address and
// per user name; past the limit the answer is 429 until the window ends,
// whatever the password.
func handleLogin(p *pages, l login) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := strings.TrimSpace(c.PostForm("name"))
		v := loginView{Next: safeNext(c.PostForm("next")), Name: name}
		cookie, _ := c.Cookie(loginCookie)
		if !sameToken(c.PostForm(csrfField), cookie) {
			v.Token, _ = ingest.NewToken()
			l.setCookie(c, loginCookie, v.Token, time.Hour)
			v.Error = "The login form had expired. Please try again."
			p.render(c, http.StatusForbidden, "login", "Log in", v)
			return
		}
		v.Token = cookie
		now := l.now()
		keys := []string{"addr:" + c.ClientIP(), "user:" + strings.ToLower(name)}
		for _, k := range keys {
			if wait := l.limiter.Wait(k, now); wait > 0 {
				c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				v.Error = "Too many failed logins. Try again in " + humanDuration(wait.Round(time.Minute)+time.Minute) + "."
				p.render(c, http.StatusTooManyRequests, "login", "Log in", v)
				return
			}
		}
		token, _, err := l.accounts.Login(c.Request.Context(), name, c.PostForm("password"), now, l.ttl)
		if quietpager.ErrorCode(err) == quietpager.Unauthorized {
			for _, k := range keys {
				l.limiter.Fail(k, now)
			}
			v.Error = "Wrong user name or password."
			p.render(c, http.StatusUnauthorized, "login", "Log in", v)
			return
		}
		if err != nil {
			p.fail(c, err)
			return
		}
		for _, k := range keys {
			l.limiter.Reset(k)
		}
		l.setCookie(c, loginCookie, "", -time.Second)
		l.setCookie(c, sessionCookie, token, l.ttl)
		c.Redirect(http.StatusSeeOther, v.Next)
	}
}

func handleLogout(p *pages, l login) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token, err := c.Cookie(sessionCookie); err == nil {
			if err := l.accounts.Logout(c.Request.Context(), token); err != nil {
				p.fail(c, err)
				return
			}
		}
		l.setCookie(c, sessionCookie, "", -time.Second)
		c.Redirect(http.StatusSeeOther, "/login")
	}
}

// rotationIn finds a rotation in cfg.
func rotationIn(cfg rotation.Config, name string) (rotation.Rotation, bool) {
	for _, r := range cfg.Rotations {
		if r.Name == name {
			return r, true
		}
	}
	return rotation.Rotation{}, false
}

// teamNamed finds a team in cfg.
func teamNamed(cfg rotation.Config, name string) (rotation.Team, bool) {
	for _, t := range cfg.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return rotation.Team{}, false
}

// mayEdit checks that the logged-in user may change what belongs to team,
// and shows 403 when not.
func mayEdit(c *gin.Context, p *pages, cfg rotation.Config, team string) bool {
	s, _ := sessionOf(c)
	t, _ := teamNamed(cfg, team)
	if t.Name == "" && s.User.Role == account.Admin {
		return true
	}
	if !s.User.MayEdit(t) {
		p.fail(c, quietpager.Errorf(quietpager.Forbidden, "%s may not change team %s's rotations or incidents (role %s)",
			s.User.Name, team, s.User.Role))
		return false
	}
	return true
}
