package integrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"
)

// breaker guards one destination. A call counts as a failure unless it
// succeeded or failed Permanent (the destination answered, the request was
// wrong) or was cancelled by the caller (says nothing about the destination).
type breaker struct {
	name string
	cb   *gobreaker.CircuitBreaker[struct{}]
}

func newBreaker(name string, o BreakerOptions, m *Metrics) *breaker {
	o = o.withDefaults()
	b := &breaker{name: name}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: o.Probes,
		Timeout:     o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= o.Failures
		},
		IsSuccessful: func(err error) bool {
			return err == nil || Permanent(err)
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled)
		},
	})
	m.trackBreaker(name, b.cb.State)
	return b
}

// do runs fn unless the breaker is open. While open (or half-open with its
// probe already under way) it returns at once an error wrapping
// ErrCircuitOpen, which is not Permanent.
func (b *breaker) do(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return fmt.Errorf("%s: %w", b.name, ErrCircuitOpen)
	}
	return err
}
