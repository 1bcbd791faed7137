package ingest

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter gives each token its own token bucket.
type RateLimiter struct {
	PerSecond float64 // 0 disables limiting
	Burst     int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// Allow reports whether the token may send a request now, and if not, how
// long until it may.
func (l *RateLimiter) Allow(token string, now time.Time) (bool, time.Duration) {
	if l.PerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	b, ok := l.buckets[token]
	if !ok {
		if l.buckets == nil {
			l.buckets = make(map[string]*rate.Limiter)
		}
		b = rate.NewLimiter(rate.Limit(l.PerSecond), max(l.Burst, 1))
		l.buckets[token] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
