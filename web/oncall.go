package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// OnCallStore reads the on-call configuration and keeps overrides.
type OnCallStore interface {
	Load(ctx context.Context) (rotation.Config, error)
	Overrides(ctx context.Context, rotation string, from, to time.Time) ([]rotation.Override, error)
	CreateOverride(ctx context.Context, o rotation.Override) (rotation.Override, error)
	DeleteOverride(ctx context.Context, id int64) error
	// Override reads one override, or answers NotFound.
	Override(ctx context.Context, id int64) (rotation.Override, error)
	// SetRotationMembers reorders a rotation's members; the list must be
	// a permutation of the current members.
	SetRotationMembers(ctx context.Context, rotation string, members []string) error
	// SetRotationShift changes a rotation's shift length, first handoff
	// and time zone.
	SetRotationShift(ctx context.Context, rotation string, shift rotation.Shift, start time.Time, zone *time.Location) error
}

// maxShiftRange bounds how far a shift listing may reach.
const maxShiftRange = 93 * 24 * time.Hour

type onCallNow struct {
	Team     string    `json:"team"`
	Rotation string    `json:"rotation"`
	Person   string    `json:"person"`
	Until    time.Time `json:"until"`
	Override bool      `json:"override"`
	Next     struct {
		Person string    `json:"person"`
		From   time.Time `json:"from"`
		Until  time.Time `json:"until"`
	} `json:"next"`
}

// handleOnCall serves GET /api/v1/oncall: for each rotation, who is on call
// now, until when, and who is next.
func handleOnCall(store OnCallStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cfg, err := store.Load(ctx)
		if err != nil {
			fail(c, log, err)
			return
		}
		t := now().UTC()
		out := []onCallNow{}
		for _, r := range cfg.Rotations {
			// Look far enough ahead to find the next handoff even with a
			// long override or a long shift.
			overrides, err := store.Overrides(ctx, r.Name, t, t.Add(maxShiftRange))
			if err != nil {
				fail(c, log, err)
				return
			}
			cur := r.OnCall(t, overrides)
			o := onCallNow{Team: r.Team, Rotation: r.Name, Person: cur.Person, Until: cur.End, Override: cur.Override}
			next := r.OnCall(cur.End, overrides)
			o.Next.Person, o.Next.From, o.Next.Until = next.Person, next.Start, next.End
			out = append(out, o)
		}
		c.JSON(http.StatusOK, gin.H{"oncall": out})
	}
}

func timeParam(c *gin.Context, name string, def time.Time) (time.Time, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, quietpager.Errorf(quietpager.Invalid, "%s must be an RFC 3339 time such as 2026-11-02T09:00:00+01:00, not %q", name, s)
	}
	return t, nil
}

// handleShifts serves GET /api/v1/rotations/{name}/shifts?from=&to=, with
// overrides applied; the default range is the next seven days.
func handleShifts(store OnCallStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		t := now().UTC()
		from, err := timeParam(c, "from", t)
		if err != nil {
			fail(c, log, err)
			return
		}
		to, err := timeParam(c, "to", from.Add(7*24*time.Hour))
		if err != nil {
			fail(c, log, err)
			return
		}
		if !to.After(from) || to.Sub(from) > maxShiftRange {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "to must be after from, and at most 93 days later"))
			return
		}
		cfg, err := store.Load(ctx)
		if err != nil {
			fail(c, log, err)
			return
		}
		name := c.Param("name")
		for _, r := range cfg.Rotations {
			if r.Name != name {
				continue
			}
			overrides, err := store.Overrides(ctx, name, from, to)
			if err != nil {
				fail(c, log, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{"rotation": name, "shifts": r.Shifts(from, to, overrides)})
			return
		}
		fail(c, log, quietpager.Errorf(quietpager.NotFound, "no rotation %q", name))
	}
}

// handleCreateOverride serves POST /api/v1/overrides with
// {"rotation","person","start","end"}: the person covers the rotation for
// that range.
func handleCreateOverride(store OnCallStore, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			Rotation string    `json:"rotation"`
			Person   string    `json:"person"`
			Start    time.Time `json:"start"`
			End      time.Time `json:"end"`
		}
		if err := c.ShouldBindJSON(&body); err != nil {
			fail(c, log, quietpager.Errorf(quietpager.Invalid,
				`body must be JSON like {"rotation":"primary","person":"alice","start":"2026-11-02T09:00:00Z","end":"2026-11-03T09:00:00Z"}: %v`, err))
			return
		}
		if body.Rotation == "" || body.Person == "" || body.Start.IsZero() || body.End.IsZero() {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "rotation, person, start and end are all required"))
			return
		}
		o, err := store.CreateOverride(c.Request.Context(), rotation.Override{
			Rotation: body.Rotation, Person: body.Person, Start: body.Start.UTC(), End: body.End.UTC(),
			CreatedBy: "token:" + c.GetString(tokenNameKey)})
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusCreated, o)
	}
}

// handleDeleteOverride serves DELETE /api/v1/overrides/{id}.
func handleDeleteOverride(store OnCallStore, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			fail(c, log, quietpager.Errorf(quietpager.NotFound, "no override %q", c.Param("id")))
			return
		}
		if err := store.DeleteOverride(c.Request.Context(), id); err != nil {
			fail(c, log, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}
