package web

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager/web/account"
)

// AuditLog keeps who changed what: every change to rotations, overrides
// and incidents made through the UI is written here and shown on the
// object's page.
type AuditLog interface {
	Record(ctx context.Context, e account.AuditEntry) error
	AuditOf(ctx context.Context, kind, object string, limit int) ([]account.AuditEntry, error)
}

// auditLimit is how many entries an object's page shows.
const auditLimit = 50

// record writes one audit entry for the logged-in user.
func record(c *gin.Context, audit AuditLog, at time.Time, kind, object, action, detail string) error {
	s, _ := sessionOf(c)
	return audit.Record(c.Request.Context(), account.AuditEntry{At: at.UTC(), Actor: s.User.Name,
		Kind: kind, Object: object, Action: action, Detail: detail})
}

// actor is the name changes made by the logged-in user are recorded under.
func actor(c *gin.Context) string {
	s, _ := sessionOf(c)
	return s.User.Name
}
