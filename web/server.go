// Package web is quietpager's HTTP face: the Alertmanager webhook, the JSON
// API, health and metrics. All routes are registered in routes.go; each
// handler is built by a function that takes exactly what it needs.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/dedupe"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/integrations"
)

// AlertSubmitter commits received alerts; ingest.Batcher is one.
type AlertSubmitter interface {
	Submit(ctx context.Context, alerts []dedupe.Received) error
}

// AlertReader reads alerts and episodes back.
type AlertReader interface {
	Alerts(ctx context.Context, q dedupe.AlertQuery, now time.Time) ([]dedupe.Alert, error)
	Episodes(ctx context.Context, fingerprint string, limit int) ([]dedupe.Episode, error)
}

// Options are the server's dependencies.
type Options struct {
	Logger      *slog.Logger
	Gatherer    prometheus.Gatherer
	Metrics     *ingest.Metrics
	Auth        *ingest.Authenticator
	Limiter     *ingest.RateLimiter
	Submit      AlertSubmitter
	Alerts      AlertReader
	Incidents   IncidentStore
	OnCall      OnCallStore
	DeadLetters DeadLetterStore
	// SlackBot, when set, serves /slack/commands and /slack/interactions,
	// verified with SlackSigningSecret.
	SlackBot           SlackBot
	SlackSigningSecret string
	Reports            ReportService
	// Ready reports whether the service can do its work (database
	// reachable, schema current).
	Ready func(ctx context.Context) error
	// Accounts, when set, turns the web UI on: login, sessions and the
	// pages. Without it only the API and webhooks are served.
	Accounts AccountStore
	// Audit records and shows who changed rotations, overrides and
	// incidents through the UI.
	Audit AuditLog
	// Feeds, with Accounts, serves calendar feeds: the /feeds page and
	// each feed's secret address under /calendar/.
	Feeds FeedStore
	// Users, when set with Accounts, serves /admin, where admins manage
	// users and API tokens; Tokens must then be set too.
	Users UserAdmin
	// Tokens creates, lists and revokes webhook and API tokens on /admin.
	Tokens TokenAdmin
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// ExternalURL is how people reach the service; https:// marks cookies
	// Secure.
	ExternalURL string
	// Silencer, when set, offers the Silence buttons on an incident's page;
	// it silences through the Alertmanager client the Slack bot uses.
	// Without it there are no Silence buttons.
	Silencer *integrations.IncidentSilencer
	// MaxBody is the largest webhook body accepted, in bytes.
	MaxBody int64
	Now     func() time.Time
}

// New returns the HTTP handler.
// The templates are parsed here, so a broken one fails the start.
func New(o Options) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(recovery(o.Logger), accessLog(o.Logger))
	p, err := parsePages(o.Logger, o.Now)
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	routes(r, o, p)
	return r, nil
}

func recovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("panic in handler", "path", c.FullPath(), "panic", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	})
}

// accessLog logs failed requests; successful ones only at debug level, so
// that a busy webhook or a health check every few seconds does not drown
// the logs. A calendar feed's address is its credential, so it is not
// logged.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelWarn
		}
		path := c.Request.URL.Path
		if strings.HasPrefix(path, "/calendar/") {
			path = "/calendar/…"
		}
		log.Log(c.Request.Context(), level, "request",
			"method", c.Request.Method, "path", path, "status", status,
			"duration", time.Since(start), "client", c.ClientIP())
	}
}

// httpStatus maps the error vocabulary to HTTP: the one place that does.
func httpStatus(code quietpager.Code) int {
	switch code {
	case quietpager.Invalid:
		return http.StatusBadRequest
	case quietpager.NotFound:
		return http.StatusNotFound
	case quietpager.Conflict:
		return http.StatusConflict
	case quietpager.Unauthorized:
		return http.StatusUnauthorized
	case quietpager.Forbidden:
		return http.StatusForbidden
	case quietpager.TooMany:
		return http.StatusTooManyRequests
	case quietpager.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// fail answers with err as JSON. Only unexpected errors are logged; users
// never see an internal error's text.
func fail(c *gin.Context, log *slog.Logger, err error) {
	code := quietpager.ErrorCode(err)
	switch code {
	case quietpager.Internal:
		log.Error("request failed", "path", c.Request.URL.Path, "err", err)
	case quietpager.Unavailable:
		c.Header("Retry-After", "1")
	case quietpager.Unauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="quietpager"`)
	}
	c.AbortWithStatusJSON(httpStatus(code), gin.H{"error": quietpager.ErrorMessage(err)})
}
