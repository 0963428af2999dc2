package security

import (
	"time"

	"golang.org/x/time/rate"
)

// maxAddresses bounds an address table before its full buckets are swept.
const maxAddresses = 10000

// addrBuckets is a token bucket per client address (golang.org/x/time/rate), each refilled at every
// and holding burst tokens. Full buckets are forgotten when the table reaches maxAddresses, so
// memory stays bounded by the addresses active right now. The IP limiter (failures) and the hasher's
// per-client share (verifications) both keep one; the caller holds its own lock.
type addrBuckets[T any] struct {
	every rate.Limit
	burst int
	m     map[string]*addrBucket[T]
}

// addrBucket is one address's bucket and whatever else its owner keeps about it.
type addrBucket[T any] struct {
	*rate.Limiter
	extra T
}

func newAddrBuckets[T any](every rate.Limit, burst int) addrBuckets[T] {
	return addrBuckets[T]{every: every, burst: burst, m: map[string]*addrBucket[T]{}}
}

// lookup returns ip's bucket, or nil if it has none.
func (t *addrBuckets[T]) lookup(ip string) *addrBucket[T] { return t.m[ip] }

// get returns ip's bucket, making a full one if it has none.
func (t *addrBuckets[T]) get(ip string, now time.Time) *addrBucket[T] {
	b := t.m[ip]
	if b == nil {
		if len(t.m) >= maxAddresses {
			for k, v := range t.m {
				if v.TokensAt(now) >= float64(t.burst) {
					delete(t.m, k)
				}
			}
		}
		b = &addrBucket[T]{Limiter: rate.NewLimiter(t.every, t.burst)}
		t.m[ip] = b
	}
	return b
}
