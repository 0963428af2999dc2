package integrations

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestSignMatchesTheStandardWebhooksVector checks Sign against the example of the Standard Webhooks
// reference libraries.
func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if _, err := Sign("whsec_not base64!", "id", time.Unix(0, 0), nil); err == nil {
		t.Error("a malformed secret signed")
	}
}

func TestRefusedAddresses(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "100.64.0.1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "224.0.0.1": true,
		"93.184.216.34": false, "2606:4700::1111": false, "8.8.8.8": false,
	} {
		if got := refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("refused(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestClientRefusesLoopbackAtDialTime: the dialer's Control hook sees the resolved address, so a name
// that resolves to loopback (as a rebinding DNS answer would) is refused like the literal address.
func TestClientRefusesLoopbackAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := newWebhookClient(5*time.Second, false)
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	for _, u := range []string{srv.URL, "http://localhost:" + strconv.Itoa(int(port))} {
		_, err := c.post(context.Background(), u, "msg_1", time.Now(), []byte(`{}`), []string{"v1,x"})
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("post %s: %v, want ErrRefusedAddress", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the refused server was reached %d times", hits.Load())
	}
	allowed := newWebhookClient(5*time.Second, true)
	if st, err := allowed.post(context.Background(), srv.URL, "msg_1", time.Now(), []byte(`{}`), []string{"v1,x"}); err != nil || st != 200 {
		t.Errorf("allowed post: %d %v", st, err)
	}
}

// TestClientFollowsNoRedirect: a 3xx is a failed attempt; its Location is never requested.
func TestClientFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	c := newWebhookClient(5*time.Second, true)
	st, err := c.post(context.Background(), redirect.URL, "msg_1", time.Now(), []byte(`{}`), []string{"v1,x"})
	if err == nil || st != http.StatusTemporaryRedirect {
		t.Errorf("redirect: status %d, err %v; want a failed attempt with 307", st, err)
	}
	if hits.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// TestBackoffDoublesWithJitterUpToTheCap uses fixed jitter values: the delay is half the doubled base
// plus the jitter's share of the other half, never above MaxBackoff.
func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		jitter float64
		want   []time.Duration
	}{
		{0, []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}},
		{0.5, []time.Duration{22500 * time.Millisecond, 45 * time.Second, 90 * time.Second, 3 * time.Minute, 6 * time.Minute, 7*time.Minute + 30*time.Second, 7*time.Minute + 30*time.Second}},
	} {
		s := &Service{opt: Options{Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute, Jitter: func() float64 { return tc.jitter }}.withDefaults()}
		for i, want := range tc.want {
			if got := s.backoff(i + 1); got != want {
				t.Errorf("jitter %v: backoff(%d) = %s, want %s", tc.jitter, i+1, got, want)
			}
		}
	}
}
