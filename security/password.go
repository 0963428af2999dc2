package security

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"behalf/apperr"
	"behalf/metrics"
	"behalf/reqctx"

	"golang.org/x/crypto/argon2"
	"golang.org/x/time/rate"
)

// Argon2Params are argon2id cost parameters. The defaults follow OWASP's minimum (m=19 MiB, t=2, p=1).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is the cost used for new hashes; weaker stored hashes are upgraded at login.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// KeyDeriver computes argon2id keys. The Hasher's default derives in process; a HashWorker derives in
// a separate process at the lowest CPU priority (see hashworker.go).
type KeyDeriver interface {
	DeriveKey(ctx context.Context, password, salt []byte, p Argon2Params, keyLen uint32) ([]byte, error)
}

// InProcess derives keys in the calling goroutine, at the server's own priority.
type InProcess struct{}

// DeriveKey is argon2.IDKey.
func (InProcess) DeriveKey(_ context.Context, password, salt []byte, p Argon2Params, keyLen uint32) ([]byte, error) {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, keyLen), nil
}

// Retry-After bounds: the header has whole seconds; an estimate beyond maxRetryAfter says more about
// a starved machine than about when to come back.
const (
	minRetryAfter = time.Second
	maxRetryAfter = 30 * time.Second
)

// Hasher hashes and verifies passwords with a cap on concurrent hashes and a short bounded queue, so
// a burst of logins cannot starve other requests of CPU and memory; beyond the queue, or after
// waiting too long, callers get TOO_MANY_REQUESTS at once, with a Retry-After estimated from the
// queue (RetryAfterOf).
type Hasher struct {
	params   Argon2Params
	slots    chan struct{}
	queue    chan struct{} // waiting callers, bounded
	wait     time.Duration
	dummy    string
	metrics  *metrics.Metrics
	deriver  KeyDeriver
	rate     *rate.Limiter // verifications per second (nil: unlimited); SetRate
	clients  *clientRates  // each client address's share of rate (nil: none); SetRate
	now      func() time.Time
	demand   demandCounter // refusals for rate, to spread Retry-After
	avgHash  atomic.Int64  // moving average of a hash's wall time (ns), for Retry-After
	verified atomic.Int64  // verifications against a real stored hash (tests count guesses with it)
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
// It hashes in process until SetDeriver installs another KeyDeriver.
func NewHasherQueue(p Argon2Params, maxConcurrent, queue int, wait time.Duration, m *metrics.Metrics) *Hasher {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), queue: make(chan struct{}, max(queue, 0)), wait: wait, metrics: m,
		deriver: InProcess{}, now: time.Now}
	t0 := time.Now()
	h.dummy = h.hashWith(context.Background(), InProcess{}, "dummy password for timing")
	h.avgHash.Store(int64(time.Since(t0)))
	return h
}

// SetRate caps password verifications (logins, confirmations) at perSecond, with a burst of one
// second's worth (at least one per slot); beyond, Acquire refuses with TOO_MANY_REQUESTS and a Retry-After of when the next one is
// allowed. Hashing memory-hard passwords evicts the CPU caches the database and other requests work
// from, even at idle priority, so the rate, not only the concurrency, bounds what a login storm costs
// everyone else. 0 or less: no cap. Call it before serving. New hashes (Hash) are not counted.
//
// perClient (0 or less: none) is the share of that rate one client address may take: its own bucket
// (a burst of two seconds' worth, at least four: colleagues behind one address signing in together)
// is drawn first, so one client sending logins as fast as it can gets at most perClient
// per second and leaves the rest to everyone else, instead of keeping them all at 429.
func (h *Hasher) SetRate(perSecond, perClient float64) {
	if perSecond > 0 {
		h.rate = rate.NewLimiter(rate.Limit(perSecond), max(cap(h.slots), int(math.Ceil(perSecond))))
		if perClient > 0 && perClient < perSecond {
			h.clients = &clientRates{buckets: newAddrBuckets[*demandCounter](rate.Limit(perClient), max(4, int(math.Ceil(2*perClient))))}
		}
	}
}

// SetClock makes the rate limits read time from now (tests use a fake clock); call it before serving.
func (h *Hasher) SetClock(now func() time.Time) { h.now = now }

// SetDeriver makes the hasher derive keys with d (a HashWorker); call it before serving.
func (h *Hasher) SetDeriver(d KeyDeriver) { h.deriver = d }

// Acquire takes a hashing slot, waiting in the bounded queue if need be; the caller must call the
// returned release. It fails with TOO_MANY_REQUESTS when the queue is full or the wait ran out.
//
// The rates are taken first: the client address's share (reqctx's IP), then the overall rate. A
// caller refused later, by the queue or the wait, gets both back, so a refusal never spends what an
// admitted verification could have used.
func (h *Hasher) Acquire(ctx context.Context) (release func(), err error) {
	now := h.now()
	var mine, all *rate.Reservation
	if h.rate != nil {
		ip := reqctx.From(ctx).IP
		if mine = h.clients.reserve(ip, now); mine != nil && mine.DelayFrom(now) > 0 {
			cancelAt(now, mine)
			return nil, h.refuseClient(ip, now)
		}
		if all = h.rate.ReserveN(now, 1); all.DelayFrom(now) > 0 {
			cancelAt(now, all, mine)
			return nil, h.refuseRate()
		}
	}
	if err := h.acquire(ctx); err != nil {
		cancelAt(h.now(), mine, all) // the time of the refusal: after a wait, other logins may have taken tokens meanwhile
		return nil, err
	}
	return h.release, nil
}

// cancelAt gives back the reservations that were made (nil ones were not).
func cancelAt(now time.Time, rs ...*rate.Reservation) {
	for _, r := range rs {
		if r != nil {
			r.CancelAt(now)
		}
	}
}

// Full reports whether a caller would be refused at once: every slot busy and the queue full, or the
// rate used up. The HTTP layer asks it to refuse a password mutation before executing anything.
func (h *Hasher) Full() bool {
	return len(h.slots) == cap(h.slots) && len(h.queue) == cap(h.queue) || h.rate != nil && h.rate.TokensAt(h.now()) < 1
}

// FullFor is Full for the client address of ctx: also when that address has used up its share.
func (h *Hasher) FullFor(ctx context.Context) bool {
	return h.Full() || h.clients.over(reqctx.From(ctx).IP, h.now())
}

// Refuse counts a refusal for want of a slot and returns its TOO_MANY_REQUESTS error, carrying the
// Retry-After estimate.
func (h *Hasher) Refuse() error {
	if h.rate != nil && h.rate.TokensAt(h.now()) < 1 {
		return h.refuseRate()
	}
	h.metrics.HashRejected()
	return &RetryError{Err: apperr.ErrTooMany, After: h.RetryAfter()}
}

// RefuseFor is Refuse for the client address of ctx: a client over its share is told when its next
// verification is allowed.
func (h *Hasher) RefuseFor(ctx context.Context) error {
	ip, now := reqctx.From(ctx).IP, h.now()
	if h.clients.over(ip, now) {
		return h.refuseClient(ip, now)
	}
	return h.Refuse()
}

// refuseClient is the refusal of a client address over its share. As for the overall rate
// (refuseRate), every refused caller behind that address coming back at its next turn would only be
// refused again, so Retry-After is drawn evenly from [next turn, next turn + the address's refusals
// in the last second ÷ its share], at least 1 s and at most 30 s.
func (h *Hasher) refuseClient(ip string, now time.Time) error {
	h.metrics.HashRejected()
	next, refusals := h.clients.refuse(ip, now)
	wait := next + time.Duration(mrand.Float64()*float64(refusals)/float64(h.clients.buckets.every)*float64(time.Second))
	return &RetryError{Err: apperr.ErrTooMany, After: min(max(wait, minRetryAfter), maxRetryAfter)}
}

// clientRates holds each client address's share of the verification rate, with its recent
// refusals (to spread its Retry-After).
type clientRates struct {
	mu      sync.Mutex
	buckets addrBuckets[*demandCounter]
}

// reserve takes ip's next verification (nil when there is no per-client share or no address).
func (c *clientRates) reserve(ip string, now time.Time) *rate.Reservation {
	if c == nil || ip == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets.get(ip, now)
	if b.extra == nil {
		b.extra = &demandCounter{}
	}
	return b.ReserveN(now, 1)
}

// over reports whether ip has no verification left in its share now.
func (c *clientRates) over(ip string, now time.Time) bool {
	if c == nil || ip == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets.lookup(ip)
	return b != nil && b.TokensAt(now) < 1
}

// refuse counts a refusal of ip and returns how long until its bucket holds a verification, and its
// refusals of the last one to two seconds, this one included.
func (c *clientRates) refuse(ip string, now time.Time) (next time.Duration, refusals int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets.lookup(ip)
	if b == nil || b.extra == nil {
		return 0, 1
	}
	return time.Duration((1 - b.TokensAt(now)) / float64(c.buckets.every) * float64(time.Second)), b.extra.add(now)
}

// refuseRate is the refusal when the verification rate is used up. Every refused client coming back
// when the next verification is allowed would only be refused again, so the answer spreads them over
// the time the rate needs to serve the recent demand: Retry-After is drawn evenly from [next, next +
// refusals in the last second ÷ rate], at least 1 s (the header's unit) and at most 30 s.
func (h *Hasher) refuseRate() error {
	h.metrics.HashRejected()
	limit := float64(h.rate.Limit())
	now := h.now()
	next := (1 - h.rate.TokensAt(now)) / limit
	spread := float64(h.demand.add(now)) / limit
	wait := time.Duration((next + mrand.Float64()*spread) * float64(time.Second))
	return &RetryError{Err: apperr.ErrTooMany, After: min(max(wait, minRetryAfter), maxRetryAfter)}
}

// demandCounter counts events in the current and the previous second.
type demandCounter struct {
	mu        sync.Mutex
	sec       int64
	cur, prev int
}

// add counts one event at now and returns the events of the last one to two seconds, this one included.
func (d *demandCounter) add(now time.Time) int {
	s := now.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case s == d.sec:
	case s == d.sec+1:
		d.prev, d.cur = d.cur, 0
	default:
		d.prev, d.cur = 0, 0
	}
	d.sec = s
	d.cur++
	return d.cur + d.prev
}

// RetryAfter estimates when a refused caller should come back: the time the hashes in progress and
// waiting take to drain through the slots at the recent hash duration, spread by up to +50 % so that
// refused clients do not return in one wave, between 1 s and 30 s.
func (h *Hasher) RetryAfter() time.Duration {
	backlog := int64(len(h.slots) + len(h.queue) + 1)
	est := time.Duration(backlog * h.avgHash.Load() / int64(cap(h.slots)))
	est += time.Duration(mrand.Int64N(int64(est)/2 + 1))
	return min(max(est, minRetryAfter), maxRetryAfter)
}

// RetryError is a refusal that tells when to try again (the HTTP layer's Retry-After).
type RetryError struct {
	Err   *apperr.Error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfterOf returns the Retry-After a refusal in err's chain carries.
func RetryAfterOf(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) {
		return re.After, true
	}
	return 0, false
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
		return h.Refuse()
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
		return h.Refuse()
	case <-ctx.Done():
		return h.Refuse()
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
	return h.hashHeld(ctx, password)
}

// hashHeld is Hash for a caller already holding a slot. New hashes (an account created, a password
// changed, a weak hash upgraded) are rare and asked for by someone signed in, so they are computed in
// process, at normal priority, never waiting for spare CPU (demo seeding hashes inside a lock);
// verifications, which a storm of anonymous logins drives, go to the deriver.
func (h *Hasher) hashHeld(ctx context.Context, password string) (string, error) {
	enc := h.hashWith(ctx, InProcess{}, password)
	if enc == "" {
		return "", fmt.Errorf("hash password: %w", ctx.Err())
	}
	return enc, nil
}

// hashWith hashes with d; "" when ctx ended first.
func (h *Hasher) hashWith(ctx context.Context, d KeyDeriver, password string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key, err := d.DeriveKey(ctx, []byte(password), salt, h.params, 32)
	if err != nil {
		return ""
	}
	return encode(h.params, salt, key)
}

// DeriveKey lets the Hasher be its own KeyDeriver: its deriver, timed for Retry-After.
func (h *Hasher) DeriveKey(ctx context.Context, password, salt []byte, p Argon2Params, keyLen uint32) ([]byte, error) {
	t0 := time.Now()
	key, err := h.deriver.DeriveKey(ctx, password, salt, p, keyLen)
	if err == nil {
		// An exponential moving average over about eight hashes.
		d := int64(time.Since(t0))
		for {
			old := h.avgHash.Load()
			if h.avgHash.CompareAndSwap(old, old+(d-old)/8) {
				break
			}
		}
	}
	return key, err
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
	return h.verifyHeld(ctx, encoded, password)
}

// verifyHeld is Verify for a caller already holding a slot. It fails only when ctx ends first.
func (h *Hasher) verifyHeld(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if h.OnHash != nil {
		h.OnHash(ctx)
	}
	if encoded == "" {
		_, _, err := verify(ctx, h, h.dummy, password)
		return false, false, err
	}
	h.verified.Add(1)
	ok, p, err := verify(ctx, h, encoded, password)
	return ok, ok && (p.Memory < h.params.Memory || p.Time < h.params.Time || p.Threads < h.params.Threads), err
}

func verify(ctx context.Context, d KeyDeriver, encoded, password string) (bool, Argon2Params, error) {
	parts := strings.Split(encoded, "$")
	var p Argon2Params
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, p, nil
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return false, p, nil
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || p.Memory == 0 || p.Time == 0 || p.Threads == 0 || len(key) > maxKeyLen || len(salt) > maxSaltLen {
		return false, p, nil
	}
	got, err := d.DeriveKey(ctx, []byte(password), salt, p, uint32(len(key)))
	if err != nil {
		return false, p, fmt.Errorf("verify password: %w", err)
	}
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// HashWith hashes with explicit parameters (tests use it to plant a weaker hash).
func HashWith(p Argon2Params, password string) string {
	h := &Hasher{params: p}
	return h.hashWith(context.Background(), InProcess{}, password)
}
