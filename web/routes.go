package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quietpager/quietpager/web/account"
)

func routes(r *gin.Engine, o Options, p *pages) {
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(o.Ready))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))

	if o.SlackBot != nil {
		slackSigned := verifySlack(o.SlackSigningSecret, o.Logger)
		r.POST("/slack/commands", slackSigned, handleSlackCommand(o.SlackBot))
		r.POST("/slack/interactions", slackSigned, handleSlackInteraction(o.SlackBot, o.Logger))
	}

	token := requireToken(o.Auth, o.Logger)
	r.POST("/hooks/alertmanager", countRequests(o.Metrics), token,
		rateLimit(o.Limiter, o.Now), handleAlertmanager(o.Submit, o.Metrics, o.MaxBody, o.Now, o.Logger))

	api := r.Group("/api/v1", token)
	api.GET("/alerts", handleListAlerts(o.Alerts, o.Now, o.Logger))
	api.GET("/episodes", handleListEpisodes(o.Alerts, o.Logger))
	api.GET("/incidents", handleListIncidents(o.Incidents, o.Now, o.Logger))
	api.GET("/incidents/:id", handleGetIncident(o.Incidents, o.Logger))
	api.POST("/incidents/:id/ack", handleTransition(o.Incidents, false, o.Now, o.Logger))
	api.POST("/incidents/:id/resolve", handleTransition(o.Incidents, true, o.Now, o.Logger))
	api.GET("/oncall", handleOnCall(o.OnCall, o.Now, o.Logger))
	api.GET("/rotations/:name/shifts", handleShifts(o.OnCall, o.Now, o.Logger))
	api.POST("/overrides", handleCreateOverride(o.OnCall, o.Logger))
	api.DELETE("/overrides/:id", handleDeleteOverride(o.OnCall, o.Logger))
	api.GET("/deadletters", handleDeadLetters(o.DeadLetters, o.Logger))
	api.POST("/deadletters/:id/replay", handleReplay(o.DeadLetters, o.Logger))
	api.GET("/reports/weekly", handleWeeklyReport(o.Reports, o.Now, o.Logger))
	api.GET("/noise", handleNoise(o.Reports, o.Now, o.Logger))
	api.POST("/whatif", handleWhatIf(o.Reports, o.Logger))

	if o.Accounts != nil {
		uiRoutes(r, o, p)
	}
}

// uiRoutes are the web UI's pages: the login page and static files for
// everyone, everything else for logged-in users, every form CSRF-checked.
func uiRoutes(r *gin.Engine, o Options, p *pages) {
	l := login{accounts: o.Accounts, ttl: o.SessionTTL, now: o.Now,
		https:   strings.HasPrefix(o.ExternalURL, "https://"),
		limiter: &account.LoginLimiter{Max: 5, Window: 15 * time.Minute}}
	r.GET("/static/*file", handleStatic())
	r.GET("/login", handleLoginPage(p, l))
	r.POST("/login", handleLogin(p, l))
	if o.Feeds != nil {
		// A feed's address is its own credential: calendar apps do not log in.
		r.GET("/calendar/:token", handleCalendar(o.Feeds, o.OnCall, o.Now, o.Logger))
	}

	ui := r.Group("/", requireLogin(p, l), checkCSRF(p))
	ui.POST("/logout", handleLogout(p, l))
	ui.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/oncall") })
	ui.GET("/oncall", handleOnCallPage(p, o.OnCall, o.Now))
	ui.GET("/noise", handleNoisePage(p, o.OnCall, o.Reports, o.Now, false))
	ui.GET("/noise/whatif", handleNoisePage(p, o.OnCall, o.Reports, o.Now, true))
	ui.GET("/reports", handleReportPage(p, o.OnCall, o.Reports, o.Now))
	if o.Feeds != nil {
		ui.GET("/feeds", handleFeedsPage(p, o.Feeds, o.OnCall))
		ui.POST("/feeds", handleCreateFeed(p, o.Feeds, o.OnCall, o.Audit, o.ExternalURL, o.Now))
		ui.POST("/feeds/:id/revoke", handleRevokeFeed(p, o.Feeds, o.Audit, o.Now))
	}
	ui.GET("/rotations/:name", handleRotationPage(p, o.OnCall, o.Audit, o.Now))
	ui.POST("/rotations/:name/cover", handleCover(p, o.OnCall, o.Audit, o.Now))
	ui.POST("/rotations/:name/take", handleTakePager(p, o.OnCall, o.Audit, o.Now))
	ui.POST("/rotations/:name/members", handleReorder(p, o.OnCall, o.Audit, o.Now))
	ui.POST("/rotations/:name/shift", handleChangeShift(p, o.OnCall, o.Audit, o.Now))
	ui.POST("/overrides/:id/delete", handleRemoveOverride(p, o.OnCall, o.Audit, o.Now))
	if o.Users != nil {
		admin := ui.Group("/admin", requireAdmin(p))
		admin.GET("", handleAdminPage(p, o.Users, o.Tokens, o.OnCall))
		admin.POST("/users", handleAddUser(p, o.Users, o.OnCall, o.Audit, o.Now))
		admin.POST("/users/role", handleSetRole(p, o.Users, o.OnCall, o.Audit, o.Now))
		admin.POST("/users/delete", handleDeleteUser(p, o.Users, o.Audit, o.Now))
		admin.POST("/tokens", handleCreateToken(p, o.Tokens, o.Audit, o.Now))
		admin.POST("/tokens/revoke", handleRevokeToken(p, o.Tokens, o.Audit, o.Now))
	}
	ui.GET("/incidents", handleIncidentsPage(p, o.Incidents, o.OnCall, o.Now))
	ui.GET("/incidents/:id", handleIncidentPage(p, o.Incidents, o.OnCall, o.Audit, o.Silencer))
	ui.POST("/incidents/:id/ack", handleIncidentTransition(p, o.Incidents, o.OnCall, o.Audit, false, o.Now))
	ui.POST("/incidents/:id/resolve", handleIncidentTransition(p, o.Incidents, o.OnCall, o.Audit, true, o.Now))
	ui.POST("/incidents/:id/silence", handleIncidentSilence(p, o.Incidents, o.OnCall, o.Audit, o.Silencer, o.ExternalURL, o.Now))
	ui.GET("/deadletters", handleDeadLettersPage(p, o.DeadLetters, o.Incidents, o.OnCall, o.Audit))
	ui.POST("/deadletters/:id/replay", handleDeadLetterReplay(p, o.DeadLetters, o.Incidents, o.OnCall, o.Audit, o.Now))
}
