package integrations

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Delivery channels and results, as they appear in metric labels.
const (
	channelSlack   = "slack"
	channelEmail   = "email"
	channelWebhook = "webhook"

	resultOK          = "ok"
	resultRetryable   = "retryable"
	resultPermanent   = "permanent"
	resultCircuitOpen = "circuit_open"
)

// Metrics counts deliveries and shows the state of each circuit breaker:
//
//	quietpager_deliveries_total{channel,result}   channel: slack, email, webhook;
//	                                              result: ok, retryable, permanent, circuit_open
//	quietpager_breaker_state{destination}         0 closed, 1 half-open, 2 open
//
// destination is "slack", "smtp" or "webhook:HOST". A nil *Metrics is valid
// and records nothing.
type Metrics struct {
	deliveries *prometheus.CounterVec
	breakers   *breakerCollector
}

// NewMetrics builds the metrics and registers them with reg (if not nil).
// Registering twice with the same registry reuses the first collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quietpager_deliveries_total",
			Help: "Page deliveries attempted, by channel and result (ok, retryable, permanent, circuit_open).",
		}, []string{"channel", "result"}),
		breakers: &breakerCollector{
			desc: prometheus.NewDesc("quietpager_breaker_state",
				"Circuit breaker state per destination: 0 closed, 1 half-open, 2 open.",
				[]string{"destination"}, nil),
			states: map[string]func() gobreaker.State{},
		},
	}
	for _, ch := range []string{channelSlack, channelEmail, channelWebhook} {
		for _, r := range []string{resultOK, resultRetryable, resultPermanent, resultCircuitOpen} {
			m.deliveries.WithLabelValues(ch, r)
		}
	}
	if reg != nil {
		m.deliveries = register(reg, m.deliveries)
		m.breakers = register(reg, m.breakers)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *Metrics) delivered(channel string, err error) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(channel, result(err)).Inc()
}

func result(err error) string {
	switch {
	case err == nil:
		return resultOK
	case errors.Is(err, ErrCircuitOpen):
		return resultCircuitOpen
	case Permanent(err):
		return resultPermanent
	default:
		return resultRetryable
	}
}

func (m *Metrics) trackBreaker(destination string, state func() gobreaker.State) {
	if m == nil {
		return
	}
	m.breakers.mu.Lock()
	defer m.breakers.mu.Unlock()
	m.breakers.states[destination] = state
}

// breakerCollector reads each breaker's state at scrape time. gobreaker
// moves from open to half-open lazily, when asked; asking here makes the
// gauge show half-open as soon as the open period is over, not only after
// the next delivery.
type breakerCollector struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	states map[string]func() gobreaker.State
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for dest, state := range c.states {
		v := 0.0
		switch state() {
		case gobreaker.StateHalfOpen:
			v = 1
		case gobreaker.StateOpen:
			v = 2
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, dest)
	}
}
