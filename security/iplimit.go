package security

import (
	"sync"
	"time"

	"behalf/apperr"

	"golang.org/x/time/rate"
)

// ReasonIPFailures is the refusal reason when a client address sent too many wrong passwords.
const ReasonIPFailures = "IP_FAILURES"

// ErrIPThrottled refuses a password check from an address over its failure budget, before any hash.
var ErrIPThrottled = apperr.New(apperr.TooManyRequests, "too many failed sign-in attempts from this address, try again later").WithReason(ReasonIPFailures)

// IPLimiter bounds the wrong passwords one client address may send, on top of the per-account
// throttle: a token bucket per address (golang.org/x/time/rate), refilled at failures per window,
// holding at most failures tokens. Only failures take tokens, so an office behind one NAT signing in
// correctly is never refused. Full buckets are forgotten when the table grows, so memory stays bounded
// by the number of addresses failing right now.
type IPLimiter struct {
	mu      sync.Mutex
	burst   int
	buckets addrBuckets[struct{}]
	now     func() time.Time
}

// NewIPLimiter allows failures wrong passwords per window from one address (zero disables it).
func NewIPLimiter(failures int, window time.Duration, now func() time.Time) *IPLimiter {
	var every rate.Limit
	if failures > 0 && window > 0 {
		every = rate.Limit(float64(failures) / window.Seconds())
	}
	return &IPLimiter{now: now, burst: failures, buckets: newAddrBuckets[struct{}](every, failures)}
}

// Check refuses an address with no failure left in its budget.
func (l *IPLimiter) Check(ip string) error {
	if l == nil || l.burst <= 0 || ip == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets.lookup(ip); b != nil && b.TokensAt(l.now()) < 1 {
		return ErrIPThrottled
	}
	return nil
}

// Fail takes one failure from the address's budget.
func (l *IPLimiter) Fail(ip string) {
	if l == nil || l.burst <= 0 || ip == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.buckets.get(ip, now).AllowN(now, 1)
}

// RetryAfter is how long a refused address should wait for its next attempt.
func (l *IPLimiter) RetryAfter() time.Duration {
	if l == nil || l.buckets.every == 0 {
		return time.Second
	}
	return time.Duration(float64(time.Second) / float64(l.buckets.every))
}
