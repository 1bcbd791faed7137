package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is the HTTP endpoints the load generator posts webhooks to: one
// per replica, taken in turn, as a round-robin load balancer would.
type target struct {
	urls  []string
	token string // empty: no Authorization header
}

func (t target) url(i int) string { return t.urls[i%len(t.urls)] }

// result is one measured step.
type result struct {
	clients   int
	requests  int // answered 200 inside the measured window
	alerts    int
	errors    int // non-200 answers and transport errors, whole step
	unserved  int // clients that got no 200 at all in the window
	seconds   float64
	latencies []time.Duration
	sent      int // bodies taken from the pool, warm-up included
	wrapped   bool
	firstErr  string
	usage     usage // CPU use during the measured window
}

func (r result) reqPerSec() float64    { return float64(r.requests) / r.seconds }
func (r result) alertsPerSec() float64 { return float64(r.alerts) / r.seconds }

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies))*p+0.999999) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// post sends the i-th body and reports the status code (0 on a transport
// error).
func post(client *http.Client, t target, i int, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, t.url(i), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.31.1")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// errorLog keeps the error count and the first error message.
type errorLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (e *errorLog) add(code int, err error) {
	if e.n.Add(1) == 1 {
		e.mu.Lock()
		if err != nil {
			e.first = err.Error()
		} else {
			e.first = fmt.Sprintf("HTTP %d", code)
		}
		e.mu.Unlock()
	}
}

// closedLoop runs c clients, each sending its next body as soon as the
// previous one is answered, for warmup+measure; only answers that arrive
// inside the measured window count.
func closedLoop(t target, bodies [][]byte, k, c int, warmup, measure time.Duration, probe func() usage) result {
	client := newClient(c)
	defer client.CloseIdleConnections()
	var (
		next   atomic.Int64
		errs   errorLog
		wg     sync.WaitGroup
		mu     sync.Mutex
		res    = result{clients: c}
		begin  = time.Now()
		from   = begin.Add(warmup)
		until  = from.Add(measure)
		before usage
		once   sync.Once
	)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			served := 0
			for {
				start := time.Now()
				if !start.Before(until) {
					break
				}
				if !start.Before(from) {
					once.Do(func() { before = probe() })
				}
				i := next.Add(1) - 1
				code, err := post(client, t, int(i), bodies[int(i)%len(bodies)])
				end := time.Now()
				if code != http.StatusOK {
					errs.add(code, err)
					continue
				}
				if !start.Before(from) && end.Before(until) {
					lat = append(lat, end.Sub(start))
					served++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			if served == 0 {
				res.unserved++
			}
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(until))
	after := probe()
	wg.Wait()
	once.Do(func() { before = after })
	res.usage = after.sub(before)
	res.requests = len(res.latencies)
	res.alerts = res.requests * k
	res.errors = int(errs.n.Load())
	res.firstErr = errs.first
	res.seconds = measure.Seconds()
	res.sent = int(next.Load())
	res.wrapped = res.sent > len(bodies)
	slices.Sort(res.latencies)
	return res
}

// openLoop sends perSecond requests per second for warmup+measure whatever
// the answers, each in its own goroutine, and measures latency from the
// moment a request was scheduled, so that a stalled server cannot hide
// its stall by slowing the sender down (coordinated omission).
func openLoop(t target, bodies [][]byte, k int, perSecond float64, warmup, measure time.Duration) result {
	const maxInFlight = 2048
	client := newClient(512)
	defer client.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) / perSecond)
	var (
		errs     errorLog
		wg       sync.WaitGroup
		mu       sync.Mutex
		inFlight atomic.Int64
		res      = result{clients: 0}
		begin    = time.Now()
		from     = begin.Add(warmup)
		until    = from.Add(measure)
	)
	ctx, cancel := context.WithDeadline(context.Background(), until)
	defer cancel()
	n := 0
	for ; ; n++ {
		due := begin.Add(time.Duration(n) * interval)
		if !due.Before(until) {
			break
		}
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if inFlight.Load() >= maxInFlight {
			errs.add(0, fmt.Errorf("more than %d requests in flight: the server fell behind", maxInFlight))
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(i int, body []byte, due time.Time) {
			defer wg.Done()
			defer inFlight.Add(-1)
			code, err := post(client, t, i, body)
			if code != http.StatusOK {
				errs.add(code, err)
				return
			}
			if !due.Before(from) {
				mu.Lock()
				res.latencies = append(res.latencies, time.Since(due))
				mu.Unlock()
			}
		}(n, bodies[n%len(bodies)], due)
	}
	wg.Wait()
	res.requests = len(res.latencies)
	res.alerts = res.requests * k
	res.errors = int(errs.n.Load())
	res.firstErr = errs.first
	res.seconds = measure.Seconds()
	res.sent = n
	res.wrapped = n > len(bodies)
	slices.Sort(res.latencies)
	return res
}
