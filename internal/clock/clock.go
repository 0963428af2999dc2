// Package clock lets time-dependent rules (session expiry, ticket TTLs, throttling) be tested with a
// fake clock instead of sleeps.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Production code uses Real; tests use *Fake.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock, always in UTC so that stored timestamps compare correctly on every dialect.
type Real struct{}

// Now returns the current UTC time.
func (Real) Now() time.Time { return time.Now().UTC() }

// Fake is a manually advanced clock for tests.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock stopped at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t.UTC()} }

// Now returns the fake clock's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
