package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
)

// countRequests counts webhook answers by status code.
func countRequests(m *ingest.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		m.Requests.WithLabelValues(strconv.Itoa(c.Writer.Status())).Inc()
	}
}

// handleAlertmanager receives one Alertmanager webhook delivery. It answers
// 200 only once every alert in it is committed; 400 when a retry cannot
// help; 413 when the body is too large; 503 when the database cannot
// commit, so that Alertmanager retries.
func handleAlertmanager(submit AlertSubmitter, m *ingest.Metrics, maxBody int64,
	now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	tooLarge := fmt.Sprintf("body larger than %d bytes; raise --max-body or lower max_alerts in the Alertmanager receiver", maxBody)
	return func(c *gin.Context) {
		if c.Request.ContentLength > maxBody {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": tooLarge})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": tooLarge})
				return
			}
			fail(c, log, quietpager.Wrap(quietpager.Invalid, err, "could not read the request body"))
			return
		}
		_, recs, err := ingest.Decode(body, now().UTC())
		if err != nil {
			fail(c, log, err)
			return
		}
		if err := submit.Submit(c.Request.Context(), recs); err != nil {
			fail(c, log, err)
			return
		}
		var firing, resolved int
		for _, r := range recs {
			if r.Resolved {
				resolved++
			} else {
				firing++
			}
		}
		m.Alerts.WithLabelValues("firing").Add(float64(firing))
		m.Alerts.WithLabelValues("resolved").Add(float64(resolved))
		c.JSON(http.StatusOK, gin.H{"status": "ok", "alerts": len(recs)})
	}
}
