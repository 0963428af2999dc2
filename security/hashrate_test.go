package security

import (
	"context"
	"errors"
	"testing"
	"time"

	"behalf/apperr"
	"behalf/reqctx"
)

// TestHashRateCapsVerifications: beyond the verification rate Acquire refuses with TOO_MANY_REQUESTS
// and a Retry-After of at least a second, Full reports it (so the HTTP layer sheds early), and new
// hashes (accounts, password changes) are not counted against it.
func TestHashRateCapsVerifications(t *testing.T) {
	t.Parallel()
	h := NewHasherQueue(cheap, 1, 4, time.Second, nil)
	h.SetRate(0.001, 0) // a burst of one (the slot), the next in 1,000 s
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
	h.SetRate(1, 0)
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

// TestHashRateSharedFairly: one client address sending verifications as fast as it can gets only its
// share of the rate (here 1 of 10 per second, a burst of 4), with a Retry-After of its next turn, and another address
// is still admitted meanwhile (before, the greedy one took the whole burst and everyone else got 429).
// A verification refused by the queue gives its share and its rate token back. Fake time, no sleeps.
func TestHashRateSharedFairly(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	h := NewHasherQueue(cheap, 1, 0, time.Second, nil) // one slot, no queue
	h.SetClock(func() time.Time { return now })
	h.SetRate(10, 1)
	greedy := reqctx.With(context.Background(), reqctx.Meta{IP: "203.0.113.7"})
	polite := reqctx.With(context.Background(), reqctx.Meta{IP: "198.51.100.2"})

	admitted := 0
	var refused error
	for range 10 {
		release, err := h.Acquire(greedy)
		if err != nil {
			refused = err
			continue
		}
		admitted++
		release()
	}
	ra, ok := RetryAfterOf(refused)
	if admitted != 4 || !errors.Is(refused, apperr.ErrTooMany) || !ok || ra < time.Second || ra > 7*time.Second {
		t.Fatalf("greedy client: %d admitted, last refusal %v (Retry-After %s): want 4 admitted, then 429 with 1s..7s", admitted, refused, ra)
	}
	// Many refusals of one address spread its Retry-After over the time its share needs to serve
	// them (200 at 1/s: towards 30 s), instead of sending them all back at its next turn.
	var longest time.Duration
	for range 200 {
		_, err := h.Acquire(greedy)
		ra, _ := RetryAfterOf(err)
		longest = max(longest, ra)
	}
	if longest < 10*time.Second || longest > maxRetryAfter {
		t.Fatalf("200 refusals of one address at 1/s: longest Retry-After %s, want 10s..30s", longest)
	}
	if !h.FullFor(greedy) || h.FullFor(polite) {
		t.Fatalf("FullFor: greedy %t, polite %t; want true, false", h.FullFor(greedy), h.FullFor(polite))
	}
	release, err := h.Acquire(polite)
	if err != nil {
		t.Fatalf("polite client refused while the greedy one is over its share: %v", err)
	}

	// The slot is taken and there is no queue: a third address is refused by the queue, and gets its
	// share and the rate token back.
	other := reqctx.With(context.Background(), reqctx.Meta{IP: "192.0.2.9"})
	before := h.rate.TokensAt(now)
	if _, err := h.Acquire(other); !errors.Is(err, apperr.ErrTooMany) {
		t.Fatalf("slot busy, no queue: %v", err)
	}
	if after := h.rate.TokensAt(now); after != before || h.clients.over("192.0.2.9", now) {
		t.Fatalf("a refusal by the queue spent the rate (%v → %v tokens) or the client's share", before, after)
	}
	release()

	// A second later the greedy client has its turn again.
	now = now.Add(time.Second)
	release, err = h.Acquire(greedy)
	if err != nil {
		t.Fatalf("greedy client after its Retry-After: %v", err)
	}
	release()
}
