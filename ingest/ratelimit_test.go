package ingest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager/ingest"
)

func TestRateLimiterBurstThenRefused(t *testing.T) {
	l := &ingest.RateLimiter{PerSecond: 2, Burst: 5}
	now := time.Date(2026, 11, 3, 3, 0, 0, 0, time.UTC)
	for i := range 5 {
		if ok, wait := l.Allow("am", now); !ok {
			t.Fatalf("request %d of the burst refused (wait %v)", i+1, wait)
		}
	}
	ok, wait := l.Allow("am", now)
	if ok {
		t.Fatal("request beyond the burst allowed")
	}
	if wait <= 0 || wait > time.Second/2 {
		t.Errorf("wait %v, want in (0, 500ms] at 2 per second", wait)
	}

	// Refused requests cost nothing: a sender retrying quickly does not
	// push its own wait further out.
	for range 100 {
		l.Allow("am", now.Add(time.Millisecond))
	}
	if ok, w := l.Allow("am", now.Add(wait)); !ok {
		t.Errorf("still refused after the wait it was told (%v more)", w)
	}
	if ok, _ := l.Allow("am", now.Add(wait)); ok {
		t.Error("a second request allowed right after the first token refilled")
	}
}

func TestRateLimiterZeroNeverLimits(t *testing.T) {
	l := &ingest.RateLimiter{PerSecond: 0, Burst: 1}
	now := time.Now()
	for i := range 10000 {
		if ok, wait := l.Allow("am", now); !ok || wait != 0 {
			t.Fatalf("request %d refused with limiting disabled: wait %v", i, wait)
		}
	}
}

func TestRateLimiterTokensAreIndependent(t *testing.T) {
	l := &ingest.RateLimiter{PerSecond: 1, Burst: 2}
	now := time.Now()
	for range 2 {
		l.Allow("noisy", now)
	}
	if ok, _ := l.Allow("noisy", now); ok {
		t.Fatal("noisy token not limited")
	}
	for i := range 2 {
		if ok, wait := l.Allow("quiet", now); !ok {
			t.Fatalf("quiet token's request %d refused because of the noisy one (wait %v)", i, wait)
		}
	}
}

func TestRateLimiterBurstZeroStillAllowsOne(t *testing.T) {
	l := &ingest.RateLimiter{PerSecond: 1}
	now := time.Now()
	if ok, _ := l.Allow("am", now); !ok {
		t.Fatal("Burst 0 refuses every request")
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	l := &ingest.RateLimiter{PerSecond: 1, Burst: 100}
	now := time.Now()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if ok, _ := l.Allow("am", now); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 100 {
		t.Errorf("%d of 400 concurrent requests allowed, want the burst of 100", allowed)
	}
}
