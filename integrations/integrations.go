// Package integrations delivers pages: to Slack (slack-go), by e-mail over
// SMTP (go-mail) and to signed JSON webhooks.
//
// Theory of operation. Every delivery goes through two layers of defence.
// The inner one is go-retryablehttp (HTTP destinations only): a few quick
// retries, within one call, for answers that say nothing was done (5xx, 429,
// a connection that could not be made), honouring Retry-After up to a cap.
// The outer one is a circuit breaker per destination (gobreaker): after a
// run of failed calls it opens and every call fails at once, without
// touching the destination, until a probe after the open period succeeds.
//
// Neither layer retries for long. A failed call returns an error and the
// caller (the page job) decides: Permanent errors go straight to the dead
// letter state; all other errors, including ErrCircuitOpen, are retried by
// the job queue with backoff. Errors wrapping ErrAmbiguous mean the
// destination may have acted although the call failed (a Slack message may
// have been posted); the caller should record that before retrying.
package integrations

import (
	"errors"
	"time"
)

// A Page is what a person is told about an incident.
type Page struct {
	IncidentID int64
	Title      string
	Summary    string
	Labels     map[string]string
	URL        string // link to the incident in the UI
	State      string // "open", "acknowledged", "resolved" (for updates)
	Actor      string // who acknowledged/resolved, for updates
	// Notes are further lines an update shows: silences, "not
	// actionable" marks.
	Notes []string
}

// Page states.
const (
	StateOpen         = "open"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Receipt is the outcome of a successful delivery, kept by the caller so
// that a retry does not page twice and an update can find the message.
//
// Slack: Channel is the channel id, ID the message ts. E-mail: ID is the
// Message-ID (with angle brackets), Channel the recipient. Webhook: ID is
// the delivery id, Channel the destination host.
type Receipt struct {
	Channel string
	ID      string
}

var (
	// ErrCircuitOpen is wrapped by the errors of calls refused because the
	// destination's circuit breaker is open. Such errors are retryable.
	ErrCircuitOpen = errors.New("circuit breaker open")

	// ErrAmbiguous is wrapped by errors after which the destination may
	// have done what was asked (a request was sent but no answer came).
	// They are retryable, but a retry may duplicate the message.
	ErrAmbiguous = errors.New("delivery outcome unknown")
)

// Permanent reports whether err is one that retrying cannot fix: a 4xx
// answer other than 429, an unknown channel or user, a refused address.
// Every other non-nil error is worth retrying later.
func Permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err as Permanent; nil stays nil.
func permanent(err error) error {
	if err == nil || Permanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// RetryOptions tune the quick retries of one HTTP call. Zero values take
// the defaults.
type RetryOptions struct {
	// Max is the number of retries after the first attempt (default 3;
	// negative for none).
	Max int
	// WaitMin and WaitMax bound the exponential backoff between attempts
	// (defaults 200ms and 2s).
	WaitMin, WaitMax time.Duration
	// MaxRetryAfter caps how long a Retry-After header may make a call
	// wait (default 30s). A longer Retry-After is not waited for here: the
	// call fails with a retryable error and the job queue tries later.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt (default 10s).
	AttemptTimeout time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.Max == 0 {
		o.Max = 3
	}
	if o.Max < 0 {
		o.Max = 0
	}
	if o.WaitMin <= 0 {
		o.WaitMin = 200 * time.Millisecond
	}
	if o.WaitMax <= 0 {
		o.WaitMax = 2 * time.Second
	}
	if o.WaitMax < o.WaitMin {
		o.WaitMax = o.WaitMin
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 30 * time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	return o
}

// BreakerOptions tune the circuit breaker of one destination. Zero values
// take the defaults.
type BreakerOptions struct {
	// Failures is the number of consecutive failed calls that opens the
	// breaker (default 5). Permanent errors are not failures: the
	// destination answered.
	Failures uint32
	// OpenFor is how long the breaker stays open before it lets a probe
	// through (default 30s).
	OpenFor time.Duration
	// Probes is the number of calls let through while half-open; that many
	// successes close the breaker, one failure opens it again (default 1).
	Probes uint32
}

func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 30 * time.Second
	}
	if o.Probes == 0 {
		o.Probes = 1
	}
	return o
}
