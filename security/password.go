package security

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"behalf/apperr"
	"behalf/metrics"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id cost parameters. The defaults follow OWASP's minimum (m=19 MiB, t=2, p=1).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is the cost used for new hashes; weaker stored hashes are upgraded at login.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Hasher hashes and verifies passwords with a cap on concurrent hashes and a short bounded queue, so
// a burst of logins cannot starve other requests of CPU and memory; beyond the queue, or after
// waiting too long, callers get TOO_MANY_REQUESTS at once.
type Hasher struct {
	params   Argon2Params
	slots    chan struct{}
	queue    chan struct{} // waiting callers, bounded
	wait     time.Duration
	dummy    string
	metrics  *metrics.Metrics
	verified atomic.Int64 // verifications against a real stored hash (tests count guesses with it)
	// OnHash, if set, runs while a slot is held, just before hashing (tests observe the database then).
	OnHash func(ctx context.Context)
}

// NewHasher returns a hasher allowing maxConcurrent hashes at once, queueing (without bound on the
// queue's length) for at most wait.
func NewHasher(p Argon2Params, maxConcurrent int, wait time.Duration) *Hasher {
	return NewHasherQueue(p, maxConcurrent, 1<<20, wait, nil)
}

// NewHasherWithMetrics is NewHasher whose queue, hashes in progress and rejections m counts.
func NewHasherWithMetrics(p Argon2Params, maxConcurrent int, wait time.Duration, m *metrics.Metrics) *Hasher {
	return NewHasherQueue(p, maxConcurrent, 1<<20, wait, m)
}

// NewHasherQueue returns a hasher allowing maxConcurrent hashes at once and at most queue callers
// waiting, each for at most wait; m (may be nil) counts the queue, hashes in progress and rejections.
func NewHasherQueue(p Argon2Params, maxConcurrent, queue int, wait time.Duration, m *metrics.Metrics) *Hasher {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), queue: make(chan struct{}, max(queue, 0)), wait: wait, metrics: m}
	h.dummy = h.hash("dummy password for timing")
	return h
}

// Acquire takes a hashing slot, waiting in the bounded queue if need be; the caller must call the
// returned release. It fails with TOO_MANY_REQUESTS when the queue is full or the wait ran out.
func (h *Hasher) Acquire(ctx context.Context) (release func(), err error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	return h.release, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		h.metrics.HashActive(1)
		return nil
	default:
	}
	select {
	case h.queue <- struct{}{}:
	default:
		h.metrics.HashRejected()
		return apperr.ErrTooMany
	}
	defer func() { <-h.queue }()
	h.metrics.HashWaiting(1)
	defer h.metrics.HashWaiting(-1)
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		h.metrics.HashActive(1)
		return nil
	case <-t.C:
		h.metrics.HashRejected()
		return apperr.ErrTooMany
	case <-ctx.Done():
		h.metrics.HashRejected()
		return apperr.ErrTooMany
	}
}

func (h *Hasher) release() { h.metrics.HashActive(-1); <-h.slots }

// Verified returns how many verifications ran against a real stored hash.
func (h *Hasher) Verified() int64 { return h.verified.Load() }

// Hash returns an encoded argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password), nil
}

func (h *Hasher) hash(password string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	return encode(h.params, salt, argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, 32))
}

func encode(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify checks password against encoded. It reports whether it matches and whether the hash is weaker
// than the current parameters and should be replaced. An empty encoded hash is verified against a
// dummy hash, so unknown logins take as long as wrong passwords.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	ok, rehash = h.verifyHeld(ctx, encoded, password)
	return ok, rehash, nil
}

// verifyHeld is Verify for a caller already holding a slot.
func (h *Hasher) verifyHeld(ctx context.Context, encoded, password string) (ok, rehash bool) {
	if h.OnHash != nil {
		h.OnHash(ctx)
	}
	if encoded == "" {
		verify(h.dummy, password)
		return false, false
	}
	h.verified.Add(1)
	ok, p := verify(encoded, password)
	return ok, ok && (p.Memory < h.params.Memory || p.Time < h.params.Time || p.Threads < h.params.Threads)
}

func verify(encoded, password string) (bool, Argon2Params) {
	parts := strings.Split(encoded, "$")
	var p Argon2Params
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, p
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return false, p
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return false, p
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p
}

// HashWith hashes with explicit parameters (tests use it to plant a weaker hash).
func HashWith(p Argon2Params, password string) string {
	h := &Hasher{params: p}
	return h.hash(password)
}
