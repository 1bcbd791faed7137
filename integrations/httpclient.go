package integrations

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// nonIdempotentKey marks, in a request's context, a request that must not
// be sent twice when its outcome is unknown.
type nonIdempotentKey struct{}

// nonIdempotent marks ctx so that the retrying client does not resend the
// request after an error that leaves its outcome unknown.
//
// chat.postMessage is the case: Slack has no idempotency key for it, so if
// the request went out and the connection then broke or timed out, Slack may
// have posted, and a resend would page twice. Such an error is returned
// wrapped in ErrAmbiguous (still retryable) for the caller to decide. 5xx
// and 429 answers and failures to connect are safe to resend: Slack says
// it did not post, or never saw the request.
func nonIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, nonIdempotentKey{}, true)
}

// newRetryingClient returns an *http.Client that retries, within one call,
// what is safe and quick to retry: failures to connect, 5xx, 429 (waiting
// for Retry-After, up to o.MaxRetryAfter), and for requests not marked
// nonIdempotent any other transport error. The final answer, whatever its
// status, is handed back to the caller as a response, so slack-go and the
// webhook sender can classify it.
func newRetryingClient(base *http.Client, o RetryOptions) *http.Client {
	o = o.withDefaults()
	if base == nil {
		base = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   o.AttemptTimeout,
		}
	}
	rc := &retryablehttp.Client{
		HTTPClient:   base,
		RetryWaitMin: o.WaitMin,
		RetryWaitMax: o.WaitMax,
		RetryMax:     o.Max,
		Logger:       nil,
		CheckRetry:   checkRetry(o.MaxRetryAfter),
		Backoff:      backoff,
		ErrorHandler: func(resp *http.Response, err error, attempts int) (*http.Response, error) {
			if resp != nil {
				// Retries ran out on a 5xx or 429: give the caller the
				// answer, not a generic "giving up".
				return resp, nil
			}
			return nil, fmt.Errorf("after %d attempt(s): %w", attempts, err)
		},
	}
	return rc.StandardClient()
}

func checkRetry(maxRetryAfter time.Duration) retryablehttp.CheckRetry {
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			if ctx.Value(nonIdempotentKey{}) != nil && !neverSent(err) {
				return false, fmt.Errorf("%w: %w", ErrAmbiguous, err)
			}
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if d, ok := retryAfter(resp); ok && d > maxRetryAfter {
				// Too long to hold a worker: the caller gets the answer
				// (retryable) and the job queue waits instead.
				return false, nil
			}
			return true, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
}

// neverSent reports whether err shows the request never reached the server
// (it could not connect), so that sending it again cannot duplicate it.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoff waits for Retry-After on 429 and 503 (checkRetry has already
// refused waits above the cap), otherwise exponentially from min to max
// with jitter so that many workers do not retry in step.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp); ok {
			return d
		}
	}
	d := minWait << min(attempt, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	// Full jitter over the upper half: between d/2 and d.
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	h := resp.Header.Get("Retry-After")
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
