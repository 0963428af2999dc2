package security

import (
	"context"
	"strings"
	"testing"
	"time"

	"behalf/apperr"
)

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h := NewHasher(DefaultArgon2, 2, time.Second)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	for _, tc := range []struct {
		pw     string
		ok     bool
		rehash bool
	}{
		{"correct horse battery staple", true, false},
		{"correct horse battery stapl", false, false},
		{"", false, false},
	} {
		ok, rehash, err := h.Verify(ctx, enc, tc.pw)
		if err != nil || ok != tc.ok || rehash != tc.rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, %v", tc.pw, ok, rehash, err, tc.ok, tc.rehash)
		}
	}
	weak := HashWith(Argon2Params{Memory: 1024, Time: 1, Threads: 1}, "pw")
	if ok, rehash, _ := h.Verify(ctx, weak, "pw"); !ok || !rehash {
		t.Errorf("weak hash: ok=%v rehash=%v, want both true", ok, rehash)
	}
	if ok, _, _ := h.Verify(ctx, "$bcrypt$garbage", "pw"); ok {
		t.Error("garbage hash verified")
	}
	if ok, _, _ := h.Verify(ctx, "", "pw"); ok {
		t.Error("empty hash (unknown login) verified")
	}
}

func TestHasherCapsConcurrentHashes(t *testing.T) {
	t.Parallel()
	h := NewHasher(Argon2Params{Memory: 64, Time: 1, Threads: 1}, 1, 10*time.Millisecond)
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil { // occupy the only slot
		t.Fatal(err)
	}
	_, err := h.Hash(ctx, "x")
	if apperr.CodeOf(err) != apperr.TooManyRequests {
		t.Fatalf("Hash with no free slot: %v, want TOO_MANY_REQUESTS", err)
	}
	if _, _, err := h.Verify(ctx, "", "x"); apperr.CodeOf(err) != apperr.TooManyRequests {
		t.Fatalf("Verify with no free slot: %v, want TOO_MANY_REQUESTS", err)
	}
	h.release()
	if _, err := h.Hash(ctx, "x"); err != nil {
		t.Fatalf("Hash after release: %v", err)
	}
}

func TestThrottleDelay(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: 0, 3: 0, 4: time.Second, 5: 2 * time.Second, 8: 16 * time.Second, 10: maxDelay, 500: maxDelay} {
		if got := throttleDelay(n); got != want {
			t.Errorf("throttleDelay(%d) = %s, want %s", n, got, want)
		}
	}
	// At most ~100 failures an hour can reach an account: count how many fit when each waits its delay.
	var elapsed time.Duration
	n := 0
	for elapsed < time.Hour {
		n++
		elapsed += throttleDelay(n)
	}
	if n > 100 {
		t.Errorf("%d failures fit in an hour, want ≤ 100", n)
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pw   string
		okay bool
	}{
		{"short", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{"Password1234", false}, // common
		{"someone@example.com", false},
		{"someone.login", false},
		{strings.Repeat("x", 257), false},
	} {
		err := ValidatePassword(tc.pw, "someone.login", "someone@example.com")
		if (err == nil) != tc.okay {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tc.pw, err, tc.okay)
		}
		if err != nil && apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("ValidatePassword(%q) code %s", tc.pw, apperr.CodeOf(err))
		}
	}
}
