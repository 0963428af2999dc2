package security

import (
	"context"
	"errors"
	"testing"
	"time"

	"behalf/apperr"
)

// TestHashRateCapsVerifications: beyond the verification rate Acquire refuses with TOO_MANY_REQUESTS
// and a Retry-After of at least a second, Full reports it (so the HTTP layer sheds early), and new
// hashes (accounts, password changes) are not counted against it.
func TestHashRateCapsVerifications(t *testing.T) {
	t.Parallel()
	h := NewHasherQueue(cheap, 1, 4, time.Second, nil)
	h.SetRate(0.001) // a burst of one (the slot), the next in 1,000 s
	release, err := h.Acquire(context.Background())
	if err != nil {
		t.Fatalf("first verification: %v", err)
	}
	release()
	if !h.Full() {
		t.Fatal("rate used up: Full() = false")
	}
	_, err = h.Acquire(context.Background())
	ra, ok := RetryAfterOf(err)
	if !errors.Is(err, apperr.ErrTooMany) || !ok || ra < time.Second || ra > maxRetryAfter {
		t.Fatalf("second verification: %v, Retry-After %s (ok %v); want TOO_MANY_REQUESTS, 1s..30s", err, ra, ok)
	}
	if _, err := h.Hash(context.Background(), "a new password"); err != nil {
		t.Fatalf("a new hash is not a verification: %v", err)
	}
	if h2 := NewHasherQueue(cheap, 1, 4, time.Second, nil); h2.Full() {
		t.Fatal("no rate set: full without load")
	}
}

// TestDemandCounter: the refusals of the current and the previous second, forgotten after a gap.
func TestDemandCounter(t *testing.T) {
	t.Parallel()
	var d demandCounter
	t0 := time.Unix(1000, 0)
	for i, c := range []struct {
		at   time.Time
		want int
	}{
		{t0, 1}, {t0.Add(100 * time.Millisecond), 2}, {t0.Add(1100 * time.Millisecond), 3},
		{t0.Add(2 * time.Second), 2}, {t0.Add(10 * time.Second), 1},
	} {
		if got := d.add(c.at); got != c.want {
			t.Errorf("event %d: demand %d, want %d", i, got, c.want)
		}
	}
}

// TestRateRetryAfterSpreadsTheDemand: with many recent refusals the Retry-After grows towards
// refusals ÷ rate (capped at 30 s), so refused clients do not all come back at the next token.
func TestRateRetryAfterSpreadsTheDemand(t *testing.T) {
	t.Parallel()
	h := NewHasherQueue(cheap, 1, 4, time.Second, nil)
	h.SetRate(1)
	if _, err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	var longest time.Duration
	for range 200 {
		ra, _ := RetryAfterOf(h.refuseRate())
		longest = max(longest, ra)
	}
	if longest < 10*time.Second || longest > maxRetryAfter {
		t.Fatalf("200 refusals at 1/s: longest Retry-After %s, want 10s..30s", longest)
	}
}
