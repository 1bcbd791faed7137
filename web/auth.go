package web

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quietpager/quietpager/ingest"
)

const tokenNameKey = "token"

// requireToken accepts "Authorization: Bearer TOKEN" (Alertmanager's
// http_config.authorization) or basic auth with the token as password
// (http_config.basic_auth), for senders that can only do basic auth.
func requireToken(auth *ingest.Authenticator, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		secret := ""
		if h := c.GetHeader("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			secret = strings.TrimSpace(h[7:])
		} else if _, pw, ok := c.Request.BasicAuth(); ok {
			secret = pw
		}
		name, err := auth.Authenticate(c.Request.Context(), secret)
		if err != nil {
			fail(c, log, err)
			return
		}
		c.Set(tokenNameKey, name)
		c.Next()
	}
}

// rateLimit answers 503 with Retry-After past a token's rate, not 429:
// Alertmanager retries 5xx within the same flush but treats 429 as final,
// which would hold the alerts back a whole group_interval.
func rateLimit(l *ingest.RateLimiter, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := l.Allow(c.GetString(tokenNameKey), now())
		if !ok {
			secs := int(wait/time.Second) + 1
			c.Header("Retry-After", strconv.Itoa(secs))
			c.AbortWithStatusJSON(503, gin.H{"error": "rate limit for this token exceeded; retry after " + strconv.Itoa(secs) + "s"})
			return
		}
		c.Next()
	}
}
