package security

import (
	"context"
	"errors"
	"testing"

	"behalf/apperr"
	"behalf/metrics"
)

// TestHasherCountsQueueAndRejections checks the hashing slots' metrics: a hash in progress is counted,
// and one refused for want of a slot moves the rejection counter.
func TestHasherCountsQueueAndRejections(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	h := NewHasherWithMetrics(Argon2Params{Memory: 64, Time: 1, Threads: 1}, 1, 0, m)
	read := func(name string) float64 {
		v, err := metrics.Read(m.Gatherer(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := read("behalf_password_hashes_in_progress"); got != 1 {
		t.Errorf("in progress = %v, want 1", got)
	}
	if err := h.acquire(context.Background()); !errors.Is(err, apperr.ErrTooMany) {
		t.Fatalf("second hash with no slot: %v, want TOO_MANY_REQUESTS", err)
	}
	h.release()
	if got := read("behalf_password_hash_rejections_total"); got != 1 {
		t.Errorf("rejections = %v, want 1", got)
	}
	if got, q := read("behalf_password_hashes_in_progress"), read("behalf_password_hash_queue"); got != 0 || q != 0 {
		t.Errorf("after release: in progress %v, queue %v; want 0, 0", got, q)
	}
}
