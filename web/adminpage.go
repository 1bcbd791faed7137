package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/rotation"
	"github.com/quietpager/quietpager/web/account"
)

// UserAdmin lists and changes the web UI's users, and reads back the
// changes made to users and tokens; account/sqlstore.Store is one.
type UserAdmin interface {
	Users(ctx context.Context) ([]account.User, error)
	AddUser(ctx context.Context, name string, role account.Role, person, password string, now time.Time) (account.User, error)
	// SetRole refuses, as DeleteUser does, to leave no admin.
	SetRole(ctx context.Context, name string, role account.Role, person string) (account.User, error)
	DeleteUser(ctx context.Context, name string) error
	AuditOfKinds(ctx context.Context, limit int, kinds ...string) ([]account.AuditEntry, error)
}

// TokenAdmin creates, lists and revokes webhook and API tokens;
// ingest/sqlstore.Tokens is one.
type TokenAdmin interface {
	Create(ctx context.Context, name string, now time.Time) (string, error)
	List(ctx context.Context) ([]ingest.Token, error)
	Revoke(ctx context.Context, name string) error
}

// The audit log's kinds for what the admin page changes.
const (
	userKind  = "user"
	tokenKind = "token"
)

// requireAdmin lets only admins through.
func requireAdmin(p *pages) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, _ := sessionOf(c)
		if s.User.Role != account.Admin {
			p.fail(c, quietpager.Errorf(quietpager.Forbidden, "only admins manage users and tokens; %s is a %s",
				s.User.Name, s.User.Role))
			return
		}
		c.Next()
	}
}

type adminView struct {
	Users  []account.User
	Roles  []account.Role
	People []string // oncall.yaml's, offered for the person fields
	Tokens []ingest.Token
	Teams  []adminTeamView
	Audit  []account.AuditEntry
}

type adminTeamView struct {
	Team       rotation.Team
	Rotations  []rotation.Rotation
	Escalation rotation.EscalationPolicy
}

// handleAdminPage shows users, tokens and teams, and the admin changes
// made lately.
func handleAdminPage(p *pages, users UserAdmin, tokens TokenAdmin, oncall OnCallStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		v := adminView{Roles: []account.Role{account.Admin, account.Member, account.Viewer}}
		var err error
		if v.Users, err = users.Users(ctx); err != nil {
			p.fail(c, err)
			return
		}
		if v.Tokens, err = tokens.List(ctx); err != nil {
			p.fail(c, err)
			return
		}
		if v.Audit, err = users.AuditOfKinds(ctx, auditLimit, userKind, tokenKind); err != nil {
			p.fail(c, err)
			return
		}
		cfg, err := oncall.Load(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		for _, person := range cfg.People {
			v.People = append(v.People, person.Name)
		}
		for _, team := range cfg.Teams {
			tv := adminTeamView{Team: team}
			for _, r := range cfg.Rotations {
				if r.Team == team.Name {
					tv.Rotations = append(tv.Rotations, r)
				}
			}
			for _, e := range cfg.Escalation {
				if e.Team == team.Name {
					tv.Escalation = e
				}
			}
			v.Teams = append(v.Teams, tv)
		}
		p.render(c, http.StatusOK, "admin", "Admin", v)
	}
}

// roleForm reads a role and person from a form, checking the person
// against the applied on-call configuration.
func roleForm(c *gin.Context, oncall OnCallStore) (account.Role, string, error) {
	role, err := account.ParseRole(c.PostForm("role"))
	if err != nil {
		return "", "", err
	}
	person := strings.TrimSpace(c.PostForm("person"))
	cfg, err := oncall.Load(c.Request.Context())
	if err != nil {
		return "", "", err
	}
	return role, person, account.CheckPerson(cfg, person)
}

func handleAddUser(p *pages, users UserAdmin, oncall OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		role, person, err := roleForm(c, oncall)
		if err != nil {
			p.fail(c, err)
			return
		}
		at := now()
		u, err := users.AddUser(c.Request.Context(), c.PostForm("name"), role, person, c.PostForm("password"), at)
		if err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, at, userKind, u.Name, "added user "+u.Name, u.Access()); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/admin", "Added "+u.Name+" ("+u.Access()+"). They can log in now.")
	}
}

// notYourself refuses an admin changing or deleting their own account:
// another admin must, so nobody locks themselves out by a slip.
func notYourself(c *gin.Context, p *pages, name, what string) bool {
	if name == actor(c) {
		p.fail(c, quietpager.Errorf(quietpager.Conflict, "you cannot %s; ask another admin", what))
		return false
	}
	return true
}

func handleSetRole(p *pages, users UserAdmin, oncall OnCallStore, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.PostForm("name")
		if !notYourself(c, p, name, "change your own role") {
			return
		}
		role, person, err := roleForm(c, oncall)
		if err != nil {
			p.fail(c, err)
			return
		}
		u, err := users.SetRole(c.Request.Context(), name, role, person)
		if err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, now(), userKind, u.Name, "changed user "+u.Name, u.Access()); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/admin", u.Name+" now has "+u.Access()+".")
	}
}

func handleDeleteUser(p *pages, users UserAdmin, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.PostForm("name")
		if !notYourself(c, p, name, "delete your own account") {
			return
		}
		if err := users.DeleteUser(c.Request.Context(), name); err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, now(), userKind, name, "deleted user "+name, "their sessions ended"); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/admin", "Deleted "+name+" and ended their sessions.")
	}
}

type tokenCreatedView struct {
	Name, Secret string
}

// handleCreateToken shows the new token's secret on its answer, once:
// only its hash is kept, and the page is not cached.
func handleCreateToken(p *pages, tokens TokenAdmin, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := strings.TrimSpace(c.PostForm("name"))
		at := now()
		secret, err := tokens.Create(c.Request.Context(), name, at)
		if err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, at, tokenKind, name, "created token "+name, ""); err != nil {
			p.fail(c, err)
			return
		}
		p.render(c, http.StatusCreated, "tokencreated", "Token created", tokenCreatedView{Name: name, Secret: secret})
	}
}

func handleRevokeToken(p *pages, tokens TokenAdmin, audit AuditLog, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.PostForm("name")
		if err := tokens.Revoke(c.Request.Context(), name); err != nil {
			p.fail(c, err)
			return
		}
		if err := record(c, audit, now(), tokenKind, name, "revoked token "+name, ""); err != nil {
			p.fail(c, err)
			return
		}
		back(c, "/admin", "Revoked "+name+". Running servers refuse it within seconds.")
	}
}
