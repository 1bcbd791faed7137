package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation/paging"
)

// DeadLetterStore lists page jobs that gave up and replays them.
type DeadLetterStore interface {
	DeadLetters(ctx context.Context) ([]paging.DeadLetter, error)
	Replay(ctx context.Context, id int64) error
}

// handleDeadLetters serves GET /api/v1/deadletters.
func handleDeadLetters(store DeadLetterStore, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := store.DeadLetters(c.Request.Context())
		if err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"deadletters": out})
	}
}

// handleReplay serves POST /api/v1/deadletters/{id}/replay: 202, the page
// job runs again and delivers whatever had not got through.
func handleReplay(store DeadLetterStore, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			fail(c, log, quietpager.Errorf(quietpager.NotFound, "no dead letter %q", c.Param("id")))
			return
		}
		if err := store.Replay(c.Request.Context(), id); err != nil {
			fail(c, log, err)
			return
		}
		c.JSON(http.StatusAccepted, gin.H{"status": "replaying", "id": id})
	}
}
